"""Scheduled jobs: plain functions, safe to run twice; scheduling lives only in init_app.

Every replica of a cluster runs a scheduler, but each run first takes a lease on the job
in the database (one atomic UPDATE), so a job runs on one replica at a time.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from importlib import import_module

from flask import Flask
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import JobLock, utcnow

log = logging.getLogger(__name__)

# (module:function, seconds between runs); each function takes no arguments and runs
# inside an app context.
JOBS: list[tuple[str, int]] = [
    ("lti_tool.tus.service:remove_expired_uploads", 3600),
    ("lti_tool.storage_jobs:poll_stuck_videos", 300),
    ("lti_tool.storage_jobs:abort_stale_multipart_uploads", 3600),
    ("lti_tool.outbox:deliver_scores", 30),
    ("lti_tool.lti.launch_store:purge_expired", 3600),
]

OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def acquire_lease(name: str, seconds: int, owner: str = OWNER) -> bool:
    """Take the job's lease for `seconds` unless another live owner holds it."""
    now = utcnow()
    if db.session.get(JobLock, name) is None:
        try:
            db.session.add(JobLock(name=name, owner=None, locked_until=now))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
    result = db.session.execute(
        update(JobLock)
        .where(JobLock.name == name,
               or_(JobLock.locked_until <= now, JobLock.owner == owner))
        .values(owner=owner, locked_until=now + timedelta(seconds=seconds)))
    db.session.commit()
    return result.rowcount == 1


def release_lease(name: str, error: str | None = None, owner: str = OWNER) -> None:
    """Give the lease back and note how the run went."""
    db.session.execute(
        update(JobLock).where(JobLock.name == name, JobLock.owner == owner)
        .values(owner=None, locked_until=utcnow(), last_run_at=utcnow(), last_error=error))
    db.session.commit()


def run_job(app: Flask, target: str, lease_seconds: int = 300) -> bool:
    """Run one job in an app context if this replica gets its lease; never raise."""
    module_name, func_name = target.split(":")
    with app.app_context():
        if not acquire_lease(target, lease_seconds):
            return False
        error = None
        try:
            getattr(import_module(module_name), func_name)()
        except Exception as exc:  # a failed run must not kill the scheduler
            db.session.rollback()
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.exception("job %s failed", target)
        release_lease(target, error)
        return error is None


def init_app(app: Flask) -> None:
    """Start the background scheduler when enabled (not in tests, not in CLI commands)."""
    if not app.config.get("SCHEDULER_ENABLED") or not JOBS:
        return
    import sys
    if os.path.basename(sys.argv[0]) == "flask" and "run" not in sys.argv:
        return  # a CLI command such as `db upgrade`
    from apscheduler.schedulers.background import BackgroundScheduler
    scheduler = BackgroundScheduler(timezone="UTC")
    for target, seconds in JOBS:
        scheduler.add_job(run_job, "interval", seconds=seconds, args=[app, target],
                          id=target, name=target, max_instances=1, coalesce=True)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
