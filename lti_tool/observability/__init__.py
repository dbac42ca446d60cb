"""Seeing the tool run: a health check for load balancers, Prometheus metrics, and logs
with a request id (plain lines, or one JSON object per line with LOG_FORMAT=json)."""
