"""The job queue: Huey, on a SQLite file by default (one machine, nothing else installed)
or on Redis (REDIS_URL: several worker machines), with the same task code.

The app factory calls init_app, which builds the queue from the settings and registers the
task; web processes only enqueue, `flask --app wsgi worker` consumes (cli.py). Why Huey:
docs/architecture.md.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from lti_tool.models import Video

log = logging.getLogger(__name__)

EXTENSION = "processing_queue"
QUEUE_NAME = "lti-tool-processing"
PROCESS_TASK = "process_video"
RETRY_BACKOFF = 2  # each retry waits twice as long as the one before


class QueueKind(StrEnum):
    """Where the queue keeps its jobs (PROCESSING_QUEUE)."""

    SQLITE = "sqlite"
    REDIS = "redis"
    IMMEDIATE = "immediate"  # run in the enqueuing process at once (tests, debugging)


@dataclass(frozen=True)
class ProcessingQueue:
    """The app's Huey instance and its registered processing task."""

    huey: Huey
    process: TaskWrapper


def queue_kind(config) -> QueueKind:
    """Read PROCESSING_QUEUE: Redis when REDIS_URL is set, else the SQLite file."""
    value = config.get("PROCESSING_QUEUE") or (
        QueueKind.REDIS if config.get("REDIS_URL") else QueueKind.SQLITE)
    try:
        return QueueKind(value)
    except ValueError:
        raise ValueError(f"PROCESSING_QUEUE must be one of "
                         f"{', '.join(k.value for k in QueueKind)}, not {value!r}") from None


def build_huey(config) -> Huey:
    """Make the Huey instance the settings ask for."""
    kind = queue_kind(config)
    if kind is QueueKind.IMMEDIATE:
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False)
    if kind is QueueKind.REDIS:
        return RedisHuey(QUEUE_NAME, url=config["REDIS_URL"], results=False)
    return SqliteHuey(QUEUE_NAME, filename=config["PROCESSING_QUEUE_FILE"], results=False)


def init_app(app: Flask) -> None:
    """Build the queue and register the processing task, which runs in an app context."""
    from lti_tool.processing import pipeline
    huey = build_huey(app.config)

    def process_video(video_id: int) -> None:
        with app.app_context():
            outcome = pipeline.process(video_id)
        log.info("processing job for video %s: %s", video_id, outcome)

    task = huey.task(retries=int(app.config["PROCESSING_MAX_TRIES"]),
                     retry_delay=int(app.config["PROCESSING_RETRY_DELAY_SECONDS"]),
                     retry_backoff=RETRY_BACKOFF, name=PROCESS_TASK)(process_video)
    app.extensions[EXTENSION] = ProcessingQueue(huey, task)


def queue() -> ProcessingQueue:
    """Return the current app's processing queue."""
    return current_app.extensions[EXTENSION]


def enqueue(video_id: int) -> None:
    """Put a processing job for this video on the queue (the caller has committed)."""
    queue().process(video_id)


def on_video_uploaded(video: Video) -> None:
    """Signal receiver: every byte of an attempt arrived, so process it."""
    enqueue(video.id)
