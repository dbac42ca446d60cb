"""Inside the LMS's frame (the demo LMS here): the page asks the platform to fit the frame to
its height under both message names, drops its own course header, and offers a window of its
own while the frame is narrow; outside a frame none of that happens."""
from __future__ import annotations

# The top page (the LMS) records what its frames post to it.
RECORD_MESSAGES = """
if (window === window.top) {
  window.__frameMessages = [];
  window.addEventListener("message", (e) => window.__frameMessages.push(e.data));
}
"""
SUBJECTS = {"lti.frameResize", "org.imsglobal.lti.frameResize"}


def resize_requests(page) -> list:
    return [m for m in page.evaluate("window.__frameMessages")
            if isinstance(m, dict) and m.get("subject") in SUBJECTS]


def test_a_framed_page_asks_to_fit_and_drops_its_header(live_server, page):
    page.add_init_script(RECORD_MESSAGES)
    page.set_viewport_size({"width": 700, "height": 800})  # an LMS that keeps the frame small
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Ben Student").first.click()
    tool = page.frame_locator("iframe.demo-frame")
    tool.locator("#dropzone").wait_for()
    page.wait_for_function("() => window.__frameMessages.length >= 2")
    asked = resize_requests(page)
    assert {m["subject"] for m in asked} == SUBJECTS
    assert all(isinstance(m["height"], int) and m["height"] > 300 for m in asked)
    assert tool.locator(".topbar").is_hidden()  # the LMS already names the course
    link = tool.get_by_role("link", name="Open in a new window")
    assert link.is_visible() and "/assignment?launch=" in link.get_attribute("href")
    assert link.get_attribute("target") == "_blank"


def test_outside_a_frame_the_page_is_left_as_it_is(live_server, page):
    page.goto(f"{live_server.url}/lti/config")
    page.get_by_role("heading", name="Register Video Assignments in your LMS").wait_for()
    assert page.locator(".topbar").is_visible()
    assert page.locator("#open-window").is_hidden()


def test_the_registration_page_stays_open_until_the_admin_closes_it(live_server, page):
    from tests.platform_kit import TestPlatform
    platform = TestPlatform(client_id="close-client", deployment_id="4")
    try:
        page.add_init_script(RECORD_MESSAGES)
        page.goto(f"{live_server.url}/lti/config")  # stands in for the LMS that opened it
        url = (f"{live_server.url}/lti/register?openid_configuration={platform.url}"
               "/.well-known/openid-configuration&registration_token=t")
        with page.expect_popup() as opened:
            page.evaluate("url => { window.open(url); }", url)
        popup = opened.value
        popup.get_by_role("heading", name="Video Assignments is registered").wait_for()
        popup.wait_for_timeout(500)
        assert page.evaluate("window.__frameMessages") == []  # not closed on load
        assert "click Activate" in popup.inner_text("main").replace("\n", " ") or \
            "Activate" in popup.inner_text("main")
        popup.click("#close-registration")
        page.wait_for_function("() => window.__frameMessages.length === 1")
        assert page.evaluate("window.__frameMessages") == [{"subject": "org.imsglobal.lti.close"}]
    finally:
        platform.stop()


def test_a_page_answering_a_form_offers_the_forms_page_in_a_new_window(live_server, page, app):
    """The connection test's page has the form's action as its URL (POST only, no launch):
    the window link names the settings page with the launch instead, and that page opens."""
    from lti_tool.extensions import db
    from lti_tool.models import LaunchRecord
    page.set_viewport_size({"width": 700, "height": 800})
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Alex Admin").first.click()
    tool = page.frame_locator("iframe.demo-frame")
    tool.get_by_role("heading", name="Dashboard", exact=True).wait_for()
    [admin_frame] = [f for f in page.frames if "/admin/?launch=" in f.url]
    launch_id = admin_frame.url.split("launch=")[1]
    with app.app_context():  # only operator-granted admins may test the storage
        db.session.get(LaunchRecord, launch_id).user.admin_granted = True
        db.session.commit()
    tool.get_by_role("link", name="Settings").click()
    tool.get_by_role("button", name="Test connection").click()
    tool.get_by_test_id("test-summary").wait_for()
    link = tool.get_by_role("link", name="Open in a new window")
    link.wait_for(state="visible", timeout=5000)  # lti-frame.js shows it once it has run
    assert link.get_attribute("href") == f"/admin/settings?launch={launch_id}"
    with page.expect_popup() as opened:
        link.click()
    window = opened.value
    window.get_by_role("heading", name="Site settings").wait_for()
    window.close()


def test_the_demo_lms_frame_grants_full_screen_without_a_console_warning(live_server, page):
    """`allow="fullscreen"` alone: with `allowfullscreen` beside it Chromium warns on every
    launch that the one takes precedence over the other."""
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Ben Student").first.click()
    tool = page.frame_locator("iframe.demo-frame")
    tool.locator("#dropzone").wait_for()
    assert "fullscreen" in page.get_attribute("iframe.demo-frame", "allow")
    assert not [w for w in warnings if "allowfullscreen" in w], warnings


FRAME_HEIGHT = "() => document.querySelector('iframe.demo-frame').getBoundingClientRect().height"


def test_the_demo_lms_frame_takes_the_height_the_tool_asks_for(live_server, page):
    """On a phone-wide screen the tool's page is taller than the frame's 75vh: the demo LMS
    honours lti.frameResize, so one page scrolls, not a frame inside a page."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Ben Student").first.click()
    page.frame_locator("iframe.demo-frame").locator("#dropzone").wait_for()
    [tool] = [f for f in page.frames if "/assignment?launch=" in f.url]
    tall = tool.evaluate("() => document.documentElement.scrollHeight")
    assert tall > 0.75 * 844  # the case: taller than the frame was
    page.wait_for_function(f"() => ({FRAME_HEIGHT})() >= {tall}")
    assert page.evaluate(FRAME_HEIGHT) <= tall + 4  # its height, not more
    # Another page's message does not resize it.
    page.evaluate("() => window.postMessage({subject: 'lti.frameResize', height: 5000}, '*')")
    page.wait_for_timeout(1000)  # and the frame's height does not feed the page's own
    assert page.evaluate(FRAME_HEIGHT) <= tall + 4
