"""Jobs for cloud storage: poll videos a provider is still processing, abort stale uploads.

Webhooks usually bring processing results; polling makes a site without webhooks (or one
that missed a delivery) work too. `settle` is the one way a provider's report moves an
attempt forward, shared by the webhook endpoint and these jobs.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from lti_tool.uploads import attempts as uploads
from lti_tool.errors import Forbidden, StorageError
from lti_tool.extensions import db
from lti_tool.models import Video, utcnow
from lti_tool.statuses import FINAL_VIDEO_STATES, VideoStatus
from lti_tool.storage import BACKENDS, backend_class, storage_for
from lti_tool.storage.base import Capability, UploadNotFound, VideoInfo
from lti_tool.storage.messages import MSG_UPLOAD_EXPIRED, UPLOAD_EXPIRED
from lti_tool.settings import read_setting

log = logging.getLogger(__name__)

POLL_BATCH = 100
S3_BACKEND = "s3"


def settle(video: Video, info: VideoInfo) -> bool:
    """Move an attempt forward on what its provider reports; True once it is final.

    Signals and audit events fire once: uploads.apply_info moves the attempt out of
    processing with a conditional UPDATE, so a webhook racing the poller cannot both win.
    """
    if video.status in FINAL_VIDEO_STATES or info.status in uploads.UNFINISHED:
        return video.status in FINAL_VIDEO_STATES
    if video.status in uploads.UNFINISHED:
        if info.error_code == UPLOAD_EXPIRED:
            video.status = VideoStatus.PROCESSING  # no byte arrived: nothing to audit
        else:
            try:
                uploads.mark_uploaded(video)
            except Forbidden:  # graded or locked meanwhile: the attempt was closed
                return True
        db.session.commit()
    if info.status in (VideoStatus.READY, VideoStatus.ERROR):
        uploads.apply_info(video, info)
    return video.status in FINAL_VIDEO_STATES


def polled_backends() -> list[str]:
    """Name the backends whose results arrive by webhook, hence may need polling."""
    names = []
    for name in BACKENDS:
        try:
            if backend_class(name).capabilities & {Capability.WEBHOOKS}:
                names.append(name)
        except ImportError:  # an optional SDK is missing: nothing of it to poll
            continue
    return names


def poll_stuck_videos() -> int:
    """Ask the provider about attempts not final after a while; return how many settled."""
    after = int(read_setting(current_app.config, "CLOUDFLARE_POLL_AFTER_SECONDS", 120))
    cutoff = utcnow() - timedelta(seconds=after)
    videos = db.session.scalars(
        db.select(Video).where(Video.backend.in_(polled_backends()),
                               Video.status.in_([VideoStatus.PENDING, VideoStatus.UPLOADING,
                                                 VideoStatus.PROCESSING]),
                               Video.storage_uid.is_not(None), Video.created_at < cutoff)
        .order_by(Video.created_at).limit(POLL_BATCH)).all()
    settled = 0
    for video in videos:
        try:
            info = storage_for(video.backend).inspect(video.storage_uid, video.backend_data)
        except UploadNotFound:
            info = VideoInfo(status=VideoStatus.ERROR, error_code=uploads.MISSING,
                             error_message=uploads.ERROR_MESSAGES[uploads.MISSING])
        except StorageError as exc:
            log.warning("polling video %s failed for now: %s", video.id, exc.message)
            continue
        if settle(video, info):
            settled += 1
    if videos:
        log.info("polled %d unfinished cloud videos, %d settled", len(videos), settled)
    return settled


def abort_stale_multipart_uploads() -> int:
    """Abort S3 multipart uploads started too long ago, and close their attempts."""
    if not read_setting(current_app.config, "S3_BUCKET", ""):
        return 0
    hours = int(read_setting(current_app.config, "S3_ABORT_MULTIPART_AFTER_HOURS", 48))
    backend = storage_for(S3_BACKEND)
    aborted = 0
    for key, upload_id in list(backend.stale_uploads(timedelta(hours=hours))):
        backend.abort_multipart(key, {"upload_id": upload_id})
        aborted += 1
        video = db.session.scalar(db.select(Video).filter_by(backend=S3_BACKEND,
                                                             storage_uid=key))
        if video is not None and (video.backend_data or {}).get("upload_id") == upload_id:
            settle(video, VideoInfo(status=VideoStatus.ERROR, error_code=UPLOAD_EXPIRED,
                                    error_message=MSG_UPLOAD_EXPIRED))
    if aborted:
        log.info("aborted %d stale S3 multipart uploads", aborted)
    return aborted
