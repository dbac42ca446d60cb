"""Provider webhooks: Cloudflare Stream tells us a video is ready or failed.

https://developers.cloudflare.com/stream/manage-video-library/using-webhooks/ : the
`Webhook-Signature` header is `time=<unix>,sig1=<hex HMAC-SHA256 of "<time>.<body>">` keyed
with the secret Cloudflare returned when the webhook was set. Stale times and replayed
signatures are refused; handling the same result twice changes nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import Conflict, ToolError
from lti_tool.extensions import db
from lti_tool.models import KeyValue, Video, utcnow
from lti_tool.settings import read_setting
from lti_tool.storage.cloudflare.backend import CloudflareStorage, video_info_from
from lti_tool.uploads import attempts
from lti_tool.web.request_input import BadInput, loads_object

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

SIGNATURE_HEADER = "Webhook-Signature"
MAX_AGE_SECONDS = 300
MAX_BODY_BYTES = 256 * 1024
REPLAY_KEY_PREFIX = "webhook-sig:"
# A Unix time in ASCII digits (12 reach the year 33658); anything else is malformed.
UNIX_TIME = re.compile(r"[0-9]{1,12}")


class BadSignature(ToolError):
    http_status = 401
    code = "bad_signature"
    title = "Webhook signature refused"


def verify_signature(header: str, body: bytes, secret: str, now: float | None = None) -> str:
    """Check a Webhook-Signature against the body; return sig1 or raise BadSignature."""
    fields = {}
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    stamp, sig = fields.get("time", ""), fields.get("sig1", "")
    if not UNIX_TIME.fullmatch(stamp) or not sig:
        raise BadSignature("The Webhook-Signature header is missing or malformed.")
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > MAX_AGE_SECONDS:
        raise BadSignature("The webhook's time is too far from now.", code="stale_signature")
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), sig.lower()):
        raise BadSignature("The webhook signature does not match.")
    return sig.lower()


def remember_signature(sig: str) -> None:
    """Record a signature as used; raise Conflict when it was seen before (a replay)."""
    key = REPLAY_KEY_PREFIX + sig
    existing = db.session.get(KeyValue, key)
    if existing is not None and existing.expires_at > utcnow():
        raise Conflict("This webhook was already received.", code="webhook_replayed")
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    db.session.add(KeyValue(key=key, value=True,
                            expires_at=utcnow() + timedelta(seconds=2 * MAX_AGE_SECONDS)))
    try:
        db.session.commit()
    except IntegrityError:  # the same delivery, arriving twice at once
        db.session.rollback()
        raise Conflict("This webhook was already received.", code="webhook_replayed") from None


@bp.post("/cloudflare-stream")
def cloudflare_stream():
    """Receive a Stream processing result, verify it, and settle the attempt it names."""
    secret = read_setting(current_app.config, "CLOUDFLARE_WEBHOOK_SECRET", "")
    if not secret:
        log.error("Cloudflare webhook received but CLOUDFLARE_WEBHOOK_SECRET is not set; "
                  "run `flask --app wsgi storage cloudflare-set-webhook`")
        raise ToolError("Webhooks are not configured on this site.", code="webhook_disabled",
                        http_status=503)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ToolError("The webhook body is too large.", code="too_large", http_status=413)
    body = request.stream.read(MAX_BODY_BYTES + 1)  # bounded without a Content-Length too
    if len(body) > MAX_BODY_BYTES:
        raise ToolError("The webhook body is too large.", code="too_large", http_status=413)
    sig = verify_signature(request.headers.get(SIGNATURE_HEADER, ""), body, secret)
    remember_signature(sig)
    try:
        payload = loads_object(body)
        uid = payload["uid"]
    except (BadInput, KeyError):
        raise ToolError("The webhook body is not a Stream video.", code="bad_request") from None
    if not isinstance(uid, str) or not 0 < len(uid) <= 64:
        raise ToolError("The webhook body is not a Stream video.", code="bad_request")
    video = db.session.scalar(db.select(Video).filter_by(backend=CloudflareStorage.name,
                                                         storage_uid=str(uid)))
    if video is None:  # another application on the same account, or a deleted attempt
        log.info("Cloudflare webhook for unknown video %s ignored", uid)
        return jsonify({"ok": True, "ignored": "unknown video"})
    info = video_info_from(payload, (video.backend_data or {}).get("max_duration_seconds"))
    audit.record(EventType.WEBHOOK_RECEIVED, target=video,
                 course_id=video.submission.assignment.course_id, provider="cloudflare",
                 state=str(info.status), commit=True)
    attempts.settle(video, info)
    return jsonify({"ok": True, "video_id": video.id, "status": video.status})
