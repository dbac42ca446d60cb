"""The tool's public URLs, built one way for every page, API answer and LMS message.

PUBLIC_BASE_URL when it is set (behind a proxy, the LMS must be told the public address),
else the address the request came to.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request, url_for


def base_url() -> str:
    """Return the tool's base URL without a trailing slash."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if not has_request_context():
        return ""
    return (request.host_url.rstrip("/") + request.script_root).rstrip("/")


def public_url(endpoint: str, **values) -> str:
    """Return the absolute public URL of an endpoint."""
    path = url_for(endpoint, **values)
    root = request.script_root if has_request_context() else ""
    if root and path.startswith(root):
        path = path[len(root):]
    return base_url() + path


def origin_of(url: str) -> str:
    """Return scheme://host[:port] of a URL (a browser origin)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def own_origin() -> str:
    """Return the tool's origin as browsers see it."""
    return origin_of(base_url())
