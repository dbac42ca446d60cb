"""Session cookies that survive inside an LMS iframe.

Over https: `SameSite=None; Secure; Partitioned` (CHIPS), so the cookie is sent in the
LMS's iframe and kept in a partition of the LMS's site. Over plain http (only on loopback
for development and tests) browsers refuse `SameSite=None` without `Secure`, so there the
cookie is `SameSite=Lax` without `Secure`.
"""
from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


def _secure() -> bool:
    return bool(request) and request.is_secure


class IframeSessionInterface(SecureCookieSessionInterface):
    """The default signed-cookie session, with iframe-friendly cookie attributes."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return _secure()

    def get_cookie_samesite(self, app: Flask) -> str:
        return "None" if _secure() else "Lax"

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return _secure()


def cookie_attributes() -> dict:
    """Return set_cookie() keyword arguments for our own cookies, the same way."""
    secure = _secure()
    return {"secure": secure, "samesite": "None" if secure else "Lax",
            "partitioned": secure, "httponly": True}


def init_app(app: Flask) -> None:
    """Use the iframe-friendly session cookie."""
    app.session_interface = IframeSessionInterface()
    app.config.setdefault("SESSION_COOKIE_NAME", "lti_tool_session")
    app.config["SESSION_COOKIE_NAME"] = "lti_tool_session"
