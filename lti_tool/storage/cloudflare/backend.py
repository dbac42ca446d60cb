"""Cloudflare Stream: the browser uploads over tus straight to Cloudflare and plays from it.

Upload: https://developers.cloudflare.com/stream/uploading-videos/direct-creator-uploads/
(tus with `direct_user=true`; the one-time URL is in `Location`, the uid in
`stream-media-id`). Playback: every video requires signed URLs; tokens are signed locally
(signing.py) or, without a signing key, by the `/token` endpoint. Processing results arrive
by webhook (webhooks.py) or by polling (lti_tool/storage/jobs.py).
"""
from __future__ import annotations

import base64
import logging
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

from lti_tool import outbound
from lti_tool.errors import ToolError
from lti_tool.settings import read_setting
from lti_tool.statuses import VideoStatus
from lti_tool.storage.base import (BackendUnavailable, BrowserDirective, Capability,
                                   CaptionGeneration, CaptionStore, ConnectionCheck,
                                   ConnectionChecks, Health, Playback, PlaybackKind,
                                   StorageBackend, StoredObject, UploadMethod, UploadRequest,
                                   UploadTicket, UploadTooLarge, VideoInfo)
from lti_tool.storage.cloudflare.api import TUS_VERSION, CloudflareClient
from lti_tool.storage.cloudflare.signing import SigningKeyError, sign_stream_token
from lti_tool.storage.messages import MSG_MISCONFIGURED, MSG_UPLOAD_EXPIRED, UPLOAD_EXPIRED
from lti_tool.uploads.limits import site_limits
from lti_tool.web.formatting import format_size
from lti_tool.web.request_input import clean_filename

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB
# The resume offer waits at most this long for Stream to say how much arrived.
RECEIVED_BYTES_TIMEOUT_SECONDS = 5.0
# tus chunks Cloudflare accepts: multiples of 256 KiB, 5 MiB to 200 MiB (50 MiB advised).
CHUNK_MULTIPLE = 256 * KIB
MIN_CHUNK = 5 * MIB
MAX_CHUNK = 200 * MIB
MAX_FILE = 30 * 1024 * MIB  # Stream's largest upload
# Direct creator uploads take a maxDurationSeconds between 1 and 21,600 (6 hours).
MAX_DURATION_LIMIT = 21_600
# A page of the video list (up to 1000 videos) runs to a few MB.
API_MAX_RESPONSE_BYTES = 32 * MIB
# A one-time upload URL may live at most 6 hours.
MAX_UPLOAD_URL_LIFETIME = timedelta(hours=6)
# Cloudflare's player SDK, which static/js/player.js loads to drive the player's iframe.
STREAM_SDK_ORIGIN = "https://embed.cloudflarestream.com"
# Our marker in a video's `meta`, naming the Video row it belongs to (orphan detection).
META_VIDEO_ID = "lti_video_id"

# Cloudflare's video states (status.state) and ours.
STATE_MAP = {
    "pendingupload": VideoStatus.UPLOADING,
    "downloading": VideoStatus.PROCESSING,
    "queued": VideoStatus.PROCESSING,
    "inprogress": VideoStatus.PROCESSING,
    "ready": VideoStatus.READY,
    "error": VideoStatus.ERROR,
}

# errorReasonCode -> what the student reads.
ERROR_MESSAGES = {
    "ERR_NON_VIDEO": "The file you uploaded is not a video the service can read. Please "
                     "upload a video file, for example MP4 or MOV.",
    "ERR_DURATION_EXCEED_CONSTRAINT": "The video is longer than this assignment allows{limit}. "
                                      "Please shorten it and upload it again.",
    "ERR_MALFORMED_VIDEO": "The video file is damaged or incomplete. Export it again from "
                           "your camera or editing app, then upload it again.",
    "ERR_DURATION_TOO_SHORT": "The video is too short to be played (under a tenth of a "
                              "second). Please check you chose the right file.",
    "ERR_FETCH_ORIGIN_ERROR": "The video could not be fetched. Please upload it again.",
}
GENERIC_ERROR = ("The video service could not process this video. Please upload it again; "
                 "if it fails again, export it as MP4 (H.264) and try once more.")


def error_message(code: str | None, max_duration_seconds: int | None = None) -> str:
    """Return the student-facing message for a Cloudflare errorReasonCode."""
    template = ERROR_MESSAGES.get(code or "", GENERIC_ERROR)
    limit = ""
    if max_duration_seconds:
        minutes = max_duration_seconds / 60
        limit = f" (at most {minutes:g} minutes)"
    return template.replace("{limit}", limit)


def chunk_size_for(setting: int) -> int:
    """Return a tus chunk size Cloudflare accepts, as near the setting as allowed."""
    size = max(MIN_CHUNK, min(int(setting), MAX_CHUNK))
    return size - size % CHUNK_MULTIPLE


def video_info_from(video: Mapping[str, Any], max_duration_seconds: int | None = None,
                    now: datetime | None = None) -> VideoInfo:
    """Translate a Stream video object (API or webhook body) into our VideoInfo."""
    status_obj = video.get("status") or {}
    state = status_obj.get("state") or "pendingupload"
    status = STATE_MAP.get(state, VideoStatus.PROCESSING)
    if status == VideoStatus.READY and video.get("readyToStream") is False:
        status = VideoStatus.PROCESSING
    info = VideoInfo(status=status, size_bytes=_positive(video.get("size")),
                     duration_seconds=_positive(video.get("duration"), float),
                     width=_positive((video.get("input") or {}).get("width")),
                     height=_positive((video.get("input") or {}).get("height")),
                     has_thumbnail=status == VideoStatus.READY and bool(video.get("thumbnail")))
    if status == VideoStatus.ERROR:
        code = (status_obj.get("errorReasonCode") or status_obj.get("errReasonCode")
                or "ERR_UNKNOWN")
        info.error_code = code
        info.error_message = error_message(code, max_duration_seconds
                                           or _positive(video.get("maxDurationSeconds")))
    elif status == VideoStatus.UPLOADING:
        expiry = _parse_time(video.get("uploadExpiry"))
        if expiry is not None and expiry < (now or datetime.now(timezone.utc)):
            info.status = VideoStatus.ERROR
            info.error_code = UPLOAD_EXPIRED
            info.error_message = MSG_UPLOAD_EXPIRED
    return info


def address_rules(client_address: str | None) -> list[dict] | None:
    """Return Stream access rules allowing one client address and blocking all others."""
    if not client_address:
        return None
    prefix = 128 if ":" in client_address else 32
    return [{"type": "ip.src", "action": "allow", "ip": [f"{client_address}/{prefix}"]},
            {"type": "any", "action": "block"}]


class CloudflareStorage(StorageBackend, CaptionStore, CaptionGeneration, ConnectionChecks):
    """Videos held by Cloudflare Stream, uploaded by students over tus."""

    name = "cloudflare"
    capabilities = frozenset({Capability.TUS, Capability.SIGNED_PLAYBACK,
                              Capability.THUMBNAILS, Capability.CAPTIONS,
                              Capability.CAPTION_GENERATION, Capability.WEBHOOKS,
                              Capability.CONNECTION_CHECK})

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self._session = outbound.session(config, max_bytes=API_MAX_RESPONSE_BYTES)

    def setting(self, name: str, default: Any = None) -> Any:
        """Return one of this backend's settings (admin override, else environment)."""
        return read_setting(self.config, name, default)

    def client(self, max_retries: int | None = None) -> CloudflareClient:
        """Return an API client built from the current settings; `max_retries` overrides
        CLOUDFLARE_API_MAX_RETRIES (0: one attempt, to diagnose)."""
        return CloudflareClient(
            base_url=self.setting("CLOUDFLARE_API_BASE", "https://api.cloudflare.com/client/v4"),
            account_id=self.setting("CLOUDFLARE_ACCOUNT_ID", ""),
            api_token=self.setting("CLOUDFLARE_API_TOKEN", ""),
            max_retries=(int(self.setting("CLOUDFLARE_API_MAX_RETRIES", 4))
                         if max_retries is None else max_retries),
            timeout=float(self.setting("CLOUDFLARE_API_TIMEOUT_SECONDS", 20)),
            backoff_seconds=float(self.config.get("CLOUDFLARE_API_BACKOFF_SECONDS", 0.5)),
            session=self._session)

    def browser_origins(self) -> dict[BrowserDirective, list[str]]:
        """Return the player SDK, the customer subdomain (player, thumbnails), the tus hosts."""
        origins = {
            BrowserDirective.SCRIPT: [STREAM_SDK_ORIGIN],
            BrowserDirective.CONNECT: re.split(
                r"[\s,]+", (self.setting("CLOUDFLARE_UPLOAD_ORIGINS", "") or "").strip()),
        }
        delivery = self._delivery_origin()
        if delivery:
            origins[BrowserDirective.FRAME] = [delivery]
            origins[BrowserDirective.IMG] = [delivery]
        return origins

    # --- upload ------------------------------------------------------------------------

    def create_upload(self, req: UploadRequest) -> UploadTicket:
        """Ask Cloudflare for a one-time tus upload URL reserved for this student."""
        limit = min(site_limits(self.config).max_bytes, MAX_FILE)
        if req.size_bytes > limit:
            raise UploadTooLarge(f"The video is larger than the {format_size(limit)} this "
                                 "site accepts.")
        max_duration = min(max(int(req.max_duration_seconds or self.setting(
            "CLOUDFLARE_MAX_DURATION_SECONDS", 7200)), 2), MAX_DURATION_LIMIT)
        lifetime = min(timedelta(hours=int(self.setting("UPLOAD_EXPIRY_HOURS", 6))),
                       MAX_UPLOAD_URL_LIFETIME)
        expires_at = (datetime.now(timezone.utc) + lifetime).replace(microsecond=0)
        metadata = {
            "name": f"video {req.video_id}: {clean_filename(req.filename)}"[:200],
            "maxDurationSeconds": str(max_duration),
            "expiry": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "requiresignedurls": None,
            META_VIDEO_ID: str(req.video_id),
        }
        resp = self.client().send("POST", "", params={"direct_user": "true"}, headers={
            "Tus-Resumable": TUS_VERSION,
            "Upload-Length": str(req.size_bytes),
            "Upload-Metadata": tus_metadata(metadata),
            "Upload-Creator": str(req.owner_id),
        })
        location = resp.headers.get("Location")
        uid = resp.headers.get("stream-media-id")
        if not location or not uid:
            log.error("Cloudflare tus creation answered %s without Location or "
                      "stream-media-id", resp.status_code)
            raise BackendUnavailable("The video service did not give an upload address. "
                                     "Please try again in a moment.")
        log.info("cloudflare upload created video=%s uid=%s size=%s", req.video_id, uid,
                 req.size_bytes)
        return UploadTicket(
            method=UploadMethod.TUS, storage_uid=uid, endpoint=location,
            chunk_size=chunk_size_for(int(self.setting("CLOUDFLARE_TUS_CHUNK_BYTES", 50 * MIB))),
            backend_data={"tus_url": location, "max_duration_seconds": max_duration,
                          "upload_expiry": expires_at.isoformat()},
            expires_at=expires_at)

    def received_bytes(self, storage_uid: str,
                       backend_data: Mapping[str, Any] | None = None) -> int | None:
        """Ask Stream's tus endpoint how much of an unfinished upload arrived (tus HEAD).

        The browser's resume offer shows this; without it a reload read "0 % arrived"
        while Stream held most of the file. The one-time upload URL needs no API token.
        """
        url = (backend_data or {}).get("tus_url")
        if not url:
            return None
        try:
            resp = self._session.request("HEAD", url, headers={"Tus-Resumable": TUS_VERSION},
                                         timeout=RECEIVED_BYTES_TIMEOUT_SECONDS)
        except outbound.OutboundError as exc:
            log.info("could not ask Cloudflare how much of %s arrived: %s", storage_uid,
                     exc.message)
            return None
        offset = resp.headers.get("Upload-Offset", "")
        if resp.status_code >= 300 or not offset.isdigit():
            log.info("Cloudflare tus HEAD for %s answered %s without an offset", storage_uid,
                     resp.status_code)
            return None
        return int(offset)

    def inspect(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> VideoInfo:
        """Return what Stream knows about the video now (GET /stream/{uid})."""
        video = self.client().call("GET", f"/{storage_uid}")
        max_duration = (backend_data or {}).get("max_duration_seconds")
        return video_info_from(video or {}, max_duration)

    # --- playback ----------------------------------------------------------------------

    def playback(self, storage_uid: str, *, viewer_id: int, video_id: int,
                 ttl_seconds: int, client_address: str | None = None,
                 rendition: bool = False) -> Playback:
        """Return the Stream player URL with a short-lived signed token."""
        token, exp = self.signed_token(storage_uid, ttl_seconds, client_address)
        base = self._delivery_base()
        return Playback(kind=PlaybackKind.IFRAME, url=f"{base}/{token}/iframe",
                        expires_at=datetime.fromtimestamp(exp, timezone.utc),
                        thumbnail_url=f"{base}/{token}/thumbnails/thumbnail.jpg")

    def thumbnail_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                      ttl_seconds: int, client_address: str | None = None) -> str | None:
        """Return the video's thumbnail, signed for a short time."""
        token, _ = self.signed_token(storage_uid, ttl_seconds, client_address)
        return f"{self._delivery_base()}/{token}/thumbnails/thumbnail.jpg"

    def signed_token(self, storage_uid: str, ttl_seconds: int,
                     client_address: str | None = None) -> tuple[str, int]:
        """Return (token, exp): signed locally with the key, else by the /token endpoint.

        With `client_address` the token carries access rules that let only that address
        play (Stream's `ip.src` rule, then block everything else).
        """
        key_id = self.setting("CLOUDFLARE_SIGNING_KEY_ID", "")
        pem = self.setting("CLOUDFLARE_SIGNING_KEY_PEM", "")
        rules = address_rules(client_address)
        if key_id and pem:
            try:
                return sign_stream_token(storage_uid, key_id=key_id, pem=pem,
                                         ttl_seconds=ttl_seconds, access_rules=rules)
            except SigningKeyError as exc:
                log.error("Cloudflare signing key unusable (%s); asking the /token endpoint",
                          exc)
        now = int(time.time())
        exp = now + int(ttl_seconds)
        body: dict[str, Any] = {"exp": exp, "nbf": now - 60}
        if rules:
            body["accessRules"] = rules
        result = self.client().call("POST", f"/{storage_uid}/token", json=body)
        token = (result or {}).get("token")
        if not token:
            raise BackendUnavailable("The video service did not grant playback. Please try "
                                     "again in a moment.")
        return token, exp

    def _delivery_origin(self) -> str | None:
        subdomain = (self.setting("CLOUDFLARE_CUSTOMER_SUBDOMAIN", "") or "").strip().rstrip("/")
        if not subdomain:
            return None
        # Given with a scheme or without ("http://customer-x..." too): always https, once.
        host = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", subdomain)
        return f"https://{host}"

    def _delivery_base(self) -> str:
        base = self._delivery_origin()
        if base is None:
            log.error("CLOUDFLARE_CUSTOMER_SUBDOMAIN is not set (customer-<code>."
                      "cloudflarestream.com, shown in the Stream dashboard)")
            raise BackendUnavailable(MSG_MISCONFIGURED)
        return base

    # --- management --------------------------------------------------------------------

    def delete(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> None:
        """Delete the video and its derivatives; a video already gone is fine."""
        self.client().send("DELETE", f"/{storage_uid}", not_found_ok=True)
        log.info("cloudflare video deleted uid=%s", storage_uid)

    def list_objects(self) -> Iterator[StoredObject]:
        """Yield every video this tool uploaded (carrying our meta marker), oldest first.

        Stream lists up to 1000 videos per request and pages by creation time, not by
        page number: ask again for videos created after the last one seen.
        """
        client = self.client()
        seen: set[str] = set()
        after: str | None = None
        while True:
            params = {"asc": "true"}
            if after:
                params["start"] = after
            page = client.call("GET", "", params=params) or []
            fresh = [v for v in page if v.get("uid") not in seen]
            if not fresh:
                return
            for video in fresh:
                seen.add(video["uid"])
                if META_VIDEO_ID in (video.get("meta") or {}):
                    yield StoredObject(storage_uid=video["uid"],
                                       size_bytes=_positive(video.get("size")),
                                       created_at=_parse_time(video.get("created")))
            after = fresh[-1].get("created") or after

    def check_connection(self, origin: str) -> list[ConnectionCheck]:
        """Check the account and token, the signing key and the webhook (checks.py); the
        browser talks to Cloudflare's own hosts, so `origin` needs nothing there."""
        from lti_tool.storage.cloudflare.checks import check_connection
        return check_connection(self, origin)

    def health(self) -> Health:
        """Check the API answers and report storage use against the purchased minutes."""
        missing = [n for n in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN",
                               "CLOUDFLARE_CUSTOMER_SUBDOMAIN") if not self.setting(n, "")]
        if missing:
            return Health(False, "Missing settings: " + ", ".join(missing))
        try:
            usage = self.client().call("GET", "/storage-usage") or {}
        except Exception as exc:  # reported, not raised: health is a diagnosis
            return Health(False, getattr(exc, "message", str(exc)))
        used = usage.get("totalStorageMinutes")
        limit = usage.get("totalStorageMinutesLimit")
        detail = f"{used or 0:.0f} of {limit or 0:.0f} storage minutes used"
        notes = []
        if not self.setting("CLOUDFLARE_SIGNING_KEY_ID", ""):
            notes.append("no signing key: every view calls the /token endpoint")
        if not self.setting("CLOUDFLARE_WEBHOOK_SECRET", ""):
            notes.append("no webhook secret: results arrive by polling only")
        if notes:
            detail += " (" + "; ".join(notes) + ")"
        return Health(bool(limit is None or (used or 0) < limit), detail)

    # --- captions ----------------------------------------------------------------------

    def upload_captions(self, storage_uid: str, language: str, vtt: bytes) -> None:
        """Add or replace the WebVTT captions of one language."""
        self.client().call("PUT", f"/{storage_uid}/captions/{_language(language)}",
                           files={"file": (f"{language}.vtt", vtt, "text/vtt")})

    def generate_captions(self, storage_uid: str, language: str) -> None:
        """Ask Stream to generate captions for the spoken language (video must be ready)."""
        self.client().call("POST", f"/{storage_uid}/captions/{_language(language)}/generate")

    def list_captions(self, storage_uid: str) -> list[dict]:
        """Return the video's captions: language, label, generated, status."""
        return [{"language": c.get("language"), "label": c.get("label"),
                 "generated": bool(c.get("generated")), "status": c.get("status", "ready")}
                for c in self.client().call("GET", f"/{storage_uid}/captions") or []]

    def delete_captions(self, storage_uid: str, language: str) -> None:
        """Remove one language's captions; already gone is fine."""
        self.client().send("DELETE", f"/{storage_uid}/captions/{_language(language)}",
                           not_found_ok=True)

    # --- operator actions (storage_cli.py) --------------------------------------------

    def create_signing_key(self) -> dict:
        """Create a Stream signing key; Cloudflare shows its private part only this once."""
        return self.client().call("POST", "/keys") or {}

    def set_webhook(self, notification_url: str) -> dict:
        """Point the account's (single) webhook at our endpoint; returns the secret."""
        return self.client().call("PUT", "/webhook",
                                  json={"notificationUrl": notification_url}) or {}


def tus_metadata(values: Mapping[str, str | None]) -> str:
    """Encode an Upload-Metadata header: `key base64(value)` pairs, bare keys for flags."""
    parts = []
    for key, value in values.items():
        if value is None:
            parts.append(key)
        else:
            parts.append(f"{key} {base64.b64encode(value.encode()).decode()}")
    return ",".join(parts)


def _language(tag: str) -> str:
    """Return a BCP 47 tag safe for a URL path, or refuse it."""
    tag = (tag or "").strip()
    if not tag or len(tag) > 35 or not all(c.isalnum() or c == "-" for c in tag):
        raise ToolError("Choose a language such as en, fr or pt-BR.", code="bad_language")
    return tag


def _positive(value: Any, kind: type = int):
    """Return value as `kind` when it is a positive number (Stream uses -1 for unknown)."""
    try:
        number = kind(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
