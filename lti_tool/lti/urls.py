"""The URLs an LMS administrator needs to register the tool (built by lti_tool.web.urls)."""
from __future__ import annotations

from lti_tool.models import Platform
from lti_tool.web.urls import public_url


def tool_urls(platform: Platform | None = None) -> dict[str, str]:
    """Return every URL an LMS administrator needs to register the tool."""
    urls = {
        "login_url": public_url("lti.login"),
        "launch_url": public_url("lti.launch"),
        "redirect_uris": public_url("lti.launch"),
        "deep_linking_url": public_url("lti.launch"),
        "jwks_url": public_url("lti.jwks"),
        "registration_url": public_url("lti.register"),
        "configuration_url": public_url("lti.tool_configuration"),
    }
    if platform is not None:
        urls["login_url_for_registration"] = login_url_for(platform)
    return urls


def login_url_for(platform: Platform) -> str:
    """Return the login initiation URL that identifies one registration by itself."""
    return public_url("lti.login_for_registration", login_key=platform.login_key)
