"""An administrator tries a failed processing job again (audited): the attempt goes back to
processing with its tries counted from zero, and a job is queued for it.

Only failures of the work (messages.RETRYABLE) may be retried, only on the student's
newest attempt (a retried older attempt would replace a video the student uploaded since),
and only while the submission is open (once graded or locked, a late attempt is not added).
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import Conflict
from lti_tool.extensions import db
from lti_tool.models import User, Video
from lti_tool.processing import messages
from lti_tool.processing.queue import enqueue
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability
from lti_tool.uploads.rules import closed_reason

log = logging.getLogger(__name__)

NOT_RETRYABLE = "not_retryable"
NEWER_ATTEMPT = "newer_attempt"
SUBMISSION_CLOSED = "submission_closed"


def retry_refusal(video: Video) -> Conflict | None:
    """Say why this video's processing may not be tried again, or None when it may."""
    if video.status != VideoStatus.ERROR or video.error_code not in messages.RETRYABLE:
        return Conflict("Only a conversion that failed or ran out of time or tries can be "
                        "tried again; a file the checks refused would be refused again.",
                        code=NOT_RETRYABLE)
    if (not video.storage_uid
            or not storage_for(video.backend).supports(Capability.PROCESSING)):
        return Conflict("This video's original is not stored where the tool processes "
                        "videos, so there is nothing to process again.", code=NOT_RETRYABLE)
    newer = db.session.scalar(
        select(func.count(Video.id)).where(Video.submission_id == video.submission_id,
                                           Video.attempt > video.attempt,
                                           Video.status != VideoStatus.DELETED))
    if newer:
        return Conflict("The student has uploaded a newer attempt since; that one counts.",
                        code=NEWER_ATTEMPT)
    submission = video.submission
    # As for any attempt that finishes late: once graded or locked, it would not be added.
    if closed_reason(submission.assignment, submission, started_at=video.created_at):
        return Conflict("This submission was graded or closed since this video failed, so "
                        "a processed copy would not be added to it.", code=SUBMISSION_CLOSED)
    return None


def retry_processing(video: Video, actor: User) -> None:
    """Put a failed processing job back on the queue (audited, committed)."""
    refusal = retry_refusal(video)
    if refusal is not None:
        raise refusal
    previous = video.error_code
    video.status = VideoStatus.PROCESSING
    video.error_code = video.error_message = None
    video.processing_tries = 0
    video.processing_percent = video.processing_eta_seconds = None
    video.processing_lease_until = None
    course = video.submission.assignment.course
    audit.record(EventType.PROCESSING_RETRIED, actor=actor, platform_id=course.platform_id,
                 course_id=course.id, target=video, error_code=previous)
    db.session.commit()
    log.info("video %s: processing retried by user %s after %s", video.id, actor.id, previous)
    enqueue(video.id)
