"""The health check for load balancers (/healthz)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from lti_tool.observability.health import health_report

bp = Blueprint("observability", __name__)


@bp.get("/healthz")
def healthz():
    """Report the database, storage, jobs and both queues; 503 when this replica cannot serve."""
    body, status = health_report()
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status
