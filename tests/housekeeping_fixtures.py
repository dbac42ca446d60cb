"""Builders for videos held in storage, for the retention, orphans, usage and privacy tests."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from lti_tool.extensions import db
from lti_tool.models import AuditEvent, ScoreOutbox, Submission, Video, utcnow
from lti_tool.statuses import OutboxStatus, VideoStatus
from lti_tool.storage.local.backend import META_FILE, VIDEO_FILE, VIDEOS_DIR
from lti_tool.tus.store import safe_name


def submission_of(assignment, user) -> Submission:
    """Return the user's submission to the assignment, made if needed."""
    submission = db.session.scalar(db.select(Submission).filter_by(
        assignment_id=assignment.id, user_id=user.id))
    if submission is None:
        submission = Submission(assignment_id=assignment.id, user_id=user.id)
        db.session.add(submission)
        db.session.flush()
    return submission


def make_video(assignment, user, *, days_old: float = 0, backend: str = "local",
               storage_uid: str | None = None, status=VideoStatus.READY, size_bytes=1000,
               **kw) -> Video:
    """Add a video of `user` to `assignment`, created `days_old` days ago (committed)."""
    submission = submission_of(assignment, user)
    video = Video(submission_id=submission.id, attempt=len(submission.videos) + 1,
                  backend=backend, status=status, size_bytes=size_bytes,
                  storage_uid=storage_uid or f"uid-{assignment.id}-{user.id}-"
                                             f"{len(submission.videos) + 1}",
                  created_at=utcnow() - timedelta(days=days_old), **kw)
    db.session.add(video)
    db.session.flush()
    submission.current_video_id = video.id
    db.session.commit()
    return video


def put_local_file(app, storage_uid: str, data: bytes = b"video-bytes",
                   days_old: float = 0) -> Path:
    """Write a video where the local backend keeps it (made `days_old` days ago); return
    its folder."""
    folder = Path(app.config["LOCAL_STORAGE_DIR"]) / VIDEOS_DIR / safe_name(storage_uid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VIDEO_FILE).write_bytes(data)
    (folder / META_FILE).write_text(json.dumps({"storage_uid": storage_uid,
                                                "created_at": (utcnow() - timedelta(
                                                    days=days_old)).isoformat()}))
    return folder


def queue_outbox(submission: Submission, status: OutboxStatus, **payload) -> ScoreOutbox:
    """Add a score row in `status` for the submission (committed)."""
    item = ScoreOutbox(submission_id=submission.id, payload=payload or {"scoreGiven": 1},
                       score_timestamp=utcnow(), status=status)
    db.session.add(item)
    db.session.commit()
    return item


def audit_events(event_type: str) -> list[AuditEvent]:
    return db.session.scalars(db.select(AuditEvent).filter_by(event_type=event_type)
                              .order_by(AuditEvent.id)).all()
