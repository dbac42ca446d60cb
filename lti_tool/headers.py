"""Security headers on every response.

No X-Frame-Options / frame-ancestors: the tool's pages live inside LMS iframes.
`Referrer-Policy: same-origin` keeps launch ids in our URLs from reaching storage
providers (S3, CloudFront, Stream) and other sites in the Referer header.
"""
from __future__ import annotations

from flask import Flask

HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def init_app(app: Flask) -> None:
    """Add the security headers to every response that does not set its own."""

    @app.after_request
    def _add_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
