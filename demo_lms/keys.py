"""The demo LMS's own RSA keys, under LTI_KEYS_DIR/demo_lms/ (never committed).

The same key store as the tool's keys (lti_tool/lti/keys.py), in a folder of its own, so a
platform key can never be mistaken for a tool key.
"""
from __future__ import annotations

import jwt
from flask import current_app

from lti_tool.lti.keys import KeyStore, keys_dir

from .vocab import SIGNING_ALG

SUBFOLDER = "demo_lms"


def key_store(app=None) -> KeyStore:
    """Return the demo LMS's key store."""
    app = app or current_app
    return KeyStore(keys_dir(app) / SUBFOLDER, app.config.get("LTI_KEY_OVERLAP_DAYS", 7))


def public_jwks() -> dict:
    """Return the demo LMS's public JWKS."""
    return key_store().public_jwks()


def sign(payload: dict) -> str:
    """Sign `payload` as the platform: RS256 with the `kid` header."""
    kid, pem = key_store().signing_key()
    return jwt.encode(payload, pem, algorithm=SIGNING_ALG, headers={"kid": kid})
