"""The student page's JSON API for uploads (`/api/uploads`): start an attempt, follow it,
finish it."""
from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from lti_tool.access.launches import assignment_launch, require_launch
from lti_tool.access.roles import Role
from lti_tool.errors import NotFound, ToolError
from lti_tool.extensions import db
from lti_tool.models import LaunchRecord, Video
from lti_tool.storage.base import UploadTicket
from lti_tool.uploads.attempts import complete_upload, start_attempt
from lti_tool.uploads.status import iso, submission_state, video_status
from lti_tool.web.rate_limits import limit
from lti_tool.web.request_input import json_body

bp = Blueprint("uploads", __name__, url_prefix="/api/uploads")


def _own_video(launch: LaunchRecord, video_id: int) -> Video:
    video = db.session.get(Video, video_id)
    if video is None or video.submission.user_id != launch.user_id:
        raise NotFound("No such upload.")
    return video


@bp.get("")
@require_launch()
def state():
    """Return the student's submission for the launched assignment."""
    return jsonify(submission_state(assignment_launch()))


@bp.post("")
@limit("RATELIMIT_UPLOADS")
@require_launch([Role.LEARNER])
def create():
    """Start a new attempt and say how the browser should upload it (tus or multipart)."""
    launch = assignment_launch()
    filename, size, content_type = new_upload_request()
    video, ticket = start_attempt(launch, filename, size, content_type)
    return jsonify(ticket_answer(video, ticket)), 201


def new_upload_request() -> tuple[str, int, str]:
    """Read a new upload's {filename, size_bytes, content_type} from the JSON body."""
    body = json_body()
    filename, size = body.get("filename"), body.get("size_bytes")
    if not isinstance(filename, str) or not filename.strip():
        raise ToolError("The file name is missing.", code="bad_request")
    # null: a recording that uploads while it records, its size told at its end.
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ToolError("size_bytes must be the file's size in bytes (or null for a "
                        "recording in progress).", code="bad_request")
    content_type = body.get("content_type") if isinstance(body.get("content_type"), str) else ""
    return filename.strip(), size, content_type


def ticket_answer(video: Video, ticket: UploadTicket, chunk_size: int | None = None) -> dict:
    """Tell the browser how to upload a new attempt (the answer of POST /api/uploads)."""
    return {
        "video_id": video.id, "attempt": video.attempt, "method": ticket.method,
        "endpoint": ticket.endpoint, "chunk_size": chunk_size or ticket.chunk_size,
        "headers": ticket.headers,
        "metadata": {"video_id": str(video.id), "filename": video.filename,
                     "filetype": video.content_type},
        "expires_at": iso(ticket.expires_at),
        "status_url": url_for("playback.status", video_id=video.id),
        # Also where the S3 multipart transport finds its endpoints (.../multipart/...).
        "complete_url": url_for("uploads.complete", video_id=video.id),
    }


@bp.post("/<int:video_id>/complete")
@require_launch([Role.LEARNER])
def complete(video_id: int):
    """Finish an attempt whose bytes the browser has sent, and return its status."""
    video = _own_video(assignment_launch(), video_id)
    complete_upload(video)
    return jsonify(video_status(video))
