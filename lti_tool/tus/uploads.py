"""The tus uploads the app hosts: open one for a video, write to it, measure, end, expire.

Views call these; they never touch `request`. Each write holds the upload's file lock,
takes the offset from the file on disk, and keeps no database transaction open while the
body streams in. The `Upload` rows and their key in `Video.backend_data` are this
module's: the local storage backend reaches them through `received`, `finish`, `discard`
and `expire`, and the uploads domain only through the storage interface.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager

from lti_tool import audit, signals
from lti_tool.audit import EventType
from lti_tool.errors import Conflict, NotFound, ToolError
from lti_tool.extensions import db
from lti_tool.models import LaunchRecord, Upload, User, Video, new_token, utcnow
from lti_tool.statuses import UNFINISHED_VIDEO_STATES, VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability, ExpiredUpload, StorageBackend, UploadTooLarge
from lti_tool.tus.body import ReadInto
from lti_tool.tus.errors import (ChecksumMismatch, OffsetMismatch, TusError, UploadFinished,
                                 UploadGone)
from lti_tool.tus.store import FileStore, safe_name
from lti_tool.uploads import attempts, rules

log = logging.getLogger(__name__)


# Key in Video.backend_data naming the tus upload that feeds the video.
UPLOAD_ID_KEY = "upload_id"
# The expiry slides forward with each PATCH; it is rewritten once it lags this much.
EXPIRY_WRITE_STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class Checksum:
    """An Upload-Checksum header: the algorithm and the digest it names."""

    algorithm: str
    digest: bytes


def expiry_from_now() -> datetime:
    return utcnow() + timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"])


def _hosted_backend(video: Video) -> StorageBackend:
    backend = storage_for(video.backend)
    if not backend.supports(Capability.APP_HOSTED):
        raise NotFound("This video is not uploaded through this server.")
    return backend


def open_upload(user: User, video_id: int, length: int | None, metadata: dict) -> Upload:
    """Create the tus upload that feeds one of the user's pending videos (`length` None:
    deferred, told by a later PATCH)."""
    video = db.session.get(Video, video_id)
    if video is None or video.submission.user_id != user.id:
        raise NotFound("There is no upload slot with this number for you. Start the upload "
                       "again from the assignment page.", code="upload_not_found")
    backend = _hosted_backend(video)
    if video.status not in UNFINISHED_VIDEO_STATES:
        raise Conflict("This attempt already has its video. Use 'Replace video' to upload "
                       "another one.", code="attempt_finished")
    rules.ensure_open_for_submission(video.submission.assignment, video.submission)
    limit = rules.size_limit(video.submission.assignment)
    if length is not None and length > limit:
        raise UploadTooLarge(rules.too_large_message(length, limit))
    store = backend.tus_store()
    for old in db.session.scalars(db.select(Upload).filter_by(video_id=video.id)):
        # The browser lost its resume fingerprint or the old upload expired: start afresh.
        store.remove(old.id)
        db.session.delete(old)
    upload = Upload(id=new_token(), video_id=video.id, user_id=user.id, length=length,
                    metadata_=metadata or None, expires_at=expiry_from_now())
    store.create(upload.id)
    video.backend_data = {**(video.backend_data or {}), UPLOAD_ID_KEY: upload.id}
    video.size_bytes = length
    db.session.add(upload)
    db.session.commit()
    log.info("tus upload created for video %s: %s bytes", video.id,
             "deferred" if length is None else length)
    return upload


def owned_upload(upload_id: str, *, user_id: int | None = None,
                 launch_id: str | None = None) -> Upload | None:
    """Load an upload with its video if its owner asks: by user, or by a live launch of
    theirs (one query). The one ownership check of both doors, the Flask view and the
    WSGI fast path (lti_tool/tus/fast.py)."""
    if len(upload_id) > 64 or (user_id is None) == (launch_id is None):
        return None
    query = (select(Upload).join(Upload.video).options(contains_eager(Upload.video))
             .where(Upload.id == upload_id))
    if launch_id is not None:
        query = query.join(LaunchRecord, LaunchRecord.user_id == Upload.user_id).where(
            LaunchRecord.id == launch_id, LaunchRecord.expires_at > utcnow())
    else:
        query = query.where(Upload.user_id == user_id)
    return db.session.execute(query).scalar_one_or_none()


def find_upload(user: User, upload_id: str) -> Upload:
    """Load one of the user's uploads, or raise 404 (unknown, not theirs) / 410 (expired)."""
    upload = owned_upload(upload_id, user_id=user.id)
    if upload is None:
        raise NotFound("This upload does not exist (any more). Start the upload again.",
                       code="upload_not_found")
    if upload.completed_at is None and upload.expires_at < utcnow():
        raise UploadGone("This unfinished upload expired. Start the upload again.")
    return upload


def current_offset(upload: Upload) -> int:
    """Return how many bytes the server holds, from the file on disk."""
    if upload.completed_at is not None:
        return upload.length
    backend = _hosted_backend(upload.video)
    on_disk = backend.tus_store().offset(upload.id)
    if on_disk is not None:
        return on_disk
    if _moved_into_place(backend, upload.video.storage_uid, upload.length):
        return upload.length  # finished by another request (or a worker died recording it)
    raise UploadGone("The data of this upload is gone. Start the upload again.")


def _moved_into_place(backend, storage_uid: str, length: int) -> bool:
    """Tell whether the whole upload already sits in the video storage."""
    try:
        return backend.media_path(storage_uid).stat().st_size == length
    except Exception:
        return False


@dataclass(frozen=True)
class Progress:
    """Where an upload stands after a PATCH: its offset, length (None while deferred) and
    (sliding) expiry."""

    offset: int
    length: int | None
    expires_at: datetime

    @property
    def unfinished(self) -> bool:
        return self.length is None or self.offset < self.length


def write(upload: Upload, readinto: ReadInto, offset: int,
          content_length: int | None, checksum: Checksum | None,
          declared_length: int | None = None) -> Progress:
    """Append a request body at `offset` under the upload's lock; return the new progress.

    `declared_length` is the Upload-Length a PATCH carries to end a deferred length
    (tus creation-defer-length: set once, never changed).
    """
    if declared_length is not None and upload.length is not None \
            and declared_length != upload.length:
        raise TusError("The length of this upload is already set and cannot change.")
    if upload.completed_at is not None:
        if offset != upload.length:
            raise OffsetMismatch(f"The upload is complete at {upload.length} bytes.")
        if content_length:
            raise UploadFinished("This upload is already complete.")
        return Progress(upload.length, upload.length, upload.expires_at)
    video = upload.video
    backend = _hosted_backend(video)
    store = backend.tus_store()
    upload_id, length, expires_at = upload.id, upload.length, upload.expires_at
    video_id, storage_uid, status = video.id, video.storage_uid, video.status
    # A deferred length: the body may fill what the assignment allows, no more.
    declaring = length is None and declared_length is not None
    room = rules.size_limit(video.submission.assignment) if length is None else length
    if declaring:
        if declared_length > room:
            raise UploadTooLarge(rules.too_large_message(declared_length, room))
        length = room = declared_length
    db.session.commit()  # hold no transaction while the body streams in
    try:
        with store.locked(upload_id) as fd:
            if declaring:
                _set_length(fd, upload_id, video_id, declared_length, offset)
            new_offset = _append_locked(store, fd, readinto, offset, room, content_length,
                                        checksum, deferred=length is None)
            finished = new_offset == length
            if finished:
                backend.attach_upload(storage_uid, upload_id)
    except FileNotFoundError:
        # A PATCH racing the one that completed the upload finds the file moved into place
        # before the database says so: the upload is complete, not gone (409 with the
        # offset; the client's HEAD then sees it finished).
        if _moved_into_place(backend, storage_uid, length):
            raise OffsetMismatch(f"The upload is complete at {length} bytes.") from None
        raise UploadGone("The data of this upload is gone. Start the upload again.") from None
    signals.upload_bytes_received.send(upload_id, count=new_offset - offset)
    if finished:
        _record_finished(upload_id, video_id)
        attempts.process_video(db.session.get(Video, video_id))
    else:
        expires_at = _slide_expiry(upload_id, video_id, expires_at, status)
    return Progress(new_offset, length, expires_at)


def _set_length(fd: int, upload_id: str, video_id: int, length: int, offset: int) -> None:
    """Record the length a deferred upload declares (under its lock, before its last bytes)."""
    if length < max(offset, os.fstat(fd).st_size):
        raise TusError("Upload-Length is smaller than what was already uploaded.")
    db.session.execute(update(Upload).where(Upload.id == upload_id).values(length=length))
    db.session.execute(update(Video).where(Video.id == video_id).values(size_bytes=length))
    db.session.commit()


def _append_locked(store: FileStore, fd: int, readinto: ReadInto, offset: int, length: int,
                   content_length: int | None, checksum: Checksum | None, *,
                   deferred: bool = False) -> int:
    """Append at `offset`, at most up to `length` (the upload's, or the room a deferred
    one has: then a body past it is refused with the assignment's limit, which is what
    the student can act on, not with an Upload-Length they never declared)."""
    current = os.fstat(fd).st_size
    if offset != current:
        raise OffsetMismatch(f"The upload is at byte {current}, not {offset}. Ask for the "
                             f"offset (HEAD) and resume from there.")
    remaining = length - current
    if content_length is not None and content_length > remaining:
        if deferred:
            raise UploadTooLarge(rules.too_large_message(current + content_length, length))
        raise UploadTooLarge(f"This request carries {content_length} bytes but only "
                             f"{remaining} remain of the declared Upload-Length.")
    hasher = hashlib.new(checksum.algorithm) if checksum else None
    want = remaining if content_length is None else content_length
    result = store.append(fd, readinto, want, hasher)
    if checksum is not None and (result.disconnected or result.digest != checksum.digest):
        store.truncate(fd, current)  # a part we cannot verify is not kept
        if result.disconnected:
            return current
        raise ChecksumMismatch("The data received does not match its checksum; "
                               "the part was discarded, send it again.")
    if result.overflow:
        store.truncate(fd, current)  # a refused request leaves nothing of itself behind
        if deferred:
            raise UploadTooLarge(rules.past_limit_message(length))
        raise UploadTooLarge("The request carried more bytes than the declared "
                             "Upload-Length.")
    return current + result.written


def _record_finished(upload_id: str, video_id: int) -> None:
    """Record that an upload received all its bytes."""
    upload = db.session.get(Upload, upload_id)
    video = db.session.get(Video, video_id)
    if upload is None or video is None:
        return
    upload.completed_at = utcnow()
    attempts.mark_uploaded(video)
    db.session.commit()


def _slide_expiry(upload_id: str, video_id: int, expires_at: datetime,
                  status: VideoStatus) -> datetime:
    """Push the expiry forward after a PATCH; return it.

    Written at most every few minutes, by UPDATE without loading rows, so a chunked upload
    does not pay database round trips per chunk.
    """
    fresh = expiry_from_now()
    changed = False
    if fresh - expires_at > EXPIRY_WRITE_STEP:
        db.session.execute(update(Upload).where(Upload.id == upload_id)
                           .values(expires_at=fresh))
        expires_at, changed = fresh, True
    if status == VideoStatus.PENDING:
        db.session.execute(update(Video).where(Video.id == video_id,
                                               Video.status == VideoStatus.PENDING)
                           .values(status=VideoStatus.UPLOADING))
        changed = True
    if changed:
        db.session.commit()
    return expires_at


def finish_if_full(upload: Upload) -> bool:
    """Finish an upload whose bytes are all on disk but not yet recorded; tell if done."""
    if upload.completed_at is not None:
        return True
    if upload.length is None or current_offset(upload) != upload.length:
        return False
    video = upload.video
    backend = _hosted_backend(video)
    store = backend.tus_store()
    if store.offset(upload.id) is not None:
        with store.locked(upload.id):
            backend.attach_upload(video.storage_uid, upload.id)
    _record_finished(upload.id, video.id)
    return True


def terminate(upload: Upload, actor: User) -> None:
    """End an unfinished upload at the student's request (tus termination)."""
    if upload.completed_at is not None:
        raise UploadFinished("This upload is finished and is part of your submission; "
                             "replace the video instead.")
    video = upload.video
    store = _hosted_backend(video).tus_store()
    with store.locked(upload.id):
        store.remove(upload.id)
    video.status = VideoStatus.DELETED
    video.deleted_at = utcnow()
    video.error_code, video.error_message = "upload_cancelled", "You cancelled this upload."
    audit.record(EventType.UPLOAD_DELETED, actor=actor, target=video,
                 course_id=video.submission.assignment.course_id)
    db.session.delete(upload)
    db.session.commit()


# ---- the local backend's side (lti_tool/storage/local) -------------------------------------

def _upload_of(backend_data) -> Upload | None:
    upload_id = (backend_data or {}).get(UPLOAD_ID_KEY)
    return db.session.get(Upload, upload_id) if isinstance(upload_id, str) else None


def received(backend_data) -> int | None:
    """Return how many bytes the upload feeding a video holds (0 before it starts)."""
    upload = _upload_of(backend_data)
    if upload is None:
        return 0
    try:
        return current_offset(upload)
    except ToolError:
        return None


def finish(backend_data) -> bool:
    """Finish the upload feeding a video if every byte is on disk; tell whether it is."""
    upload = _upload_of(backend_data)
    return upload is not None and finish_if_full(upload)


def discard(store: FileStore, backend_data) -> None:
    """Forget the upload feeding a video: its partial file and its row (no commit)."""
    upload_id = (backend_data or {}).get(UPLOAD_ID_KEY)
    if not isinstance(upload_id, str):
        return
    store.remove(upload_id)
    db.session.execute(db.delete(Upload).where(Upload.id == upload_id))


def expire(store: FileStore) -> list[ExpiredUpload]:
    """Remove unfinished uploads past their expiry, finished ones past the window, and
    partial files nobody owns; return the videos whose upload was removed unfinished."""
    now = utcnow()
    expired = []
    for upload in db.session.scalars(db.select(Upload).where(
            Upload.completed_at.is_(None), Upload.expires_at < now)).all():
        store.remove(upload.id)
        expired.append(ExpiredUpload(upload.video.storage_uid, {UPLOAD_ID_KEY: upload.id}))
        db.session.delete(upload)
    # Finished uploads only answer HEAD for a while; after the expiry window they can go.
    window = timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"])
    db.session.execute(db.delete(Upload).where(Upload.completed_at < now - window))
    db.session.commit()
    strays = _remove_stray_files(store, now)
    if expired or strays:
        log.info("removed %d expired and %d stray partial uploads", len(expired), strays)
    return expired


def _remove_stray_files(store: FileStore, now: datetime) -> int:
    """Remove partial files no upload row points at, once older than the expiry."""
    known = {safe_name(uid) for uid in db.session.scalars(db.select(Upload.id))}
    cutoff = (now - timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"])).timestamp()
    stray = 0
    for name, mtime in store.names():
        if name not in known and mtime < cutoff:
            (store.directory / name).unlink(missing_ok=True)
            stray += 1
    return stray
