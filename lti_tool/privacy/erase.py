"""Erase a user's data: their videos from storage, their submissions, grades, comments
received, launches, enrollments and profile; their own comments on others' work and
their audit entries lose the link to them (and the address they came from).

One audit entry `user_data_deleted` stays, with counts and the platform id only: no name,
no LMS user id. Videos under legal hold stop the erasure before anything changes.
"""
from __future__ import annotations

import logging

from sqlalchemy import delete, func, select, update

from lti_tool import audit
from lti_tool.errors import Conflict
from lti_tool.extensions import db
from lti_tool.lti.launch_store import launch_data_keys
from lti_tool.models import (AuditEvent, Comment, Enrollment, KeyValue, LaunchRecord,
                             ScoreOutbox, Submission, Upload, User, Video)
from lti_tool.statuses import VideoStatus
from lti_tool.uploads.attempts import delete_video

log = logging.getLogger(__name__)

REASON = "privacy"


class HeldVideos(Conflict):
    """Some of the user's videos are under legal hold: erasure waits for the hold."""

    code = "legal_hold"


def erase_user(user: User, actor: User | None = None, request_ref: str | None = None) -> dict:
    """Delete everything held about `user`, their stored videos first; return the counts.

    Commits. Raises HeldVideos (nothing changed) when a video is under legal hold, and the
    storage's StorageError when a video cannot be deleted from storage: the videos deleted
    so far stay deleted (committed) and running the erasure again finishes the work.
    """
    # Someone erasing their own data is not named in the entry that stays.
    recorded_actor = actor if actor is not None and actor.id != user.id else None
    submissions = db.session.scalars(select(Submission).filter_by(user_id=user.id)).all()
    submission_ids = [s.id for s in submissions]
    videos = [v for s in submissions for v in s.videos]
    held = sum(1 for v in videos if v.legal_hold)
    if held:
        raise HeldVideos(f"{held} of this user's videos are under legal hold; lift the hold "
                         f"before erasing the user's data.")
    deleted_videos = 0
    for video in videos:
        if video.status != VideoStatus.DELETED or video.deleted_at is None:
            delete_video(video, reason=REASON, actor=recorded_actor)
            db.session.commit()  # each deletion from storage is recorded at once
            deleted_videos += 1
    platform_id = user.platform_id
    counts = {"videos_deleted_from_storage": deleted_videos,
              "submissions": len(submission_ids),
              "comments_written_unlinked": db.session.scalar(
                  select(func.count(Comment.id)).where(Comment.author_id == user.id))}
    if submission_ids:
        db.session.execute(delete(ScoreOutbox).where(
            ScoreOutbox.submission_id.in_(submission_ids)))
        db.session.execute(delete(Comment).where(Comment.submission_id.in_(submission_ids)))
        db.session.execute(update(Submission).where(Submission.id.in_(submission_ids))
                           .values(current_video_id=None))
        db.session.execute(delete(Upload).where(Upload.video_id.in_(
            select(Video.id).where(Video.submission_id.in_(submission_ids)))))
        db.session.execute(delete(Video).where(Video.submission_id.in_(submission_ids)))
        db.session.execute(delete(Submission).where(Submission.id.in_(submission_ids)))
    db.session.execute(delete(Upload).where(Upload.user_id == user.id))
    db.session.execute(update(Comment).where(Comment.author_id == user.id)
                       .values(author_id=None))
    db.session.execute(update(Submission).where(Submission.graded_by_id == user.id)
                       .values(graded_by_id=None))
    # pylti1p3 keeps each launch's claims under the launch id until they expire.
    launch_ids = db.session.scalars(select(LaunchRecord.id).where(
        LaunchRecord.user_id == user.id)).all()
    for start in range(0, len(launch_ids), 500):
        db.session.execute(delete(KeyValue).where(KeyValue.key.in_(
            launch_data_keys(launch_ids[start:start + 500]))))
    db.session.execute(delete(LaunchRecord).where(LaunchRecord.user_id == user.id))
    db.session.execute(delete(Enrollment).where(Enrollment.user_id == user.id))
    db.session.execute(update(AuditEvent).where(AuditEvent.actor_id == user.id)
                       .values(actor_id=None, ip=None))
    db.session.execute(delete(User).where(User.id == user.id))
    db.session.expire_all()
    data = dict(counts, request=request_ref) if request_ref else counts
    audit.record(audit.EventType.USER_DATA_DELETED, actor=recorded_actor,
                 platform_id=platform_id, **data)
    db.session.commit()
    log.info("user data erased on platform %s: %s", platform_id, counts)
    return counts
