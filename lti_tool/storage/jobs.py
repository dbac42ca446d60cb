"""Scheduled jobs over every storage backend: give up on unfinished uploads, and ask
providers about videos they are still processing.

Webhooks usually bring processing results; polling makes a site without webhooks (or one
that missed a delivery) work too. Both move attempts only through
`lti_tool.uploads.attempts.settle`, the one way a storage's report changes an attempt.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from lti_tool.errors import StorageError
from lti_tool.extensions import db
from lti_tool.models import Video, utcnow
from lti_tool.settings import read_setting
from lti_tool.statuses import UNFINISHED_VIDEO_STATES, VideoStatus
from lti_tool.storage import BACKENDS, backend_class, storage_for
from lti_tool.storage.base import Capability, ExpiringUploads, UploadNotFound, VideoInfo
from lti_tool.uploads import attempts

log = logging.getLogger(__name__)

POLL_BATCH = 100


def backends_with(capability: Capability | None = None, interface: type | None = None):
    """Yield the registered backends that declare `capability` or implement `interface`
    (a backend whose optional SDK is not installed has nothing to do)."""
    for name in BACKENDS:
        try:
            cls = backend_class(name)
        except ImportError:
            continue
        if (capability and capability in cls.capabilities) or (
                interface and issubclass(cls, interface)):
            yield name


def expire_unfinished_uploads() -> int:
    """Free unfinished uploads past their time on every backend that keeps them, and close
    their attempts (one job for all backends; safe to run twice). Return how many."""
    closed = 0
    for name in backends_with(interface=ExpiringUploads):
        for expired in storage_for(name).expire_uploads():
            video = db.session.scalar(db.select(Video).filter_by(
                backend=name, storage_uid=expired.storage_uid))
            mine = video is not None and all(
                (video.backend_data or {}).get(key) == value
                for key, value in (expired.backend_data or {}).items())
            if mine and video.status in UNFINISHED_VIDEO_STATES:
                attempts.delete_stored(video)  # what arrived of it will never be played
                attempts.settle(video, attempts.EXPIRED_INFO)
            closed += 1
    return closed


def poll_stuck_videos() -> int:
    """Ask the provider about attempts not final after a while; return how many settled."""
    after = int(read_setting(current_app.config, "CLOUDFLARE_POLL_AFTER_SECONDS", 120))
    cutoff = utcnow() - timedelta(seconds=after)
    videos = db.session.scalars(
        db.select(Video).where(Video.backend.in_(list(backends_with(Capability.WEBHOOKS))),
                               Video.status.in_([VideoStatus.PENDING, VideoStatus.UPLOADING,
                                                 VideoStatus.PROCESSING]),
                               Video.storage_uid.is_not(None), Video.created_at < cutoff)
        .order_by(Video.created_at).limit(POLL_BATCH)).all()
    settled = 0
    for video in videos:
        try:
            info = storage_for(video.backend).inspect(video.storage_uid, video.backend_data)
        except UploadNotFound:
            info = VideoInfo(status=VideoStatus.ERROR, error_code=attempts.MISSING,
                             error_message=attempts.ERROR_MESSAGES[attempts.MISSING])
        except StorageError as exc:
            log.warning("polling video %s failed for now: %s", video.id, exc.message)
            continue
        if attempts.settle(video, info):
            settled += 1
    if videos:
        log.info("polled %d unfinished cloud videos, %d settled", len(videos), settled)
    return settled
