"""Orphans (a weekly job): what storage holds that no video references, and videos whose
object is gone. Reported in the job's run (counts and the first items), never deleted:
an operator decides (docs/admin-operations.md, "Orphans").
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Iterable, Iterator

from sqlalchemy import select

from lti_tool.errors import StorageError
from lti_tool.extensions import db
from lti_tool.models import Assignment, Submission, Video, utcnow
from lti_tool.statuses import VideoStatus
from lti_tool.storage import backends_in_use, storage_for
from lti_tool.storage.base import StoredObject

log = logging.getLogger(__name__)

# Objects younger than this may belong to an upload whose video row is not committed yet.
GRACE = timedelta(hours=1)
CHUNK = 500
LISTED = 1000


def _chunks(objects: Iterable[StoredObject], size: int) -> Iterator[list[StoredObject]]:
    chunk: list[StoredObject] = []
    for obj in objects:
        chunk.append(obj)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def find_orphans() -> dict:
    """Compare each storage in use with the videos; return counts and the first items."""
    now = utcnow()
    report: dict = {"orphan_objects": 0, "orphan_bytes": 0, "missing_objects": 0,
                    "backends": {}, "orphans": [], "missing": []}
    for name in backends_in_use():
        try:
            found = _check_backend(name, now, report)
        except (StorageError, ValueError, ImportError) as exc:
            message = getattr(exc, "message", str(exc))
            log.warning("orphans: storage %s could not be listed: %s", name, message)
            report["backends"][name] = {"error": message}
            continue
        report["backends"][name] = found
    if report["orphan_objects"] or report["missing_objects"]:
        log.info("orphans: %d objects no video references, %d videos whose object is gone",
                 report["orphan_objects"], report["missing_objects"])
    return report


def _check_backend(name: str, now, report: dict) -> dict:
    backend = storage_for(name)
    listed: set[str] = set()
    counts = {"objects": 0, "orphan_objects": 0, "orphan_bytes": 0, "too_new": 0,
              "missing_objects": 0}
    for chunk in _chunks(backend.list_objects(), CHUNK):
        uids = [obj.storage_uid for obj in chunk]
        listed.update(uids)
        referenced = set(db.session.scalars(select(Video.storage_uid).where(
            Video.backend == name, Video.storage_uid.in_(uids),
            Video.status != VideoStatus.DELETED)))
        for obj in chunk:
            counts["objects"] += 1
            if obj.storage_uid in referenced:
                continue
            if obj.created_at is not None and now - obj.created_at < GRACE:
                counts["too_new"] += 1
                continue
            counts["orphan_objects"] += 1
            counts["orphan_bytes"] += obj.size_bytes or 0
            if len(report["orphans"]) < LISTED:
                report["orphans"].append({
                    "backend": name, "storage_uid": obj.storage_uid,
                    "size_bytes": obj.size_bytes,
                    "created_at": obj.created_at.isoformat() if obj.created_at else None})
    last_id = 0
    while True:  # ready videos, in id order, whose object the listing did not show
        rows = db.session.execute(
            select(Video.id, Video.storage_uid, Assignment.course_id)
            .join(Submission, Video.submission_id == Submission.id)
            .join(Assignment, Submission.assignment_id == Assignment.id)
            .where(Video.backend == name, Video.status == VideoStatus.READY,
                   Video.storage_uid.is_not(None), Video.id > last_id)
            .order_by(Video.id).limit(CHUNK)).all()
        if not rows:
            break
        for row in rows:
            if row.storage_uid not in listed:
                counts["missing_objects"] += 1
                if len(report["missing"]) < LISTED:
                    report["missing"].append({"backend": name, "video_id": row.id,
                                              "course_id": row.course_id})
        last_id = rows[-1].id
    for key in ("orphan_objects", "orphan_bytes", "missing_objects"):
        report[key] += counts[key]
    return counts
