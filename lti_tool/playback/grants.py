"""Signed, short-lived grants to fetch one video's bytes from the app (the local backend's
media, thumbnail, download and caption routes in lti_tool/playback/views.py).

A grant names its kind, the video, the viewer, an expiry, and the viewer's address when
playback links are bound to it (PLAYBACK_BIND_CLIENT_ADDRESS); it is an HMAC (itsdangerous,
keyed with SECRET_KEY), so it works in an iframe without cookies and cannot be altered.
"""
from __future__ import annotations

import functools
import time
from datetime import datetime, timedelta, timezone

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

# What a signed grant lets its holder fetch.
GRANT_MEDIA = "media"
GRANT_THUMBNAIL = "thumbnail"
GRANT_DOWNLOAD = "download"
GRANT_CAPTIONS = "captions"
_GRANT_SALT = "lti_tool.media-grant"


@functools.lru_cache(maxsize=8)
def _serializer_for(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_GRANT_SALT)


def _serializer() -> URLSafeSerializer:
    """Return the grant serializer of this app's SECRET_KEY (made once per key)."""
    return _serializer_for(current_app.config["SECRET_KEY"])


def expiry_in(ttl_seconds: int) -> datetime:
    """Return the expiry of a grant made now for `ttl_seconds` (whole seconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=ttl_seconds)


def sign_grant(kind: str, *, video_id: int, viewer_id: int, expires: datetime,
               address: str | None = None) -> str:
    """Sign (HMAC with SECRET_KEY) a grant for one viewer to fetch one video until `expires`,
    from `address` only when one is given."""
    data = {"k": kind, "v": video_id, "u": viewer_id, "e": int(expires.timestamp())}
    if address:
        data["a"] = address
    return _serializer().dumps(data)


def read_grant(token: str, video_id: int, kinds: frozenset[str],
               address: str | None = None) -> tuple[str, int] | None:
    """Return (kind, viewer id) of a valid, unexpired grant for this video, else None.

    A grant bound to an address is valid only when `address` (the asking client's) is it.
    """
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") not in kinds or data.get("v") != video_id:
        return None
    expires, viewer, bound = data.get("e"), data.get("u"), data.get("a")
    if not isinstance(expires, int) or expires < time.time() or not isinstance(viewer, int):
        return None
    if bound is not None and bound != address:
        return None
    return data["k"], viewer
