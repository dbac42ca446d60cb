"""The processing job: one attempt from "processing" to "ready" (or an error a student can act
on): sniff, probe, check limits, thumbnail, rendition when browsers need one (a sound-only file,
where the assignment accepts one: no thumbnail, an AAC rendition when browsers need one).

Safe to run twice and to run after a killed worker: a video no longer processing is left
alone, a worker first takes a lease on the video (so two never work on one), and files
already made are not made again. Errors of the storage or of the machine are raised for
Huey to retry; errors of the file become the attempt's error.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, update

from lti_tool.extensions import db
from lti_tool.models import RENDITION_MADE, SOUND_ONLY, STRIP_MADE, Video, utcnow
from lti_tool.processing import media, messages, workdirs
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability, Derived, UploadNotFound, VideoInfo
from lti_tool.uploads import attempts, video_checks

log = logging.getLogger(__name__)


class Outcome:
    """What one run of the job did (for logs and tests)."""

    DONE_ALREADY = "done_already"  # not processing any more: nothing to do
    PROVIDER = "provider"  # the backend processes videos itself: asked it
    BUSY = "busy"  # another worker holds the lease
    READY = "ready"
    REFUSED = "refused"


def process(video_id: int) -> str:
    """Process one uploaded attempt; return the Outcome."""
    video = db.session.get(Video, video_id)
    if video is None or video.status != VideoStatus.PROCESSING:
        return Outcome.DONE_ALREADY
    backend = storage_for(video.backend)
    if not backend.supports(Capability.PROCESSING):
        attempts.process_video(video)
        return Outcome.PROVIDER
    if not claim(video):
        return Outcome.BUSY
    if video.processing_tries > int(current_app.config["PROCESSING_MAX_TRIES"]):
        return _refuse(video, media.Refused(messages.GAVE_UP, "too many tries"))
    try:
        with workdirs.job_dir(work_root(), video_id, stale_work_seconds()) as tmp:
            info = _work(backend, video, tmp)
    except media.Refused as refused:
        return _refuse(video, refused)
    except UploadNotFound:
        return _refuse(video, media.Refused(attempts.MISSING, "original missing",
                                            attempts.ERROR_MESSAGES[attempts.MISSING]))
    except BaseException:
        release(video_id)  # let the retry (or the sweep) take it at once
        raise
    _record(video_id, processing_percent=100.0, processing_eta_seconds=0,
            processing_lease_until=None)
    attempts.apply_info(video, info)
    return Outcome.READY


def claim(video: Video) -> bool:
    """Take the video's lease unless a live worker holds it; count the try (committed)."""
    now = utcnow()
    taken = db.session.execute(
        update(Video).where(Video.id == video.id, Video.status == VideoStatus.PROCESSING,
                            or_(Video.processing_lease_until.is_(None),
                                Video.processing_lease_until < now))
        .values(processing_lease_until=now + _lease(),
                processing_tries=Video.processing_tries + 1,
                processing_percent=None, processing_eta_seconds=None))
    db.session.commit()
    if taken.rowcount == 1:
        db.session.refresh(video)
    return taken.rowcount == 1


def release(video_id: int) -> None:
    """Give the lease back after a failure that a retry may get past."""
    db.session.rollback()
    _record(video_id, processing_lease_until=None)


def work_root() -> Path:
    """Return where the jobs' temporary directories go on this machine."""
    return workdirs.work_root(current_app.config.get("PROCESSING_WORK_DIR"))


def stale_work_seconds() -> float:
    """Return how long an untouched job directory lives before a sweep removes it."""
    return float(current_app.config["PROCESSING_STALE_WORK_HOURS"]) * 3600


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config["PROCESSING_LEASE_SECONDS"]))


def _record(video_id: int, **values) -> None:
    """Write progress or lease fields now (committed: pages read them while the job runs)."""
    db.session.execute(update(Video).where(Video.id == video_id).values(**values))
    db.session.commit()


def _work(backend, video: Video, workdir: Path) -> VideoInfo:
    video_id, uid = video.id, video.storage_uid
    container = media.sniff(backend.read_header(uid, video_checks.HEADER_BYTES),
                            video.filename or "")
    src = backend.original_file(uid, workdir)
    found = media.probe(src, container)
    assignment = video.submission.assignment
    media.check_limits(found, assignment.max_duration_seconds, assignment.accepts_audio)
    plan = media.plan_for(found)
    info = {**found.as_dict(), "plan": plan.value, RENDITION_MADE: plan is not media.Plan.KEEP,
            SOUND_ONLY: found.sound_only}
    _record(video_id, media_info=info, processing_lease_until=utcnow() + _lease())
    log.info("video %s: %s %s/%s %sx%s rot %s, %.1f s: %s", video_id, found.container,
             found.video_codec, found.audio_codec, found.width, found.height, found.rotation,
             found.duration_seconds or 0, plan.value)
    has_thumbnail = backend.has_derived(uid, Derived.THUMBNAIL)
    if not has_thumbnail and not found.sound_only:  # no picture: no still, no strip
        thumb = workdir / Derived.THUMBNAIL
        if media.make_thumbnail(src, thumb, found.duration_seconds):
            backend.store_derived(uid, Derived.THUMBNAIL, thumb)
            has_thumbnail = True
    if has_thumbnail and _make_strip(backend, uid, src, workdir, found):
        info[STRIP_MADE] = True
        _record(video_id, media_info=info)
    if plan is not media.Plan.KEEP and not backend.has_derived(uid, Derived.RENDITION):
        rendition = workdir / Derived.RENDITION
        _encode(video_id, src, rendition, found, plan)
        backend.store_derived(uid, Derived.RENDITION, rendition)
    width, height = found.display_size
    return VideoInfo(status=VideoStatus.READY, duration_seconds=found.duration_seconds,
                     width=width, height=height, has_thumbnail=has_thumbnail)


def _make_strip(backend, uid: str, src: Path, workdir: Path,
                found: media.MediaProbe) -> bool:
    """Make and store the hover strip unless it is there; tell whether the video has one."""
    if backend.has_derived(uid, Derived.STRIP):
        return True
    strip = workdir / Derived.STRIP
    if not media.make_strip(src, strip, found.duration_seconds):
        return False
    backend.store_derived(uid, Derived.STRIP, strip)
    return True


def _encode(video_id: int, src: Path, dest: Path, found: media.MediaProbe,
            plan: media.Plan) -> None:
    """Make the rendition (a copy into MP4 first when that is enough), keeping the lease."""
    config = current_app.config
    settings = media.EncodeSettings(
        time_limit_seconds=int(config["PROCESSING_TIME_LIMIT_SECONDS"]),
        niceness=int(config["PROCESSING_NICENESS"]),
        threads=int(config["PROCESSING_FFMPEG_THREADS"]),
        preset=config["PROCESSING_PRESET"])

    def progress(percent: float, eta: float | None) -> None:
        _record(video_id, processing_percent=percent,
                processing_eta_seconds=None if eta is None else int(eta),
                processing_lease_until=utcnow() + _lease())

    try:
        media.encode(src, dest, found, plan, settings, progress)
        return
    except media.EncodeTimedOut as exc:
        raise media.Refused(messages.TRANSCODE_TIMEOUT, str(exc)) from None
    except media.EncodeFailed as exc:
        if plan is not media.Plan.REMUX:
            raise media.Refused(messages.TRANSCODE_FAILED, str(exc)) from None
        log.info("video %s: copying into MP4 failed (%s); re-encoding", video_id, exc)
    _encode(video_id, src, dest, found, media.Plan.TRANSCODE)


def _refuse(video: Video, refused: media.Refused) -> str:
    log.info("video %s refused: %s (%s)", video.id, refused.code, refused)
    _record(video.id, processing_lease_until=None, processing_eta_seconds=None)
    attempts.apply_info(video, VideoInfo(status=VideoStatus.ERROR, error_code=refused.code,
                                         error_message=refused.message))
    return Outcome.REFUSED
