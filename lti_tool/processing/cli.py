"""`flask --app wsgi worker`: consume the processing queue (lti_tool.processing.queue)."""
from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.processing import workdirs
from lti_tool.processing.jobs import requeue_stalled
from lti_tool.processing.pipeline import stale_work_seconds, work_root
from lti_tool.processing.queue import QueueKind, queue, queue_kind

log = logging.getLogger(__name__)


@click.command("worker")
@click.option("--workers", type=int, default=None,
              help="Jobs at once (default PROCESSING_WORKERS). ffmpeg uses several cores "
                   "per job.")
@with_appcontext
def worker_command(workers: int | None) -> None:
    """Process uploaded videos from the queue until stopped (SIGINT or SIGTERM)."""
    if queue_kind(current_app.config) is QueueKind.IMMEDIATE:
        raise click.UsageError("PROCESSING_QUEUE=immediate runs jobs inside the web "
                               "requests; there is no queue to consume.")
    count = workers or int(current_app.config["PROCESSING_WORKERS"])
    try:
        requeue_stalled()  # what a killed worker left, at once rather than at the next sweep
    except SQLAlchemyError as exc:
        raise click.ClickException(f"The database is not ready ({type(exc).__name__}); run "
                                   f"`flask --app wsgi db upgrade` first.") from None
    workdirs.sweep_stale(work_root(), stale_work_seconds())  # what dead workers left here
    log.info("processing worker: %d at once on the %s queue", count,
             queue_kind(current_app.config).value)
    # Thread workers: the work runs in ffmpeg processes, so threads only wait on them.
    consumer = queue().huey.create_consumer(workers=count, worker_type="thread",
                                            periodic=False)
    consumer.run()
