"""The tool's public URLs, as an LMS must be told them (PUBLIC_BASE_URL, else the request)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for

from lti_tool.models import Platform


def base_url() -> str:
    """Return the tool's base URL without a trailing slash."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured.rstrip("/")
    return (request.host_url.rstrip("/") + request.script_root).rstrip("/")


def tool_url(endpoint: str, **values) -> str:
    """Return the absolute public URL of an endpoint."""
    path = url_for(endpoint, **values)
    root = request.script_root if request else ""
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


def tool_urls(platform: Platform | None = None) -> dict[str, str]:
    """Return every URL an LMS administrator needs to register the tool."""
    urls = {
        "login_url": tool_url("lti.login"),
        "launch_url": tool_url("lti.launch"),
        "redirect_uris": tool_url("lti.launch"),
        "deep_linking_url": tool_url("lti.launch"),
        "jwks_url": tool_url("lti.jwks"),
        "registration_url": tool_url("lti.register"),
        "configuration_url": tool_url("lti.tool_configuration"),
    }
    if platform is not None:
        urls["login_url_for_registration"] = login_url_for(platform)
    return urls


def login_url_for(platform: Platform) -> str:
    """Return the login initiation URL that identifies one registration by itself."""
    return tool_url("lti.login_for_registration", login_key=platform.login_key)
