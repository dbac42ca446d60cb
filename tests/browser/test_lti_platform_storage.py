"""Real Chromium: a launch inside an LMS iframe whose cookies do not reach the tool.

The test platform is on http://localhost:<port>, the tool on http://127.0.0.1:<port>: two
sites. Over plain http the tool's cookies are SameSite=Lax, so the browser does not send the
state cookie with the platform's cross-site form post in the iframe, exactly as when
third-party cookies are blocked. The launch must then go through LTI Platform Storage: the
tool keeps state and nonce in the platform's `post_message_forwarding` frame at login and
reads them back at launch.
"""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.platform_kit import TestPlatform


@pytest.fixture
def lms(app):
    plat = TestPlatform(public_host="localhost")
    with app.app_context():
        plat.register_in_tool()
    yield plat
    plat.stop()


def _tool_login_url(live_server, lms, **extra) -> str:
    params = {"iss": lms.issuer, "login_hint": "2", "client_id": lms.client_id,
              "target_link_uri": f"{live_server.url}/lti/launch", "lti_deployment_id": "1"}
    params.update(extra)
    return f"{live_server.url}/lti/login?" + urlencode(params)


def _open_in_lms(page, live_server, lms, **extra):
    login = _tool_login_url(live_server, lms, **extra)
    page.goto(f"{lms.url}/storage-parent?" + urlencode({"tool_login_url": login}))
    return page.frame_locator("#tool")


def test_launch_in_a_cookieless_iframe_succeeds_through_platform_storage(page, live_server, lms):
    launch_posts = []
    page.on("request", lambda r: launch_posts.append(r.post_data or "")
            if r.method == "POST" and r.url.endswith("/lti/launch") else None)
    tool = _open_in_lms(page, live_server, lms, lti_storage_target="post_message_forwarding")
    tool.get_by_role("heading", name="Pitch video").wait_for(timeout=30000)
    # First post from the platform (no cookie), then our re-post with the stored values.
    assert len(launch_posts) == 2 and "lti_storage_state=state-" in launch_posts[1]
    frame = page.frame(name="tool")
    assert "/assignment?launch=" in frame.url
    assert len(lms.captured.auth_requests) == 1


def test_without_platform_storage_the_cookie_check_offers_a_new_window(page, live_server, lms):
    """Inside a cross-site iframe the test cookie cannot be set: pylti1p3's check page says so."""
    tool = _open_in_lms(page, live_server, lms)
    tool.get_by_text("Your browser blocks cookies for this tool").wait_for(timeout=30000)
    assert lms.captured.auth_requests == []  # the login stopped before the platform
    with page.context.expect_event(
            "request", predicate=lambda r: "/lti/login?" in r.url
            and "lti1p3_new_window=1" in r.url) as request:
        tool.get_by_role("link", name="Open the activity in a new window.").click()
    assert f"client_id={lms.client_id}" in request.value.url
