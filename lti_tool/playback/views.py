"""Watching a video: signed, viewer-bound playback grants, attempt status, and the media
routes that serve app-hosted files with HTTP range requests.

The playback JSON checks who asks (permissions.py); the media and thumbnail routes check
only the signature, which binds the video, the viewer and an expiry, so they work inside
an LMS iframe where cookies are blocked.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from lti_tool import audit, signals
from lti_tool.access.launches import current_launch, current_role, require_launch
from lti_tool.access.permissions import (PlayableVideo, can_view_submission, get_playable_video,
                                         get_visible_video)
from lti_tool.audit import EventType
from lti_tool.captions.service import LANGUAGES
from lti_tool.errors import Conflict, Forbidden, NotFound
from lti_tool.extensions import db
from lti_tool.models import User, Video
from lti_tool.playback.grants import (GRANT_CAPTIONS, GRANT_DOWNLOAD, GRANT_MEDIA, GRANT_THUMBNAIL,
                                      read_grant, sign_grant)
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import RENDITION_MIME, Capability, StorageError, UploadNotFound
from lti_tool.uploads.attempts import refresh_status
from lti_tool.uploads.status import video_status
from lti_tool.web.rate_limits import client_address, limit
from lti_tool.web.request_input import clean_filename

log = logging.getLogger(__name__)

bp = Blueprint("playback", __name__, url_prefix="/api/videos")

PRIVATE_NO_STORE = "private, no-store, max-age=0"
VTT_MIME = "text/vtt"
TOKEN_PARAM = "token"
# The picture a sound-only submission's player shows (it has no thumbnail of its own).
SOUND_ONLY_POSTER = "img/sound-only.svg"


def _playable_video(video_id: int) -> PlayableVideo:
    launch = current_launch()
    # The viewer's role in the launch's course came with the launch (its enrollment): a
    # grader opening a video of that course costs no enrollment query.
    known = (launch.course_id, current_role()) if launch.course_id is not None else None
    try:
        return get_playable_video(launch.user, video_id, known)
    except NotFound:
        audit.record(EventType.PLAYBACK_REFUSED, actor=launch.user, commit=True,
                     video_id=video_id)
        raise


def grant_playback(video: PlayableVideo, viewer: User) -> dict:
    """Return a short-lived playback for a viewer already allowed to see the video."""
    if video.status != VideoStatus.READY:
        raise Conflict("This video is not ready to play yet.", code="video_not_ready")
    if not video.storage_uid:  # a row whose upload never reached the storage
        raise UploadNotFound("This video's file is not in the storage.")
    backend = storage_for(video.backend)
    ttl = int(current_app.config["PLAYBACK_URL_TTL_SECONDS"])
    address = binding_address()
    playback = backend.playback(video.storage_uid, viewer_id=viewer.id, video_id=video.id,
                                ttl_seconds=ttl, client_address=address,
                                rendition=video.has_rendition)
    if playback.thumbnail_url is None and video.has_thumbnail:
        playback.thumbnail_url = backend.thumbnail_url(
            video.storage_uid, viewer_id=viewer.id, video_id=video.id, ttl_seconds=ttl,
            client_address=address)
    if playback.thumbnail_url is None and video.is_sound_only:
        playback.thumbnail_url = url_for("static", filename=SOUND_ONLY_POSTER)
    granted = {"kind": playback.kind, "url": playback.url, "sound_only": video.is_sound_only,
               "expires_at": playback.expires_at.isoformat(),
               "thumbnail_url": playback.thumbnail_url, "mime_type": playback.mime_type,
               "tracks": caption_tracks(backend, video, viewer, playback.expires_at, address)}
    # The audit comes last: after its commit nothing here reads the rows again.
    audit.write(EventType.PLAYBACK_GRANTED, actor=viewer, target=video,
                course_id=video.course_id,
                backend=video.backend, ttl_seconds=ttl)
    signals.playback_granted.send(video)
    return granted


def binding_address() -> str | None:
    """Return the viewer's address when playback links are bound to it (a setting), else None.

    Off by default: campus NAT and mobile networks change a viewer's address while they
    watch, which would break their links (docs/security.md).
    """
    if not current_app.config.get("PLAYBACK_BIND_CLIENT_ADDRESS"):
        return None
    return client_address()


def caption_tracks(backend, video: PlayableVideo, viewer: User, expires: datetime,
                   address: str | None = None) -> list[dict]:
    """Return signed <track> sources for captions this app serves (none for providers'
    players, which show their own captions)."""
    if not (backend.supports(Capability.APP_HOSTED) and backend.supports(Capability.CAPTIONS)):
        return []
    try:
        held = backend.list_captions(video.storage_uid)
    except StorageError as exc:  # the video still plays, without captions
        log.warning("captions of video %s could not be listed: %s", video.id, exc.message)
        return []
    if not held:
        return []
    token = sign_grant(GRANT_CAPTIONS, video_id=video.id, viewer_id=viewer.id, expires=expires,
                       address=address)
    return [{"language": c["language"], "label": LANGUAGES.get(c["language"], c["language"]),
             "url": url_for("playback.captions_track", video_id=video.id,
                            language=c["language"], token=token)} for c in held]


@bp.get("/<int:video_id>/playback")
@limit("RATELIMIT_PLAYBACK")
@require_launch()
def playback(video_id: int):
    """Grant the asking viewer a short-lived, signed URL to play one video."""
    video = _playable_video(video_id)
    return jsonify(grant_playback(video, current_launch().user))


@bp.get("/<int:video_id>/status")
@require_launch()
def status(video_id: int):
    """Report one attempt's status (polled by the page until it is final)."""
    video = get_visible_video(current_launch().user, video_id)
    refresh_status(video)
    return jsonify(video_status(video))


def _granted_video(video_id: int, kinds: frozenset[str]) -> tuple[str, Video]:
    """Check a signed grant for this video; refuse with 403 whatever is wrong with it."""
    grant = read_grant(request.args.get(TOKEN_PARAM, ""), video_id, kinds,
                       address=client_address())
    video = db.session.get(Video, video_id) if grant else None
    viewer = db.session.get(User, grant[1]) if grant else None
    if (video is None or viewer is None or video.status != VideoStatus.READY
            or not can_view_submission(viewer, video.submission)):
        log.info("media grant refused for video %s", video_id)
        raise Forbidden("This video link is not valid or has expired. Reload the page to "
                        "get a new one.", code="media_link_invalid")
    if not storage_for(video.backend).supports(Capability.APP_HOSTED):
        raise NotFound("This video is not served by this server.")
    return grant[0], video


def _private(resp):
    resp.headers["Cache-Control"] = PRIVATE_NO_STORE
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cross-Origin-Resource-Policy"] = "same-site"
    return resp


@bp.get("/<int:video_id>/media")
def media(video_id: int):
    """Stream the video file with range requests (206/416) for a signed viewer."""
    kind, video = _granted_video(video_id, frozenset({GRANT_MEDIA, GRANT_DOWNLOAD}))
    backend = storage_for(video.backend)
    # Playback gets the rendition when processing made one; a download, the original.
    rendition = backend.rendition_path(video.storage_uid) if kind == GRANT_MEDIA else None
    try:
        path = rendition or backend.media_path(video.storage_uid)
    except StorageError:
        raise NotFound("The video file is missing from the storage.") from None
    mimetype = RENDITION_MIME if rendition else backend.media_mime_type(video.storage_uid)
    try:
        resp = send_file(path, mimetype=mimetype,
                         conditional=True, etag=False, max_age=0,
                         as_attachment=kind == GRANT_DOWNLOAD,
                         download_name=clean_filename(video.filename,
                                                      fallback=f"video-{video.id}"))
    except RequestedRangeNotSatisfiable:
        # Answer here: the generic error page would drop the Content-Range header.
        resp = Response(status=416, headers={
            "Content-Range": f"bytes */{path.stat().st_size}", "Accept-Ranges": "bytes"})
    return _private(resp)


@bp.get("/<int:video_id>/captions/<language>.vtt")
def captions_track(video_id: int, language: str):
    """Send one language's WebVTT captions to a signed viewer (a <track> source)."""
    _, video = _granted_video(video_id, frozenset({GRANT_CAPTIONS}))
    backend = storage_for(video.backend)
    try:
        path = backend.captions_path(video.storage_uid, language)
    except StorageError:
        path = None
    if path is None or not path.is_file():
        raise NotFound("This video has no captions in that language.")
    return _private(send_file(path, mimetype=VTT_MIME, conditional=True, etag=False,
                              max_age=0))


def _send_still(video_id: int, path_of: Callable, missing: str):
    """Send one of the video's JPEG stills to a viewer signed for its thumbnail."""
    _, video = _granted_video(video_id, frozenset({GRANT_THUMBNAIL}))
    path = path_of(storage_for(video.backend), video.storage_uid)
    if path is None:
        raise NotFound(missing)
    return _private(send_file(path, mimetype="image/jpeg", conditional=True, etag=False,
                              max_age=0))


@bp.get("/<int:video_id>/thumbnail")
def thumbnail(video_id: int):
    """Send the video's still image to a signed viewer."""
    return _send_still(video_id, lambda backend, uid: backend.thumbnail_path(uid),
                       "This video has no thumbnail.")


@bp.get("/<int:video_id>/strip")
def strip(video_id: int):
    """Send the video's hover strip (a few frames side by side) to a signed viewer."""
    return _send_still(video_id, lambda backend, uid: backend.strip_path(uid),
                       "This video has no hover strip.")
