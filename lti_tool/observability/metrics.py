"""Prometheus metrics with the official client (prometheus_client), at /metrics.

Counted: requests by route, method and status (and their duration); uploads started,
completed (ready) and failed, the bytes of completed ones, and the bytes the tool's own tus
endpoint received as they arrive; playback grants; grade
deliveries by outcome; job runs by job and result. The page needs METRICS_TOKEN as a
bearer token; without the setting it does not exist (404).

Under gunicorn each worker counts for itself: set PROMETHEUS_MULTIPROC_DIR (an empty
folder, emptied at each start) so /metrics sums every worker's counts
(prometheus_client's multiprocess mode; gunicorn.conf.py marks dead workers).
"""
from __future__ import annotations

import hmac
import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Histogram, generate_latest, multiprocess)

from lti_tool.errors import NotAuthenticated, NotFound

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"

REQUESTS = Counter("lti_http_requests_total", "HTTP requests answered",
                   ["route", "method", "status"])
REQUEST_SECONDS = Histogram("lti_http_request_duration_seconds", "Time to answer a request",
                            ["route"])
UPLOADS_STARTED = Counter("lti_uploads_started_total", "Upload attempts started")
UPLOADS_COMPLETED = Counter("lti_uploads_completed_total", "Uploads that became ready videos")
UPLOADS_FAILED = Counter("lti_uploads_failed_total", "Uploads that failed their checks")
UPLOAD_BYTES = Counter("lti_upload_bytes_total", "Bytes of uploads that became ready videos")
# Both doors into tus PATCH count here and in REQUESTS alike: the Flask view, and the WSGI
# fast path (lti_tool/tus/fast.py), which Flask's request hooks never see.
TUS_RECEIVED_BYTES = Counter("lti_tus_received_bytes_total",
                             "Bytes PATCHed to the tool's tus endpoint (local storage)")
PLAYBACK_GRANTS = Counter("lti_playback_grants_total", "Playback URLs granted to viewers")
PASSBACK = Counter("lti_grade_passback_total", "Grade deliveries to the LMS by outcome",
                   ["outcome"])
JOB_RUNS = Counter("lti_job_runs_total", "Background job runs", ["job", "result"])
JOB_SECONDS = Histogram("lti_job_duration_seconds", "Duration of background job runs",
                        ["job"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600))

PASSBACK_OUTCOMES = ("delivered", "retry", "failed", "superseded")
SCORE_JOB = "deliver_scores"


# ---- what the signals report (connected in the app factory) ----

def on_upload_started(video, **_) -> None:
    UPLOADS_STARTED.inc()


def on_video_ready(video, **_) -> None:
    UPLOADS_COMPLETED.inc()
    UPLOAD_BYTES.inc(video.size_bytes or 0)


def on_video_failed(video, **_) -> None:
    UPLOADS_FAILED.inc()


def on_upload_bytes_received(upload_id, count: int = 0, **_) -> None:
    TUS_RECEIVED_BYTES.inc(max(0, count))


def on_playback_granted(video, **_) -> None:
    PLAYBACK_GRANTS.inc()


def on_job_finished(run, **_) -> None:
    JOB_RUNS.labels(run.name, "ok" if run.ok else "failed").inc()
    JOB_SECONDS.labels(run.name).observe(run.duration_seconds or 0)
    if run.name == SCORE_JOB and run.ok:
        for outcome in PASSBACK_OUTCOMES:
            count = (run.counts or {}).get(outcome) or 0
            if count:
                PASSBACK.labels(outcome).inc(count)


# ---- requests ----

def _started() -> None:
    g.metrics_started = time.perf_counter()


def count_request(rule: str, method: str, status: int, seconds: float | None) -> None:
    """Count one answered request (Flask's hook, and the tus fast path, which bypasses it)."""
    REQUESTS.labels(rule, method, str(status)).inc()
    if seconds is not None:
        REQUEST_SECONDS.labels(rule).observe(seconds)


def _counted(response):
    rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    started = g.pop("metrics_started", None)
    count_request(rule, request.method, response.status_code,
                  None if started is None else time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Count every request and answer at /metrics."""
    app.before_request(_started)
    app.after_request(_counted)
    app.add_url_rule("/metrics", "metrics", metrics_page)


def metrics_page():
    """Serve the metrics in Prometheus's text format to a caller with METRICS_TOKEN."""
    # From the environment only: the page must answer while the database does not.
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        raise NotFound("Not found.")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise NotAuthenticated("The metrics need the METRICS_TOKEN as a bearer token.",
                               headers={"WWW-Authenticate": "Bearer"})
    registry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})
