"""The browser's S3 multipart flow: sign parts, list parts, complete, abort (`/api/uploads/<id>/multipart`).

Only JSON passes here; the parts go from the browser to the bucket with the URLs signed
here. Every call checks that the launching student owns the attempt and that it is still
an unfinished multipart upload. An upload of unknown size (a recording sent while it
records, Capability.DEFERRED_PARTS) signs one part at a time with its size, bounded by the
assignment's limit, and is told its size at completion. Such an upload past the limit can
only grow: the refusal (413) ends it, its parts aborted and the attempt closed as an error.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from lti_tool import audit
from lti_tool.access.launches import current_launch, require_launch
from lti_tool.access.roles import Role
from lti_tool.audit import EventType
from lti_tool.errors import Conflict, NotFound, StorageError, ToolError
from lti_tool.extensions import db
from lti_tool.models import Video, utcnow
from lti_tool.statuses import UNFINISHED_VIDEO_STATES, VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability, UploadTooLarge
from lti_tool.uploads.attempts import complete_upload
from lti_tool.uploads.rules import size_limit, too_large_message
from lti_tool.uploads.status import video_status
from lti_tool.web.request_input import json_body

log = logging.getLogger(__name__)

bp = Blueprint("multipart", __name__, url_prefix="/api/uploads/<int:video_id>/multipart")

CANCELLED = "upload_cancelled"
CANCELLED_MESSAGE = "You cancelled this upload."


def _own_open_upload(video_id: int, *, sent_is_fine: bool = False) -> Video:
    """Load the launching student's unfinished multipart attempt, or refuse (an attempt
    whose bytes all arrived too, with `sent_is_fine`)."""
    launch = current_launch()
    video = db.session.get(Video, video_id)
    if (video is None or video.submission.user_id != launch.user_id
            or video.submission.assignment_id != launch.assignment_id):
        raise NotFound("No such upload.")
    if not storage_for(video.backend).supports(Capability.MULTIPART) or not (
            video.backend_data or {}).get("upload_id"):
        raise NotFound("This upload does not take parts.")
    if video.status not in UNFINISHED_VIDEO_STATES and not (
            sent_is_fine and video.uploaded_at is not None):
        raise Conflict("This upload is already finished or was cancelled.",
                       code="upload_closed")
    return video


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(video: Video) -> dict:
    data = video.backend_data or {}
    return {"video_id": video.id, "size_bytes": data.get("size"),
            "part_size": data.get("part_size"), "part_count": data.get("part_count")}


def _size_told_at_end(video: Video) -> bool:
    """Whether this upload's size is only told at completion (DEFERRED_PARTS)."""
    return (video.backend_data or {}).get("size") is None and storage_for(
        video.backend).supports(Capability.DEFERRED_PARTS)


def _sign_next(video: Video, body: dict) -> list:
    """Sign the one part a size-less upload asks for, within the assignment's limit."""
    number, size = body.get("part_number"), body.get("size")
    if not _is_whole(number) or not _is_whole(size):
        raise ToolError("Send {\"part_number\": n, \"size\": bytes} for this upload.",
                        code="bad_request")
    return [storage_for(video.backend).sign_next_part(
        video.storage_uid, video.backend_data, number, size,
        size_limit(video.submission.assignment))]


def _end_too_large(video: Video, refusal: UploadTooLarge) -> None:
    """Close a recording that passed the assignment's limit: nothing of it stays open."""
    try:
        storage_for(video.backend).abort_multipart(video.storage_uid, video.backend_data)
    except StorageError as exc:  # the bucket's lifecycle rule and the expiry job clean up
        log.warning("could not abort upload of video %s: %s", video.id, exc.message)
    video.status = VideoStatus.ERROR
    video.error_code, video.error_message = refusal.code, refusal.message
    audit.record(EventType.VIDEO_FAILED, actor=video.submission.user, target=video,
                 course_id=video.submission.assignment.course_id, error_code=refusal.code)
    db.session.commit()


@bp.post("/sign")
@require_launch([Role.LEARNER])
def sign(video_id: int):
    """Return presigned PUT URLs for the part numbers asked for."""
    video = _own_open_upload(video_id)
    body = json_body()
    if _size_told_at_end(video):
        try:
            parts = _sign_next(video, body)
        except UploadTooLarge as refusal:
            _end_too_large(video, refusal)
            raise
    else:
        numbers = body.get("part_numbers")
        if not isinstance(numbers, list) or not all(_is_whole(n) for n in numbers):
            raise ToolError("Send {\"part_numbers\": [1, 2, ...]}.", code="bad_request")
        parts = storage_for(video.backend).sign_parts(video.storage_uid, video.backend_data,
                                                      numbers)
    if video.status == VideoStatus.PENDING:
        video.status = VideoStatus.UPLOADING
        db.session.commit()
    ttl = int(current_app.config.get("S3_PART_URL_TTL_SECONDS", 3600))
    return jsonify({"parts": [{"part_number": p.part_number, "url": p.url} for p in parts],
                    "expires_in": ttl})


@bp.get("/parts")
@require_launch([Role.LEARNER])
def parts(video_id: int):
    """Return the part size and the parts already stored (to resume after a reload)."""
    video = _own_open_upload(video_id)
    held = storage_for(video.backend).list_parts(video.storage_uid, video.backend_data)
    return jsonify(dict(_describe(video), parts=held))


@bp.post("/complete")
@require_launch([Role.LEARNER])
def complete(video_id: int):
    """Join the parts into the video and start checking it; returns the attempt's status.

    An upload of unknown size is told it here ({"size_bytes": n}), within the limit. Asked
    again once its bytes arrived (the answer was lost on its way), it answers the status."""
    video = _own_open_upload(video_id, sent_is_fine=True)
    if video.status not in UNFINISHED_VIDEO_STATES:
        return jsonify(video_status(video))
    body = json_body(required=False)
    claimed = body.get("parts")
    if claimed is not None and not (isinstance(claimed, list) and all(
            isinstance(p, dict) and _is_whole(p.get("part_number"))
            and isinstance(p.get("etag", ""), str) for p in claimed)):
        raise ToolError("parts must be a list of {part_number, etag}.", code="bad_request")
    if _size_told_at_end(video):
        size = body.get("size_bytes")
        if not _is_whole(size) or size <= 0:
            raise ToolError("Send the recording's size: {\"size_bytes\": n}.",
                            code="bad_request")
        limit = size_limit(video.submission.assignment)
        if size > limit:
            refusal = UploadTooLarge(too_large_message(size, limit))
            _end_too_large(video, refusal)
            raise refusal
        video.backend_data = storage_for(video.backend).complete_deferred(
            video.storage_uid, video.backend_data, size, claimed or [])
        video.size_bytes = size
        db.session.commit()  # the object is whole now; complete_upload reloads the row
    else:
        storage_for(video.backend).complete_multipart(video.storage_uid, video.backend_data,
                                                      claimed or [])
    complete_upload(video)
    return jsonify(video_status(video))


@bp.post("/abort")
@require_launch([Role.LEARNER])
def abort(video_id: int):
    """Cancel the upload at the student's request and free its stored parts."""
    video = _own_open_upload(video_id)
    storage_for(video.backend).abort_multipart(video.storage_uid, video.backend_data)
    video.status = VideoStatus.DELETED
    video.deleted_at = utcnow()
    video.error_code, video.error_message = CANCELLED, CANCELLED_MESSAGE
    audit.record(EventType.UPLOAD_DELETED, actor=video.submission.user, target=video,
                 course_id=video.submission.assignment.course_id)
    db.session.commit()
    return jsonify(video_status(video))
