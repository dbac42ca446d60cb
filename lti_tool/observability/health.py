"""The health check behind /healthz: database, storage, the scheduled jobs' freshness, the
grade queue and the video processing queue.

HTTP 503 when this replica cannot serve (the database or the storage fails), so a load
balancer takes it out; jobs that have not run lately, an old grade queue, an unreachable
processing queue or videos no worker takes make the answer "degraded" but keep 200: any
replica (or cron) may run the jobs, the workers are other processes, and taking every
replica out would not make any of them run.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, func, select, text

from lti_tool.extensions import db
from lti_tool.models import JobLock, ScoreOutbox, Video, utcnow
from lti_tool.processing.queue import QueueKind, queue, queue_kind
from lti_tool.statuses import OutboxStatus, VideoStatus
from lti_tool.storage import current_storage
from lti_tool.storage.base import Capability
from lti_tool.storage.jobs import backends_with

# The storage is asked at most this often per process (a cloud provider's API is not
# for load balancers to hammer every few seconds).
STORAGE_CACHE_SECONDS = 30
# The score delivery job runs every 30 s: no run for this long means no scheduler runs it.
FRESH_JOB = "deliver_scores"
STALE_AFTER = timedelta(minutes=5)
# A video waiting this long for processing while workers are busy: they fall behind.
BACKLOG_AFTER = timedelta(hours=1)

_STORAGE_CACHE = "lti_tool.health.storage"  # app.extensions key: (checked at, Check)
_storage_lock = threading.Lock()


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    critical: bool = True


def check_database() -> Check:
    """Run a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
        return Check(True, "reachable")
    except Exception:
        current_app.logger.exception("health check: database unreachable")
        db.session.rollback()
        return Check(False, "The database cannot be reached.")


def check_storage() -> Check:
    """Ask the configured storage backend (cached STORAGE_CACHE_SECONDS per process)."""
    now = time.monotonic()
    with _storage_lock:
        cached = current_app.extensions.get(_STORAGE_CACHE)
        if cached is not None and now - cached[0] < STORAGE_CACHE_SECONDS:
            return cached[1]
    try:
        backend = current_storage()
        health = backend.health()
        result = Check(health.ok, f"{backend.name}: {health.detail}")
    except Exception as exc:  # a backend that cannot even be built is not healthy
        current_app.logger.warning("health check: storage failed: %s", type(exc).__name__)
        result = Check(False, f"The storage backend failed ({type(exc).__name__}).")
    with _storage_lock:
        current_app.extensions[_STORAGE_CACHE] = (now, result)
    return result


def check_scheduler() -> Check:
    """Tell whether the score delivery job ran lately on some replica (or by cron)."""
    lock = db.session.get(JobLock, FRESH_JOB)
    if lock is None or lock.last_run_at is None:
        return Check(False, "The scheduled jobs have not run yet.", critical=False)
    age = utcnow() - lock.last_run_at
    if age > STALE_AFTER:
        return Check(False, f"The scheduled jobs last ran {int(age.total_seconds())} s ago.",
                     critical=False)
    return Check(True, f"last ran {int(age.total_seconds())} s ago", critical=False)


def check_grade_queue() -> Check:
    """Count grades due for delivery and say how long the oldest has waited."""
    now = utcnow()
    due, oldest = db.session.execute(
        select(func.count(ScoreOutbox.id), func.min(ScoreOutbox.next_attempt_at))
        .where(ScoreOutbox.status == OutboxStatus.PENDING,
               ScoreOutbox.next_attempt_at <= now)).one()
    if not due:
        return Check(True, "no grade waiting", critical=False)
    waited = int((now - oldest).total_seconds())
    return Check(waited < STALE_AFTER.total_seconds(),
                 f"{due} grades due, the oldest for {waited} s", critical=False)


def check_processing_queue() -> Check:
    """Ask the processing queue's store for its length, and tell whether a worker takes the
    videos waiting for processing (a live lease on a video is a worker seen working)."""
    kind = queue_kind(current_app.config)
    if kind is QueueKind.IMMEDIATE:
        return Check(True, "immediate: jobs run inside the requests", critical=False)
    try:
        queued = queue().huey.pending_count()
    except Exception as exc:  # Redis down, the SQLite file gone or locked
        current_app.logger.warning("health check: processing queue failed: %s",
                                   type(exc).__name__)
        return Check(False, f"The {kind.value} processing queue cannot be reached "
                            f"({type(exc).__name__}).", critical=False)
    now = utcnow()
    since = func.coalesce(Video.uploaded_at, Video.created_at)
    leased = and_(Video.processing_lease_until.is_not(None),
                  Video.processing_lease_until >= now)
    working, waiting, oldest = db.session.execute(
        select(func.count(Video.id).filter(leased),
               func.count(Video.id).filter(~leased),
               func.min(since).filter(~leased))
        .where(Video.status == VideoStatus.PROCESSING,
               Video.backend.in_(list(backends_with(Capability.PROCESSING))))).one()
    detail = f"{kind.value}: {queued} jobs queued, {working} videos processing"
    if not waiting:
        return Check(True, detail, critical=False)
    waited = int((now - oldest).total_seconds())
    detail += f", {waiting} waiting, the oldest for {waited} s"
    if not working and waited > STALE_AFTER.total_seconds():
        return Check(False, f"{detail}: no worker is taking them (is `flask --app wsgi "
                            f"worker` running?)", critical=False)
    if waited > BACKLOG_AFTER.total_seconds():
        return Check(False, f"{detail}: the workers fall behind", critical=False)
    return Check(True, detail, critical=False)


def health_report() -> tuple[dict, int]:
    """Return the health document and its HTTP status (200, or 503 when a critical check
    fails)."""
    checks = {"database": check_database()}
    if checks["database"].ok:
        checks["scheduler"] = check_scheduler()
        checks["grade_queue"] = check_grade_queue()
        checks["processing_queue"] = check_processing_queue()
    checks["storage"] = check_storage()
    failed_critical = any(not c.ok and c.critical for c in checks.values())
    degraded = any(not c.ok for c in checks.values())
    status = "error" if failed_critical else ("degraded" if degraded else "ok")
    body = {"status": status,
            "checks": {name: {k: v for k, v in asdict(c).items() if k != "critical"}
                       for name, c in checks.items()}}
    if failed_critical and not checks["database"].ok:  # the earlier answer's shape
        body["error"] = {"code": "database_unreachable",
                         "message": "The database cannot be reached."}
    return body, 503 if failed_critical else 200
