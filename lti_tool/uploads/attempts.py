"""The life of an attempt: start it, record that its bytes arrived, check it, finish it as a
ready video or an error a student understands, replace it.

Every backend goes through the same steps, through the storage interface only:
`start_attempt` asks the backend for an upload ticket, the browser sends the bytes,
`mark_uploaded` + `process_video` (or `complete_upload`, when the browser says it is done)
turn the attempt into a ready video or an error.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from lti_tool import audit, signals
from lti_tool.audit import EventType
from lti_tool.database import get_or_create
from lti_tool.errors import Conflict, Forbidden, StorageError, ToolError
from lti_tool.extensions import db
from lti_tool.lti.launch_store import kv_add, kv_put
from lti_tool.models import Assignment, LaunchRecord, Submission, User, Video, utcnow
from lti_tool.statuses import FINAL_VIDEO_STATES, UNFINISHED_VIDEO_STATES, VideoStatus
from lti_tool.storage import current_storage, storage_for
from lti_tool.storage.base import (Capability, UploadNotFound, UploadRequest, UploadTicket,
                                   VideoInfo)
from lti_tool.storage.messages import MSG_UPLOAD_EXPIRED, UPLOAD_EXPIRED
from lti_tool.uploads import video_checks
from lti_tool.uploads.rules import (ASSIGNMENT_LOCKED, CONTENT_TYPE, PAST_CUTOFF,
                                    SUBMISSION_GRADED, SUBMISSION_IN_REVIEW,
                                    UNKNOWN_CONTENT_TYPE, check_file, ensure_open_for_submission,
                                    ensure_uploads_open)
from lti_tool.web.request_input import clean_filename

log = logging.getLogger(__name__)

# Status polls ask a provider (one API request each) at most this often per video; in
# between they answer from the database, which the webhook and the polling job keep fresh.
PROVIDER_CHECK_SECONDS = 15
PROVIDER_CHECK_KEY = "provider-check:{video_id}"

ABANDONED = "upload_abandoned"
LENGTH_REQUIRED = "length_required"  # a recording's size left open where it cannot be
MISSING = "file_missing"
ERROR_MESSAGES = {
    ABANDONED: "This upload was not finished; a newer upload replaced it.",
    MISSING: "The uploaded file could not be found in the video storage. Please upload "
             "it again.",
}
GENERIC_FAILURE = "The video could not be processed. Please upload it again."
# An attempt that finishes after its submission closed (ensure_open_for_submission's codes).
CLOSED_WHILE_UPLOADING = {
    SUBMISSION_GRADED: "Your submission was graded while this upload was in progress, so "
                       "it was not added. Your graded video is unchanged.",
    SUBMISSION_IN_REVIEW: "Your instructor started reviewing your video while this upload "
                          "was in progress, so it was not added. Your submitted video is "
                          "unchanged.",
    PAST_CUTOFF: "This upload started after the last moment to start one, so it was not "
                 "added. Your submitted video is unchanged.",
    ASSIGNMENT_LOCKED: "The assignment was closed while this upload was in progress, so "
                       "it was not added. Your submitted video is unchanged.",
}
# What the expiry job tells a student whose upload was given up on.
EXPIRED_INFO = VideoInfo(status=VideoStatus.ERROR, error_code=UPLOAD_EXPIRED,
                         error_message=MSG_UPLOAD_EXPIRED)


# "Not looked up yet", for functions that take a submission the caller may already have.
NOT_LOOKED_UP: Submission | None = object()  # type: ignore[assignment]


def find_submission(assignment: Assignment, user: User) -> Submission | None:
    """Return the user's submission to the assignment, if they have one."""
    return db.session.scalar(_SUBMISSION, {"assignment_id": assignment.id, "user_id": user.id})


# One statement object for every call (the landing page of every launch asks): its cache
# key is worked out once.
_SUBMISSION = db.select(Submission).where(Submission.assignment_id == db.bindparam("assignment_id"),
                                          Submission.user_id == db.bindparam("user_id"))


def start_attempt(launch: LaunchRecord, filename: str, size_bytes: int | None,
                  content_type: str) -> tuple[Video, UploadTicket]:
    """Open a new attempt for the launching student and ask the backend where to upload.

    `size_bytes` is None for a recording that uploads while it records; only a backend
    that can defer the length takes one.
    """
    assignment, user = launch.assignment, launch.user
    submission = find_submission(assignment, user)
    ensure_uploads_open()
    ensure_open_for_submission(assignment, submission, user=user)
    filename = clean_filename(filename)
    if not CONTENT_TYPE.fullmatch(content_type or ""):
        content_type = UNKNOWN_CONTENT_TYPE
    check_file(assignment, filename, size_bytes, content_type)
    backend = current_storage()
    if size_bytes is None and not (backend.supports(Capability.DEFERRED_LENGTH)
                                   or backend.supports(Capability.DEFERRED_PARTS)):
        raise ToolError("This site's video storage needs the size up front: upload the "
                        "recording once it is finished.", code=LENGTH_REQUIRED)
    try:
        if submission is None:
            submission, _ = get_or_create(Submission, {"assignment_id": assignment.id,
                                                       "user_id": user.id})
        abandon_unfinished(submission)
        attempt = 1 + max((v.attempt for v in submission.videos), default=0)
        video = Video(submission_id=submission.id, platform_id=launch.platform_id,
                      attempt=attempt, backend=backend.name,
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
        if video.status not in UNFINISHED_VIDEO_STATES:
            continue
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


class LegalHold(Conflict):
    """The video is under legal hold: nothing deletes it until the hold is lifted."""

    code = "legal_hold"
    title = "This video is under legal hold"


def delete_video(video: Video, *, reason: str, actor: User | None = None) -> bool:
    """Delete a video from its storage and mark it deleted, audited (the caller commits).

    Raise LegalHold for a video under legal hold, and the storage's StorageError when the
    storage could not delete it (the video is then left as it was). Return False when it
    was deleted already. `reason` names why (retention, privacy, admin); the audit entry
    holds ids only, no personal data.
    """
    if video.legal_hold:
        raise LegalHold("This video is under legal hold; lift the hold to delete it.")
    if video.status == VideoStatus.DELETED and video.deleted_at is not None:
        return False
    if video.storage_uid:
        storage_for(video.backend).delete(video.storage_uid, video.backend_data)
    video.status = VideoStatus.DELETED
    video.deleted_at = utcnow()
    course = video.submission.assignment.course
    audit.record(EventType.VIDEO_DELETED, actor=actor, platform_id=course.platform_id,
                 course_id=course.id, target=video, reason=reason, backend=video.backend)
    return True


def close_if_submission_closed(video: Video) -> Forbidden | None:
    """Keep an attempt that finishes after its submission was graded or locked out of it.

    The attempt never becomes the current video: what the backend holds for it is removed
    and it is marked as an error the student reads on their page (committed). Return the
    refusal for a student's request to raise, or None while the submission is open.
    """
    submission = video.submission
    try:
        # Judged by when the attempt started: a cut-off passing mid-upload does not close it.
        ensure_open_for_submission(submission.assignment, submission, user=submission.user,
                                   started_at=video.created_at)
    except Forbidden as closed:
        message = CLOSED_WHILE_UPLOADING[closed.code]
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
    """Move an uploaded attempt on: queue the tool's processing job, or ask a provider that
    processes videos itself what it holds (ready or error)."""
    if video.status != VideoStatus.PROCESSING:
        return
    backend = storage_for(video.backend)
    if backend.supports(Capability.PROCESSING):
        signals.video_uploaded.send(video)  # lti_tool.processing queues the job
        db.session.expire(video)  # the job may have run already (PROCESSING_QUEUE=immediate)
        return
    try:
        info = backend.inspect(video.storage_uid, video.backend_data)
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
            _finish(video, VideoStatus.ERROR, info, video_checks.TOO_LONG,
                    video_checks.too_long_message(info.duration_seconds, limit))
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
    if video.status in UNFINISHED_VIDEO_STATES:
        if not backend.finish_upload(video.storage_uid, video.backend_data):
            raise Conflict("The upload has not finished yet: resume it to send the "
                           "remaining part.", code="upload_incomplete")
        db.session.refresh(video)  # the backend may have recorded the last byte itself
        mark_uploaded(video)
        db.session.commit()
    if not backend.supports(Capability.APP_HOSTED):
        # The browser's word is news: ask the provider now, and let the polls that follow
        # wait.
        kv_put(PROVIDER_CHECK_KEY.format(video_id=video.id), True, PROVIDER_CHECK_SECONDS)
        db.session.commit()
    process_video(video)


def settle(video: Video, info: VideoInfo) -> bool:
    """Move an attempt forward on what its storage reports; True once it is final.

    The one way a provider's report (webhook, polling) or the expiry job moves an attempt.
    Signals and audit events fire once: apply_info moves the attempt out of processing with
    a conditional UPDATE, so a webhook racing the poller cannot both win.
    """
    if video.status in FINAL_VIDEO_STATES or info.status in UNFINISHED_VIDEO_STATES:
        return video.status in FINAL_VIDEO_STATES
    if video.status in UNFINISHED_VIDEO_STATES:
        if info.error_code == UPLOAD_EXPIRED:
            video.status = VideoStatus.PROCESSING  # no byte arrived: nothing to audit
        else:
            try:
                mark_uploaded(video)
            except Forbidden:  # graded or locked meanwhile: the attempt was closed
                return True
        db.session.commit()
    if info.status in (VideoStatus.READY, VideoStatus.ERROR):
        apply_info(video, info)
    return video.status in FINAL_VIDEO_STATES


def refresh_status(video: Video) -> None:
    """Bring a processing attempt up to date from a provider that processes it."""
    if video.status != VideoStatus.PROCESSING:
        return
    backend = storage_for(video.backend)
    if backend.supports(Capability.PROCESSING):
        return  # the processing job reports itself; its sweep restarts stalled ones
    if not provider_check_due(video):
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


# --- the JSON API -------------------------------------------------------------------------------


