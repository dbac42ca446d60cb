"""Scheduled jobs: plain functions, safe to run twice; scheduling lives only in init_app.

Every replica of a cluster runs a scheduler, but each run first takes a lease on the job
in the database (one atomic UPDATE), so a job runs on one replica at a time. Each run is
recorded as a JobRun (times, the counts the function returns, its error); `flask --app wsgi
jobs run NAME` (jobs_cli.py) runs one the same way, for sites that prefer cron.

Under gunicorn the scheduler starts in each worker after the fork, never in the master
(gunicorn.conf.py calls `start_in_worker`), so `--preload` is safe.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from importlib import import_module
from typing import Any, Callable

from flask import Flask
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from lti_tool import signals
from lti_tool.extensions import db
from lti_tool.models import JobLock, JobRun, utcnow

log = logging.getLogger(__name__)

DAY = 86400


@dataclass(frozen=True)
class Job:
    """A scheduled job: a plain function (`module:function`, no required argument, run in an
    app context) returning a dict of counts, and when it runs.

    Either `every_seconds` (an interval from the process's start) or `cron` (APScheduler
    cron fields, UTC) for daily, weekly and monthly work. `dry_run`: the function takes
    `dry_run=True` and then changes nothing. `keep_days`: how long its JobRun rows are kept
    (None: for ever, e.g. the usage reports). `label`: the job's name for people.
    """

    name: str
    target: str
    every_seconds: int | None = None
    cron: dict[str, Any] | None = None
    lease_seconds: int = 300
    dry_run: bool = False
    keep_days: int | None = 14
    label: str = ""  # how the job reads for people (the dashboard); the name when empty

    def schedule(self) -> str:
        """Say when the job runs, for people."""
        if self.every_seconds:
            return f"every {self.every_seconds} s"
        cron = self.cron or {}
        at = f"{int(cron.get('hour', 0)):02d}:{int(cron.get('minute', 0)):02d} UTC"
        if "day" in cron:
            return f"monthly on day {cron['day']} at {at}"
        if "day_of_week" in cron:
            return f"weekly on {cron['day_of_week']} at {at}"
        return f"daily at {at}"

    def min_gap_seconds(self) -> int:
        """Return how long after a run another scheduled run of a cron job is skipped.

        Every replica's scheduler fires a cron job at the same minute; the lease keeps
        them from overlapping, this keeps the second one from running right after the first.
        """
        if self.every_seconds or not self.cron:
            return 0
        if "day" in self.cron:
            return 14 * DAY
        if "day_of_week" in self.cron:
            return 3 * DAY
        return DAY // 2


JOBS: list[Job] = [
    Job("deliver_scores", "lti_tool.grading.outbox:deliver_scores", every_seconds=30,
        label="Send scores to the LMS"),
    Job("expire_uploads", "lti_tool.storage.jobs:expire_unfinished_uploads",
        every_seconds=3600,
        label="Expire unfinished uploads"),
    Job("poll_videos", "lti_tool.storage.jobs:poll_stuck_videos", every_seconds=300,
        label="Check videos stuck at the storage service"),
    Job("requeue_stalled_videos", "lti_tool.processing.jobs:requeue_stalled",
        every_seconds=120,
        label="Restart stalled processing"),
    # What unauthenticated requests write (login state, rate counters) goes soon.
    Job("purge_launch_state", "lti_tool.lti.launch_store:purge_expired", every_seconds=600,
        label="Remove expired launch state"),
    Job("purge_rate_counters", "lti_tool.web.rate_limits:purge_expired_counters",
        every_seconds=600,
        label="Remove expired rate counters"),
    Job("purge_handoff_links", "lti_tool.handoff.service:purge_expired_links",
        every_seconds=3600,
        label="Remove expired phone links"),
    Job("retention", "lti_tool.housekeeping.retention:apply_retention",
        cron={"hour": 3, "minute": 10}, lease_seconds=6 * 3600, dry_run=True, keep_days=365,
        label="Apply the retention policy"),
    Job("orphans", "lti_tool.housekeeping.orphans:find_orphans",
        cron={"day_of_week": "sun", "hour": 4, "minute": 20}, lease_seconds=3 * 3600,
        keep_days=365,
        label="Find orphaned files"),
    Job("usage_report", "lti_tool.housekeeping.usage:usage_report",
        cron={"day": 1, "hour": 4, "minute": 50}, keep_days=None,
        label="Monthly usage report"),
    Job("purge_job_runs", "lti_tool.jobs:purge_job_runs", cron={"hour": 2, "minute": 40},
        keep_days=365,
        label="Remove old job runs"),
]


def job_label(name: str) -> str:
    """Return a job's name as people read it; an unregistered name as given."""
    job = find_job(name)
    return job.label if job and job.label else name


def find_job(name: str) -> Job | None:
    """Return the registered job called `name` (or whose target is `name`)."""
    return next((job for job in JOBS if name in (job.name, job.target)), None)


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


class LeaseHeld(Exception):
    """Another process holds the job's lease: it is running there now."""


def run_now(job: Job, *, dry_run: bool = False, owner: str | None = None) -> JobRun:
    """Run a job here and now under its lease, record the run, and return the record.

    Inside an app context. Raise LeaseHeld when another process runs it; a failure of the
    job itself is recorded (ok False, the error), logged and not raised.
    """
    if dry_run and not job.dry_run:
        raise ValueError(f"Job {job.name} has no dry run.")
    if not acquire_lease(job.name, job.lease_seconds, owner):
        raise LeaseHeld(job.name)
    run = JobRun(name=job.name, started_at=utcnow(), dry_run=dry_run)
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    counts, error = None, None
    try:
        func = _resolve(job.target)
        counts = _as_counts(func(dry_run=True) if dry_run else func())
    except Exception as exc:  # a failed run must not kill the scheduler
        db.session.rollback()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("job %s failed", job.name)
    run = db.session.get(JobRun, run_id)
    run.finished_at = utcnow()
    run.duration_seconds = round((run.finished_at - run.started_at).total_seconds(), 3)
    run.ok, run.counts, run.error = error is None, counts, error
    db.session.commit()
    release_lease(job.name, error, owner)
    signals.job_finished.send(run)
    return run


def run_job(app: Flask, name: str, lease_seconds: int | None = None,
            scheduled: bool = False) -> bool:
    """Run one job (a registered name, or any `module:function`) in an app context if this
    replica gets its lease; never raise. Return whether it ran and succeeded."""
    job = find_job(name) or Job(name, name, every_seconds=0)
    if lease_seconds is not None:
        job = replace(job, lease_seconds=lease_seconds)
    with app.app_context():
        if scheduled and job.min_gap_seconds() and ran_within(job.name, job.min_gap_seconds()):
            return False
        try:
            return bool(run_now(job).ok)
        except LeaseHeld:
            return False


def ran_within(name: str, seconds: int) -> bool:
    """Tell whether a real (not dry) run of the job started in the last `seconds`."""
    since = utcnow() - timedelta(seconds=seconds)
    return db.session.scalar(select(JobRun.id).where(
        JobRun.name == name, JobRun.dry_run.is_(False), JobRun.started_at > since)
        .limit(1)) is not None


def last_runs() -> dict[str, JobRun]:
    """Return each job's latest run by name (for `jobs list` and the dashboard)."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.name).scalar_subquery()
    return {run.name: run for run in db.session.scalars(
        select(JobRun).where(JobRun.id.in_(newest)))}


def purge_job_runs() -> dict[str, int]:
    """Delete job runs older than their job's keep_days (a job; safe to run twice)."""
    deleted = 0
    for job in JOBS:
        if job.keep_days is None:
            continue
        cutoff = utcnow() - timedelta(days=job.keep_days)
        deleted += db.session.execute(delete(JobRun).where(
            JobRun.name == job.name, JobRun.started_at < cutoff)).rowcount
    db.session.commit()
    return {"deleted": deleted}


def _resolve(target: str) -> Callable[..., Any]:
    module_name, func_name = target.split(":")
    return getattr(import_module(module_name), func_name)


def _as_counts(result: Any) -> dict[str, Any]:
    """Return a job's result as the counts kept on its run (jobs that count one thing
    return a number)."""
    if result is None:
        return {}
    if isinstance(result, dict):
        return result
    return {"count": result}


# Apps built in a gunicorn process whose scheduler waits for the worker (see init_app).
_WAITING: list[Flask] = []
_WAITING_LOCK = threading.Lock()


# The `flask` command's own options that take a value (`flask --app wsgi run`).
_FLASK_OPTIONS_WITH_VALUE = frozenset({"--app", "-A", "--env-file", "-e"})


def flask_command(argv: list[str]) -> str | None:
    """Return the command a `flask` command line runs (`run`, `jobs`, `db`...), or None.

    Only the development server (`flask run`) runs the jobs: `flask jobs run <job>` has a
    `run` too, further on, and must not start a second scheduler beside the server's.
    """
    args = iter(argv[1:])
    for arg in args:
        if arg in _FLASK_OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def init_app(app: Flask) -> None:
    """Start the background scheduler when enabled (not in tests, not in CLI commands).

    In a gunicorn process the app may be loaded in the master (`--preload`) and forked:
    a scheduler thread does not survive a fork and the master must not run jobs, so the
    start waits for `start_in_worker` (gunicorn.conf.py, or the worker's first request).
    """
    if not app.config.get("SCHEDULER_ENABLED") or not JOBS:
        return
    import sys
    if os.path.basename(sys.argv[0]) == "flask" and flask_command(sys.argv) != "run":
        return  # a CLI command such as `db upgrade` or `jobs run usage_report`
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
    for job in JOBS:
        trigger = ({"trigger": "interval", "seconds": job.every_seconds} if job.every_seconds
                   else {"trigger": "cron", **(job.cron or {})})
        scheduler.add_job(run_job, args=[app, job.name], kwargs={"scheduled": True},
                          id=job.name, name=job.name, max_instances=1, coalesce=True,
                          **trigger)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    log.info("job scheduler started in process %d", os.getpid())
