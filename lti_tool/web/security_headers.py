"""Security headers on every response.

Framing is governed by the Content-Security-Policy's frame-ancestors (lti_tool/csp.py),
not X-Frame-Options, which cannot name the LMSs whose iframes show the tool's pages.
`Referrer-Policy: same-origin` keeps launch ids in our URLs from reaching storage
providers (S3, CloudFront, Stream) and other sites in the Referer header. HSTS is sent
only over https: over plain http (development on loopback) browsers ignore it, and it
must never pin a host that is not served over https.
"""
from __future__ import annotations

from flask import Flask, request

HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
HSTS_HEADER = "Strict-Transport-Security"
HSTS_VALUE = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    """Add the security headers to every response that does not set its own."""

    @app.after_request
    def _add_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault(HSTS_HEADER, HSTS_VALUE)
        return response
