"""Submitting a video: start an attempt, record its upload, check it, replace it; and the
student page's JSON API (`/api/uploads`).

Every backend goes through the same steps: `start_attempt` asks the backend for an upload
ticket, the browser sends the bytes, `mark_uploaded` + `process_video` (or
`complete_upload` from the browser) turn the attempt into a ready video or an error a
student understands.
"""
from __future__ import annotations

import logging
import os
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, url_for
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from lti_tool import audit, signals

from lti_tool.uploads import video_checks as media
from lti_tool.audit import EventType
from lti_tool.access.launches import current_launch, require_launch
from lti_tool.errors import Conflict, Forbidden, NotFound, StorageError, ToolError
from lti_tool.extensions import db
from lti_tool.lti.launch_store import kv_add, kv_put
from lti_tool.models import Assignment, LaunchRecord, Submission, Upload, User, Video, utcnow
from lti_tool.web.request_input import clean_filename, json_body
from lti_tool.access.roles import Role
from lti_tool.statuses import FINAL_VIDEO_STATES, VideoStatus
from lti_tool.storage import current_storage, storage_for
from lti_tool.web.rate_limits import limit
from lti_tool.database import get_or_create
from lti_tool.storage.base import (Capability, UploadNotFound, UploadRequest, UploadTicket,
                           UploadTooLarge, VideoInfo)

log = logging.getLogger(__name__)

bp = Blueprint("uploads", __name__, url_prefix="/api/uploads")

DEFAULT_FORMATS = ("mp4", "mov", "m4v", "webm", "mkv", "avi", "wmv", "mpeg", "mpg")
UNFINISHED = frozenset({VideoStatus.PENDING, VideoStatus.UPLOADING})
# A media type as browsers report a file's (`video/mp4`); anything else is stored as unknown.
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,63}/[A-Za-z0-9][\w!#$&^.+-]{0,63}",
                          re.ASCII)
UNKNOWN_CONTENT_TYPE = "application/octet-stream"
# A local check still "processing" after this long was cut short (a restart): run it again.
STALE_PROCESSING_SECONDS = 120
# Status polls ask a provider (one API request each) at most this often per video; in
# between they answer from the database, which the webhook and the polling job keep fresh.
PROVIDER_CHECK_SECONDS = 15
PROVIDER_CHECK_KEY = "provider-check:{video_id}"

ABANDONED = "upload_abandoned"
MISSING = "file_missing"
ERROR_MESSAGES = {
    ABANDONED: "This upload was not finished; a newer upload replaced it.",
    MISSING: "The uploaded file could not be found in the video storage. Please upload "
             "it again.",
}
GENERIC_FAILURE = "The video could not be processed. Please upload it again."
# An attempt that finishes after its submission closed (ensure_open_for_submission's codes).
CLOSED_WHILE_UPLOADING = {
    "submission_graded": "Your submission was graded while this upload was in progress, so "
                         "it was not added. Your graded video is unchanged.",
    "assignment_locked": "The assignment was closed while this upload was in progress, so "
                         "it was not added. Your submitted video is unchanged.",
}


# --- rules ----------------------------------------------------------------------------------

def allowed_formats(assignment: Assignment) -> list[str]:
    """Return the file extensions this assignment accepts (lower case, no dot)."""
    raw = assignment.allowed_formats or ""
    formats = [f.strip().lower().lstrip(".") for f in raw.split(",") if f.strip()]
    return formats or list(DEFAULT_FORMATS)


def size_limit(assignment: Assignment) -> int:
    """Return the largest file this assignment accepts, in bytes."""
    site = int(current_app.config["MAX_UPLOAD_BYTES"])
    return min(site, assignment.max_file_bytes) if assignment.max_file_bytes else site


def human_size(n: int) -> str:
    """Write a size the way file managers do: '5 GB', '740 MB', '12 KB'."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= factor:
            value = n / factor
            return f"{value:.1f} {unit}".replace(".0 ", " ") if value < 10 else \
                f"{value:.0f} {unit}"
    return f"{n} bytes"


def too_large_message(size: int, limit: int) -> str:
    return (f"The file is {human_size(size)}, larger than the {human_size(limit)} this "
            f"assignment accepts. Please compress or shorten the video and try again.")


def ensure_open_for_submission(assignment: Assignment, submission: Submission | None) -> None:
    """Refuse a new video once the assignment is locked or the submission graded."""
    if assignment.locked:
        raise Forbidden("This assignment is closed: videos can no longer be submitted or "
                        "replaced.", code="assignment_locked")
    if submission is not None and submission.graded_at is not None:
        raise Forbidden("Your submission has been graded, so its video can no longer be "
                        "replaced.", code="submission_graded")


def check_file(assignment: Assignment, filename: str, size_bytes: int) -> None:
    """Refuse a file of the wrong type, empty, or too large, before any byte moves."""
    formats = allowed_formats(assignment)
    ext = os.path.splitext(filename)[1].lower().lstrip(".")
    if ext not in formats:
        raise ToolError(f"“{filename}” is not an accepted video format. Accepted: "
                        f"{', '.join(f.upper() for f in formats)}.", code="wrong_format",
                        http_status=415)
    if size_bytes <= 0:
        raise ToolError(media.MESSAGES[media.EMPTY], code=media.EMPTY)
    limit = size_limit(assignment)
    if size_bytes > limit:
        raise UploadTooLarge(too_large_message(size_bytes, limit))


def upload_method(backend) -> str:
    """Name the browser transport a backend takes new uploads with."""
    return "multipart" if backend.supports(Capability.MULTIPART) and not backend.supports(
        Capability.TUS) else "tus"


def can_replace(assignment: Assignment, submission: Submission | None) -> bool:
    try:
        ensure_open_for_submission(assignment, submission)
    except Forbidden:
        return False
    return True


# --- attempts -------------------------------------------------------------------------------

def find_submission(assignment: Assignment, user: User) -> Submission | None:
    return db.session.scalar(db.select(Submission).filter_by(assignment_id=assignment.id,
                                                             user_id=user.id))


def start_attempt(launch: LaunchRecord, filename: str, size_bytes: int,
                  content_type: str) -> tuple[Video, UploadTicket]:
    """Open a new attempt for the launching student and ask the backend where to upload."""
    assignment, user = launch.assignment, launch.user
    submission = find_submission(assignment, user)
    ensure_open_for_submission(assignment, submission)
    filename = clean_filename(filename)
    if not CONTENT_TYPE.fullmatch(content_type or ""):
        content_type = UNKNOWN_CONTENT_TYPE
    check_file(assignment, filename, size_bytes)
    backend = current_storage()
    try:
        if submission is None:
            submission, _ = get_or_create(Submission, {"assignment_id": assignment.id,
                                                       "user_id": user.id})
        abandon_unfinished(submission)
        attempt = 1 + max((v.attempt for v in submission.videos), default=0)
        video = Video(submission_id=submission.id, attempt=attempt, backend=backend.name,
                      status=VideoStatus.PENDING, filename=filename,
                      content_type=content_type,
                      size_bytes=size_bytes)
        db.session.add(video)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another upload was started at the same moment. Reload the page "
                       "and try again.", code="attempt_conflict") from None
    ticket = backend.create_upload(UploadRequest(
        video_id=video.id, owner_id=user.id, filename=filename, size_bytes=size_bytes,
        content_type=video.content_type, max_duration_seconds=assignment.max_duration_seconds,
        key_hint=f"p{launch.platform_id}/c{assignment.course_id}/a{assignment.id}"
                 f"/s{submission.id}/v{video.id}"))
    video.storage_uid = ticket.storage_uid
    video.backend_data = dict(ticket.backend_data) or None
    audit.record(EventType.UPLOAD_CREATED, actor=user, course_id=assignment.course_id,
                 target=video, attempt=attempt, size_bytes=size_bytes, backend=backend.name)
    signals.upload_started.send(video)
    db.session.commit()
    return video, ticket


def abandon_unfinished(submission: Submission) -> None:
    """Close earlier attempts that never finished uploading (a newer one replaces them)."""
    for video in submission.videos:
        if video.status not in UNFINISHED:
            continue
        for upload in db.session.scalars(db.select(Upload).filter_by(video_id=video.id)):
            db.session.delete(upload)
        delete_stored(video)
        video.status = VideoStatus.ERROR
        video.error_code, video.error_message = ABANDONED, ERROR_MESSAGES[ABANDONED]


def delete_stored(video: Video) -> None:
    """Remove what the backend holds for an attempt that will never be played."""
    if not video.storage_uid:
        return
    try:
        storage_for(video.backend).delete(video.storage_uid, video.backend_data)
    except StorageError as exc:  # the orphan sweep will retry; the attempt still closes
        log.warning("could not delete stored video %s: %s", video.id, exc.message)


def close_if_submission_closed(video: Video) -> Forbidden | None:
    """Keep an attempt that finishes after its submission was graded or locked out of it.

    The attempt never becomes the current video: what the backend holds for it is removed
    and it is marked as an error the student reads on their page (committed). Return the
    refusal for a student's request to raise, or None while the submission is open.
    """
    submission = video.submission
    try:
        ensure_open_for_submission(submission.assignment, submission)
    except Forbidden as closed:
        message = CLOSED_WHILE_UPLOADING[closed.code]
        for upload in db.session.scalars(db.select(Upload).filter_by(video_id=video.id)):
            db.session.delete(upload)
        delete_stored(video)
        video.status = VideoStatus.ERROR
        video.error_code, video.error_message = closed.code, message
        audit.record(EventType.VIDEO_FAILED, actor=submission.user, target=video,
                     course_id=submission.assignment.course_id, error_code=closed.code)
        db.session.commit()
        log.info("video %s finished after its submission closed (%s): not added", video.id,
                 closed.code)
        return Forbidden(message, code=closed.code)
    return None


def mark_uploaded(video: Video) -> None:
    """Record that every byte arrived: the attempt is now being checked (no commit).

    Raise Forbidden when the submission closed meanwhile (close_if_submission_closed).
    """
    if video.status in FINAL_VIDEO_STATES or video.status == VideoStatus.PROCESSING:
        return
    refusal = close_if_submission_closed(video)
    if refusal is not None:
        raise refusal
    video.status = VideoStatus.PROCESSING
    video.uploaded_at = utcnow()
    audit.record(EventType.UPLOAD_COMPLETED, actor=video.submission.user, target=video,
                 course_id=video.submission.assignment.course_id, size_bytes=video.size_bytes)


def process_video(video: Video) -> None:
    """Ask the backend what it holds and move the attempt to ready or error."""
    if video.status != VideoStatus.PROCESSING:
        return
    try:
        info = storage_for(video.backend).inspect(video.storage_uid, video.backend_data)
    except UploadNotFound:
        info = VideoInfo(status=VideoStatus.ERROR, error_code=MISSING,
                         error_message=ERROR_MESSAGES[MISSING])
    except StorageError as exc:  # try again on the next status poll
        log.warning("checking video %s failed for now: %s", video.id, exc.message)
        return
    apply_info(video, info)


def apply_info(video: Video, info: VideoInfo) -> None:
    """Turn what the backend reports into the attempt's final state (once)."""
    if info.status == VideoStatus.READY and close_if_submission_closed(video) is not None:
        return  # graded or locked while the video was being processed
    if info.status == VideoStatus.READY:
        limit = video.submission.assignment.max_duration_seconds
        if limit and info.duration_seconds and info.duration_seconds > limit + 0.5:
            _finish(video, VideoStatus.ERROR, info, media.TOO_LONG,
                    media.too_long_message(info.duration_seconds, limit))
        else:
            _finish(video, VideoStatus.READY, info)
    elif info.status == VideoStatus.ERROR:
        _finish(video, VideoStatus.ERROR, info, info.error_code or "processing_failed",
                info.error_message or GENERIC_FAILURE)


def _finish(video: Video, status: VideoStatus, info: VideoInfo, code: str | None = None,
            message: str | None = None) -> None:
    now = utcnow()
    values: dict[str, Any] = dict(
        status=status, duration_seconds=info.duration_seconds, width=info.width,
        height=info.height, has_thumbnail=info.has_thumbnail, error_code=code,
        error_message=message)
    if info.size_bytes is not None:
        values["size_bytes"] = info.size_bytes
    if status == VideoStatus.READY:
        values["ready_at"] = now
    # Only one caller moves the attempt out of processing, so signals fire once.
    moved = db.session.execute(update(Video).where(
        Video.id == video.id, Video.status == VideoStatus.PROCESSING).values(**values))
    if moved.rowcount != 1:
        db.session.rollback()
        return
    db.session.refresh(video)
    submission = video.submission
    course_id = submission.assignment.course_id
    if status == VideoStatus.READY:
        submission.current_video_id = video.id
        submission.submitted_at = now
        audit.record(EventType.VIDEO_READY, actor=submission.user, target=video,
                     course_id=course_id, duration_seconds=info.duration_seconds)
        signals.video_ready.send(video)
    else:
        audit.record(EventType.VIDEO_FAILED, actor=submission.user, target=video,
                     course_id=course_id, error_code=code)
        signals.video_failed.send(video)
    db.session.commit()


def complete_upload(video: Video) -> None:
    """Finish an attempt the browser says it has sent; safe to call twice."""
    if video.status in FINAL_VIDEO_STATES:
        return
    backend = storage_for(video.backend)
    if video.status in UNFINISHED:
        if backend.supports(Capability.APP_HOSTED):
            from lti_tool.tus import uploads as tus_service
            upload = db.session.scalar(db.select(Upload).filter_by(video_id=video.id))
            if upload is None or not tus_service.finish_if_full(upload):
                raise Conflict("The upload has not finished yet: resume it to send the "
                               "remaining part.", code="upload_incomplete")
            db.session.refresh(video)
        else:
            mark_uploaded(video)
            db.session.commit()
    if not backend.supports(Capability.APP_HOSTED):
        # The browser's word is news: ask now, and let the polls that follow wait.
        kv_put(PROVIDER_CHECK_KEY.format(video_id=video.id), True, PROVIDER_CHECK_SECONDS)
        db.session.commit()
    process_video(video)


def refresh_status(video: Video) -> None:
    """Bring a processing attempt up to date (a provider finishing, a check cut short)."""
    if video.status != VideoStatus.PROCESSING:
        return
    backend = storage_for(video.backend)
    if backend.supports(Capability.APP_HOSTED):
        age = (utcnow() - (video.uploaded_at or video.created_at)).total_seconds()
        if age < STALE_PROCESSING_SECONDS:
            return  # the request that received the last byte is checking it now
    elif not provider_check_due(video):
        return
    process_video(video)


def provider_check_due(video: Video) -> bool:
    """Claim this video's provider check if none ran in the last PROVIDER_CHECK_SECONDS.

    The claim is a KeyValue row, so the limit holds across workers and replicas.
    """
    claimed = kv_add(PROVIDER_CHECK_KEY.format(video_id=video.id), True,
                     PROVIDER_CHECK_SECONDS)
    db.session.commit()
    return claimed


# --- what the page shows ----------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def received_bytes(video: Video) -> int | None:
    """Return how many bytes of an unfinished upload the storage holds (None: unknown)."""
    if video.status not in UNFINISHED:
        return None
    backend = storage_for(video.backend)
    if backend.supports(Capability.MULTIPART) and video.backend_data:
        try:  # the parts already stored are what a resumed upload keeps
            held = backend.list_parts(video.storage_uid, video.backend_data)
        except StorageError as exc:
            log.info("could not list the parts of video %s: %s", video.id, exc.message)
            return None
        return sum(int(p["size"]) for p in held)
    upload = db.session.scalar(db.select(Upload).filter_by(video_id=video.id))
    if upload is None:
        return 0
    from lti_tool.tus import uploads as tus_service
    try:
        return tus_service.current_offset(upload)
    except ToolError:
        return None


def video_status(video: Video) -> dict:
    """Describe one attempt for the page."""
    submission = video.submission
    return {
        "id": video.id, "attempt": video.attempt, "status": video.status,
        "filename": video.filename, "size_bytes": video.size_bytes,
        "received_bytes": received_bytes(video),
        "duration_seconds": video.duration_seconds, "width": video.width,
        "height": video.height, "has_thumbnail": video.has_thumbnail,
        "error_code": video.error_code, "error_message": video.error_message,
        "created_at": _iso(video.created_at), "uploaded_at": _iso(video.uploaded_at),
        "ready_at": _iso(video.ready_at),
        "is_current": submission.current_video_id == video.id,
        "final": video.status in FINAL_VIDEO_STATES,
    }


def submission_state(launch: LaunchRecord) -> dict:
    """Describe the launching student's submission: limits, attempts, what they may do."""
    assignment = launch.assignment
    submission = find_submission(assignment, launch.user)
    attempts = [video_status(v) for v in reversed(submission.videos)] if submission else []
    return {
        "assignment": {"id": assignment.id, "title": assignment.title,
                       "due_at": _iso(assignment.due_at), "locked": assignment.locked},
        "limits": {"max_bytes": size_limit(assignment),
                   "formats": allowed_formats(assignment),
                   "max_duration_seconds": assignment.max_duration_seconds},
        "submission": None if submission is None else {
            "id": submission.id, "submitted_at": _iso(submission.submitted_at),
            "current_video_id": submission.current_video_id,
            "graded": submission.graded_at is not None},
        "attempts": attempts,
        "can_upload": can_replace(assignment, submission),
    }


# --- the JSON API -------------------------------------------------------------------------------

def _student_launch() -> LaunchRecord:
    launch = current_launch()
    if launch.assignment is None:
        raise NotFound("This launch is not tied to an assignment.")
    return launch


def _own_video(launch: LaunchRecord, video_id: int) -> Video:
    video = db.session.get(Video, video_id)
    if video is None or video.submission.user_id != launch.user_id:
        raise NotFound("No such upload.")
    return video


@bp.get("")
@require_launch()
def state():
    """Return the student's submission for the launched assignment."""
    return jsonify(submission_state(_student_launch()))


@bp.post("")
@limit("RATELIMIT_UPLOADS")
@require_launch([Role.LEARNER])
def create():
    """Start a new attempt and say how the browser should upload it (tus or multipart)."""
    launch = _student_launch()
    body = json_body()
    filename, size = body.get("filename"), body.get("size_bytes")
    if not isinstance(filename, str) or not filename.strip():
        raise ToolError("The file name is missing.", code="bad_request")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ToolError("size_bytes must be the file's size in bytes.", code="bad_request")
    content_type = body.get("content_type") if isinstance(body.get("content_type"), str) else ""
    video, ticket = start_attempt(launch, filename.strip(), size, content_type)
    return jsonify({
        "video_id": video.id, "attempt": video.attempt, "method": ticket.method,
        "endpoint": ticket.endpoint, "chunk_size": ticket.chunk_size,
        "headers": ticket.headers,
        "metadata": {"video_id": str(video.id), "filename": video.filename,
                     "filetype": video.content_type},
        "expires_at": _iso(ticket.expires_at),
        "status_url": url_for("playback.status", video_id=video.id),
        "complete_url": url_for("uploads.complete", video_id=video.id),
    }), 201


@bp.post("/<int:video_id>/complete")
@require_launch([Role.LEARNER])
def complete(video_id: int):
    """Finish an attempt whose bytes the browser has sent, and return its status."""
    video = _own_video(_student_launch(), video_id)
    complete_upload(video)
    return jsonify(video_status(video))
