"""Scheduled jobs: plain functions, safe to run twice; scheduling lives only in init_app.

Every replica of a cluster runs a scheduler, but each run first takes a lease on the job
in the database (one atomic UPDATE), so a job runs on one replica at a time.

Under gunicorn the scheduler starts in each worker after the fork, never in the master
(gunicorn.conf.py calls `start_in_worker`), so `--preload` is safe.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from importlib import import_module

from flask import Flask
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from lti_tool.extensions import db
from lti_tool.models import JobLock, utcnow

log = logging.getLogger(__name__)

# (module:function, seconds between runs); each function takes no arguments and runs
# inside an app context.
JOBS: list[tuple[str, int]] = [
    ("lti_tool.storage.jobs:expire_unfinished_uploads", 3600),
    ("lti_tool.storage.jobs:poll_stuck_videos", 300),
    ("lti_tool.processing.jobs:requeue_stalled", 120),
    ("lti_tool.grading.outbox:deliver_scores", 30),
    # What unauthenticated requests write (login state, rate counters) goes soon.
    ("lti_tool.lti.launch_store:purge_expired", 600),
    ("lti_tool.web.rate_limits:purge_expired_counters", 600),
]

_OWNER_TAG = uuid.uuid4().hex[:6]


def lease_owner() -> str:
    """Name this process as a lease holder (host and pid, taken now: workers fork)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_OWNER_TAG}"


def acquire_lease(name: str, seconds: int, owner: str | None = None) -> bool:
    """Take the job's lease for `seconds` unless another live owner holds it."""
    owner = owner or lease_owner()
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


def release_lease(name: str, error: str | None = None, owner: str | None = None) -> None:
    """Give the lease back and note how the run went."""
    owner = owner or lease_owner()
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


# Apps built in a gunicorn process whose scheduler waits for the worker (see init_app).
_WAITING: list[Flask] = []
_WAITING_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Start the background scheduler when enabled (not in tests, not in CLI commands).

    In a gunicorn process the app may be loaded in the master (`--preload`) and forked:
    a scheduler thread does not survive a fork and the master must not run jobs, so the
    start waits for `start_in_worker` (gunicorn.conf.py, or the worker's first request).
    """
    if not app.config.get("SCHEDULER_ENABLED") or not JOBS:
        return
    import sys
    if os.path.basename(sys.argv[0]) == "flask" and "run" not in sys.argv:
        return  # a CLI command such as `db upgrade`
    from lti_tool.runtime import in_server_worker
    if not in_server_worker():
        start_scheduler(app)
        return
    with _WAITING_LOCK:
        _WAITING.append(app)
    app.before_request(start_in_worker)  # in case gunicorn runs without gunicorn.conf.py


def start_in_worker() -> None:
    """In a freshly forked worker: drop the database connections inherited from the
    master and start the schedulers of the apps loaded so far (once)."""
    if not _WAITING:
        return
    with _WAITING_LOCK:
        apps = _WAITING[:]
        _WAITING.clear()
    for app in apps:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)  # the master's sockets stay the master's
        start_scheduler(app)


def start_scheduler(app: Flask) -> None:
    """Schedule every job of JOBS for `app` on a background thread of this process."""
    from apscheduler.schedulers.background import BackgroundScheduler
    scheduler = BackgroundScheduler(timezone="UTC")
    for target, seconds in JOBS:
        scheduler.add_job(run_job, "interval", seconds=seconds, args=[app, target],
                          id=target, name=target, max_instances=1, coalesce=True)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    log.info("job scheduler started in process %d", os.getpid())
