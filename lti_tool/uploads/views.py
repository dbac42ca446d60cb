"""The student page's JSON API for uploads (`/api/uploads`): start an attempt, follow it,
finish it."""
from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from lti_tool.access.launches import assignment_launch, require_launch
from lti_tool.access.roles import Role
from lti_tool.errors import NotFound, ToolError
from lti_tool.extensions import db
from lti_tool.models import LaunchRecord, Video
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
    body = json_body()
    filename, size = body.get("filename"), body.get("size_bytes")
    if not isinstance(filename, str) or not filename.strip():
        raise ToolError("The file name is missing.", code="bad_request")
    # null: a recording that uploads while it records, its size told at its end.
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ToolError("size_bytes must be the file's size in bytes (or null for a "
                        "recording in progress).", code="bad_request")
    content_type = body.get("content_type") if isinstance(body.get("content_type"), str) else ""
    video, ticket = start_attempt(launch, filename.strip(), size, content_type)
    return jsonify({
        "video_id": video.id, "attempt": video.attempt, "method": ticket.method,
        "endpoint": ticket.endpoint, "chunk_size": ticket.chunk_size,
        "headers": ticket.headers,
        "metadata": {"video_id": str(video.id), "filename": video.filename,
                     "filetype": video.content_type},
        "expires_at": iso(ticket.expires_at),
        "status_url": url_for("playback.status", video_id=video.id),
        "complete_url": url_for("uploads.complete", video_id=video.id),
    }), 201


@bp.post("/<int:video_id>/complete")
@require_launch([Role.LEARNER])
def complete(video_id: int):
    """Finish an attempt whose bytes the browser has sent, and return its status."""
    video = _own_video(assignment_launch(), video_id)
    complete_upload(video)
    return jsonify(video_status(video))
