"""Scheduled jobs: plain functions, safe to run twice; scheduling lives only in init_app."""
from __future__ import annotations

import logging

from flask import Flask

log = logging.getLogger(__name__)

# (module:function, seconds between runs); each function takes the app.
JOBS: list[tuple[str, int]] = []


def run_job(app: Flask, target: str) -> None:
    """Run one job inside an app context, logging rather than raising its failure."""
    from importlib import import_module
    module_name, func_name = target.split(":")
    with app.app_context():
        try:
            getattr(import_module(module_name), func_name)()
        except Exception:  # a failed run must not kill the scheduler
            log.exception("job %s failed", target)


def init_app(app: Flask) -> None:
    """Start the background scheduler when enabled (not in tests, not in CLI commands)."""
    if not app.config.get("SCHEDULER_ENABLED") or not JOBS:
        return
    import os
    import sys
    if "flask" in os.path.basename(sys.argv[0]) and "run" not in sys.argv:
        return  # a CLI command such as `db upgrade`
    from apscheduler.schedulers.background import BackgroundScheduler
    scheduler = BackgroundScheduler(timezone="UTC")
    for target, seconds in JOBS:
        scheduler.add_job(run_job, "interval", seconds=seconds, args=[app, target],
                          id=target, max_instances=1, coalesce=True)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
