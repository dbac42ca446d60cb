"""What an administrator does to one video: delete it (from storage too) and put it on or
take it off legal hold. Each is audited; none touches `request`."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import Conflict
from lti_tool.extensions import db
from lti_tool.models import Comment, User, Video
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability, StorageError
from lti_tool.uploads import attempts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loss:
    """What deleting a video loses, said on the confirmation page."""

    video: Video
    comments: int
    captions: list[str]
    is_current: bool
    graded: bool


def deletion_loss(video: Video) -> Loss:
    """Return what would be lost with the video (its comments, captions, the graded copy)."""
    comments = db.session.scalar(db.select(db.func.count(Comment.id)).where(
        Comment.video_id == video.id)) or 0
    captions: list[str] = []
    backend = storage_for(video.backend)
    if video.storage_uid and backend.supports(Capability.CAPTIONS):
        try:
            captions = [c["language"] for c in backend.list_captions(video.storage_uid)]
        except StorageError as exc:  # the page still says what it can
            log.warning("captions of video %s could not be listed: %s", video.id, exc.message)
    submission = video.submission
    return Loss(video, comments, captions, submission.current_video_id == video.id,
                submission.score_given is not None)


REASON = "admin"  # why the video was deleted, in its audit entry


def delete_video(video: Video, actor: User) -> None:
    """Delete the video from storage and mark it deleted (audited); the caller commits.

    Refused for a video under legal hold. When the storage refuses, nothing is marked: the
    admin sees the storage's reason and may try again.
    """
    if video.status == VideoStatus.DELETED:
        raise Conflict("This video is already deleted.", code="already_deleted")
    attempts.delete_video(video, reason=REASON, actor=actor)


def set_legal_hold(video: Video, actor: User, held: bool) -> bool:
    """Put the video on legal hold or take it off (audited); return whether it changed."""
    if video.legal_hold == held:
        return False
    video.legal_hold = held
    audit.record(EventType.LEGAL_HOLD_SET if held else EventType.LEGAL_HOLD_LIFTED,
                 actor=actor, target=video, course_id=video.submission.assignment.course_id)
    return True
