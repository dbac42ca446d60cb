"""Keeping the stored videos in order over a term: retention, orphans, usage reports.

Each is a job (lti_tool/jobs.py): a plain function returning counts, safe to run twice.
"""

# The longest retention period, in days, the site or an assignment may set (0: for ever).
MAX_RETENTION_DAYS = 3650
# The custom parameter of a link (set by deep linking) that gives its assignment its own
# retention period (Assignment.retention_days).
CUSTOM_RETENTION_DAYS = "retention_days"
