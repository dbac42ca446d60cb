"""Retention: videos older than the retention period are deleted from storage (a daily job).

The period is the RETENTION_DAYS setting (90 days; 0 turns retention off), or an
assignment's own `retention_days` (0 there: keep that assignment's videos). A video's age
counts from its upload's creation. Never deleted: a video under legal hold, and one whose
submission has a grade the LMS has not got (lti_tool.grading.outbox.grade_not_in_lms).

Deletion goes through the storage interface in batches of RETENTION_BATCH_SIZE with a
pause of RETENTION_BATCH_PAUSE_SECONDS between them, so a provider's rate limits hold;
ids are walked in order (keyset), so memory stays bounded however many videos expire.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, false, func, or_, select

from lti_tool.errors import StorageError
from lti_tool.extensions import db
from lti_tool.grading.outbox import grade_not_in_lms
from lti_tool.models import Assignment, Submission, Video, utcnow
from lti_tool.settings import get_setting
from lti_tool.statuses import VideoStatus
from lti_tool.uploads.attempts import LegalHold, delete_video

log = logging.getLogger(__name__)

REASON = "retention"
DEFAULT_DAYS = 90
DEFAULT_BATCH = 100
DEFAULT_PAUSE_SECONDS = 2.0
# A dry run lists at most this many videos (the counts cover all of them).
LISTED = 1000


def site_retention_days() -> int:
    """Return the site's retention period in days (0: retention is off)."""
    return int(get_setting("RETENTION_DAYS", DEFAULT_DAYS))


def _expired(now: datetime, site_days: int) -> Select:
    """Select videos past their retention period that are not deleted yet."""
    ages = []
    if site_days > 0:
        ages.append(and_(Assignment.retention_days.is_(None),
                         Video.created_at < now - timedelta(days=site_days)))
    overrides = db.session.scalars(select(Assignment.retention_days).distinct().where(
        Assignment.retention_days > 0)).all()
    for days in overrides:
        ages.append(and_(Assignment.retention_days == days,
                         Video.created_at < now - timedelta(days=days)))
    return (select(Video).join(Submission, Video.submission_id == Submission.id)
            .join(Assignment, Submission.assignment_id == Assignment.id)
            .where(Video.status != VideoStatus.DELETED, Video.deleted_at.is_(None),
                   or_(*ages) if ages else false()))


def _count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def apply_retention(dry_run: bool = False) -> dict:
    """Delete (or with dry_run, list) the videos past retention; return what was done."""
    now = utcnow()
    site_days = site_retention_days()
    expired = _expired(now, site_days)
    held = Video.legal_hold.is_(True)
    waiting = grade_not_in_lms(Video.submission_id)
    counts: dict = {
        "retention_days": site_days,
        "expired": _count(expired),
        "kept_legal_hold": _count(expired.where(held)),
        "kept_grade_not_in_lms": _count(expired.where(~held, waiting)),
    }
    removable = expired.where(~held, ~waiting)
    if dry_run:
        return {**counts, **_list_removable(removable, now)}
    batch = max(1, int(get_setting("RETENTION_BATCH_SIZE", DEFAULT_BATCH)))
    pause = float(get_setting("RETENTION_BATCH_PAUSE_SECONDS", DEFAULT_PAUSE_SECONDS))
    deleted = failed = freed = 0
    last_id = 0
    while True:
        # Re-selected with every condition, so a hold or a grade added meanwhile counts.
        videos = db.session.scalars(removable.where(Video.id > last_id)
                                    .order_by(Video.id).limit(batch)).all()
        if not videos:
            break
        for video in videos:
            try:
                if delete_video(video, reason=REASON):
                    deleted += 1
                    freed += video.size_bytes or 0
            except (StorageError, LegalHold) as exc:
                failed += 1
                log.warning("retention: video %s not deleted: %s", video.id,
                            getattr(exc, "message", exc))
        last_id, full = videos[-1].id, len(videos) == batch
        db.session.commit()
        del videos  # the session holds objects weakly: memory stays one batch
        if full and pause > 0:
            time.sleep(pause)
    if deleted or failed:
        log.info("retention: %d videos deleted, %d failed (kept: %d on legal hold, %d with "
                 "a grade not in the LMS)", deleted, failed, counts["kept_legal_hold"],
                 counts["kept_grade_not_in_lms"])
    return {**counts, "deleted": deleted, "failed": failed, "bytes_freed": freed}


def _list_removable(removable: Select, now: datetime) -> dict:
    """Return how many videos would go, their bytes, and the first LISTED of them (ids,
    course, backend, age: no personal data)."""
    total = freed = 0
    listed = []
    last_id = 0
    while True:
        rows = db.session.execute(
            removable.with_only_columns(Video.id, Video.backend, Video.size_bytes,
                                        Video.created_at, Assignment.course_id)
            .where(Video.id > last_id).order_by(Video.id).limit(DEFAULT_BATCH)).all()
        if not rows:
            break
        for row in rows:
            total += 1
            freed += row.size_bytes or 0
            if len(listed) < LISTED:
                listed.append({"video_id": row.id, "course_id": row.course_id,
                               "backend": row.backend, "size_bytes": row.size_bytes,
                               "age_days": (now - row.created_at).days})
        last_id = rows[-1].id
    return {"would_delete": total, "bytes_would_free": freed, "videos": listed}
