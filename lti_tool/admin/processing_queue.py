"""The dashboard's processing queue for one platform: videos waiting for a worker, videos a
worker is converting now, and processing that failed (with what the student was told).

Read from the videos themselves, not from the queue library: the video rows say which
platform, course and student each job is for, and a worker's lease says it is running.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_

from lti_tool.admin.metrics import (WINDOW_DAYS, platform_videos, videos_in_context,
                                    window_start)
from lti_tool.extensions import db
from lti_tool.models import Assignment, Course, User, Video, utcnow
from lti_tool.processing import messages
from lti_tool.statuses import VideoStatus
from lti_tool.storage.base import Capability
from lti_tool.storage.jobs import backends_with

LISTED = 20  # rows of each list; the counts cover all


@dataclass(frozen=True)
class QueueRow:
    """One video in the queue, with its course, assignment and student."""

    video: Video
    assignment: Assignment
    course: Course
    student: User

    @property
    def since(self) -> datetime:
        return self.video.uploaded_at or self.video.created_at

    @property
    def running(self) -> bool:
        """Tell whether a worker holds the video's lease (it is converting it now)."""
        lease = self.video.processing_lease_until
        return lease is not None and lease >= utcnow()

    @property
    def retryable(self) -> bool:
        return self.video.error_code in messages.RETRYABLE


@dataclass(frozen=True)
class ProcessingQueue:
    """Counts and the newest rows of each state."""

    waiting: int
    running: int
    failed: int
    active: list[QueueRow]  # waiting and running, oldest first
    failures: list[QueueRow]  # newest first
    window: int = WINDOW_DAYS


def _running(now: datetime):
    return Video.processing_lease_until >= now


def _processing_failed(days: int):
    """An attempt processing worked on (claimed at least once) that ended in error."""
    return and_(Video.status == VideoStatus.ERROR, Video.processing_tries > 0,
                Video.created_at >= window_start(days))


def _rows(platform_id: int, condition, order) -> list[QueueRow]:
    rows = db.session.execute(
        videos_in_context(platform_id)
        .where(condition).order_by(*order).limit(LISTED)).all()
    return [QueueRow(*row) for row in rows]


def processing_queue(platform_id: int, days: int = WINDOW_DAYS) -> ProcessingQueue:
    """Return the platform's processing queue: waiting, running, failed in the window."""
    now = utcnow()
    # A provider that processes videos itself (Stream) is no job of our workers.
    processing = and_(Video.status == VideoStatus.PROCESSING,
                      Video.backend.in_(list(backends_with(Capability.PROCESSING))))
    running = and_(processing, _running(now))
    waiting = and_(processing, or_(Video.processing_lease_until.is_(None),
                                   Video.processing_lease_until < now))
    failed = _processing_failed(days)
    counts = db.session.execute(platform_videos(
        platform_id,
        func.sum(case((waiting, 1), else_=0)), func.sum(case((running, 1), else_=0)),
        func.sum(case((failed, 1), else_=0)))
        # Only these two states count: the (platform, status) index reads just them.
        .where(Video.status.in_([VideoStatus.PROCESSING, VideoStatus.ERROR]))).one()
    since = func.coalesce(Video.uploaded_at, Video.created_at)
    return ProcessingQueue(
        waiting=int(counts[0] or 0), running=int(counts[1] or 0), failed=int(counts[2] or 0),
        active=_rows(platform_id, processing, (since, Video.id)),
        failures=_rows(platform_id, failed, (since.desc(), Video.id.desc())), window=days)
