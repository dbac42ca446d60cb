"""Cloudflare Stream playback tokens, signed here with a Stream signing key (no API call).

https://developers.cloudflare.com/stream/viewing-videos/securing-your-stream/ : an RS256
JWT whose header and claims carry the key id (`kid`), whose `sub` is the video uid, with
`exp`, `nbf` and optional `accessRules`. The key comes from POST /stream/keys, whose `pem`
is base64-encoded PEM; a plain PEM is accepted too.
"""
from __future__ import annotations

import base64
import binascii
import functools
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

# Tokens start being valid a little before now, so a viewer's clock skew does not matter.
NOT_BEFORE_SKEW_SECONDS = 60


class SigningKeyError(ValueError):
    """The configured signing key cannot be read."""


def decode_pem(value: str) -> bytes:
    """Return PEM bytes from a PEM string or Cloudflare's base64-encoded PEM."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.replace("\\n", "\n").encode()
    try:
        decoded = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise SigningKeyError("CLOUDFLARE_SIGNING_KEY_PEM is neither PEM nor base64 PEM") from None
    if not decoded.lstrip().startswith(b"-----BEGIN"):
        raise SigningKeyError("CLOUDFLARE_SIGNING_KEY_PEM is neither PEM nor base64 PEM")
    return decoded


@functools.lru_cache(maxsize=4)
def _private_key(pem_setting: str):
    try:
        return load_pem_private_key(decode_pem(pem_setting), password=None)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, SigningKeyError):
            raise
        raise SigningKeyError("CLOUDFLARE_SIGNING_KEY_PEM is not a readable RSA private key") \
            from None


def sign_stream_token(uid: str, *, key_id: str, pem: str, ttl_seconds: int,
                      now: float | None = None, access_rules: list[dict] | None = None,
                      downloadable: bool = False) -> tuple[str, int]:
    """Return (token, exp) letting its bearer play video `uid` for `ttl_seconds`."""
    issued = int(now if now is not None else time.time())
    exp = issued + int(ttl_seconds)
    claims: dict[str, Any] = {"sub": uid, "kid": key_id, "exp": exp,
                              "nbf": issued - NOT_BEFORE_SKEW_SECONDS}
    if access_rules:
        claims["accessRules"] = access_rules
    if downloadable:
        claims["downloadable"] = True
    token = jwt.encode(claims, _private_key(pem), algorithm="RS256", headers={"kid": key_id})
    return token, exp
