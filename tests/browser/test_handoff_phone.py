"""The phone hand-off in real Chromium: the desktop shows a QR code and a short link, a phone
(a second browser context with a Pixel 7's viewport and none of the desktop's cookies)
uploads a small video through it, the desktop page shows it submitted; a second claim and
an expired link are refused; axe-core on the hand-off panel and the phone's page."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lti_tool.extensions import db
from lti_tool.handoff import service
from lti_tool.models import HandoffLink, LaunchRecord, utcnow
from tests.browser.a11y import check_state
from tests.browser.conftest import CSP_LISTENER, _watch_console
from tests.uploading import room, sample_webm  # noqa: F401

# Playwright's device descriptor "Pixel 7" (playwright/…/deviceDescriptorsSource.json).
PIXEL_7 = {
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "viewport": {"width": 412, "height": 839}, "screen": {"width": 412, "height": 915},
    "device_scale_factor": 2.625, "is_mobile": True, "has_touch": True,
}


@pytest.fixture
def phone_context(browser, csp_violations):
    """Open a phone's browser context: its own cookie jar, CSP violations reported."""
    contexts = []

    def open_phone():
        context = browser.new_context(**PIXEL_7)
        context.expose_binding("__cspViolation",
                               lambda source, report: csp_violations.append(report))
        context.add_init_script(CSP_LISTENER)
        context.on("page", lambda new_page: _watch_console(new_page, csp_violations))
        contexts.append(context)
        return context

    yield open_phone
    for context in contexts:
        context.close()


def open_assignment(page, live_server, room):
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.wait_for_function(
        "() => document.getElementById('submission').dataset.ready === 'true'"
        " && document.getElementById('handoff').dataset.ready === 'true'")
    return launch


def open_phone_page(context, url):
    phone = context.new_page()
    phone.set_default_timeout(15000)
    phone.goto(url)
    phone.wait_for_function("() => document.getElementById('phone').dataset.ready === 'true'")
    return phone


def test_the_phone_uploads_and_the_desktop_shows_it_submitted(page, live_server, room,
                                                              sample_webm, phone_context):
    open_assignment(page, live_server, room)
    page.focus("#handoff-start")
    page.keyboard.press("Enter")  # keyboard alone opens the panel
    page.wait_for_selector("#handoff-qr:not([hidden])")
    assert page.get_attribute("#handoff-qr", "src").startswith("data:image/svg+xml")
    url = page.get_attribute("#handoff-short", "href")
    code = page.inner_text("#handoff-code")
    assert url.endswith("/h/" + code) and len(code.replace("-", "")) == 10
    assert page.evaluate("() => document.activeElement.id") == "handoff-title"
    # The panel says it waits once its first look at the link has answered.
    page.wait_for_function("() => document.getElementById('handoff-status').textContent"
                           ".includes('Waiting for your phone')")
    check_state(page, "handoff-panel")

    phone_ctx = phone_context()
    phone = open_phone_page(phone_ctx, url)
    assert phone.is_visible("#phone-film") and phone.is_visible("#phone-pick")
    assert phone.get_attribute("#phone-film", "capture") == "environment"
    check_state(phone, "handoff-phone")
    page.wait_for_selector("#handoff-status[data-state='claimed']")

    phone.set_input_files("#phone-pick", str(sample_webm))
    phone.wait_for_selector("#phone-status[data-status='ready']", timeout=30000)
    assert "is submitted" in phone.inner_text("#phone-status")

    # The desktop follows: its own status line shows the video submitted, with the player.
    page.wait_for_selector("#current-status[data-status='ready']", timeout=30000)
    assert "is submitted" in page.inner_text("#current-status")
    assert page.locator("#history tbody tr").count() == 1
    # Focus was in the panel, which goes: it moves to the status line, as after an upload.
    assert page.evaluate("() => document.activeElement.id") == "current-status"
    assert page.is_hidden("#handoff-panel")
    # The phone never needed a cookie, and has none.
    assert phone_ctx.cookies() == []

    # Another device (or a second claim of the same link) is refused.
    intruder = open_phone_page(phone_context(), url)
    intruder.wait_for_selector("#phone-notice:not([hidden])")
    assert "already in use on another device" in intruder.inner_text("#phone-notice")
    assert intruder.is_hidden("#phone-choose")
    check_state(intruder, "handoff-refused")

    # The phone itself, reloaded, still knows its claim and shows how the upload ended.
    phone.reload()
    phone.wait_for_selector("#phone-status[data-status='ready']")
    assert phone.is_hidden("#phone-choose")


def test_an_expired_link_is_refused_on_the_phone(live_server, room, app, phone_context):
    launch_id = room.launch(room.student).id
    with app.test_request_context():
        link, code = service.create_link(db.session.get(LaunchRecord, launch_id))
        db.session.get(HandoffLink, link.id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    phone = phone_context().new_page()
    resp = phone.goto(f"{live_server.url}/h/{code}")
    assert resp.status == 410
    assert "expired" in phone.inner_text("#error-title").lower()
    check_state(phone, "handoff-expired")


def test_the_code_can_be_typed_on_the_phone(live_server, room, app, phone_context):
    launch_id = room.launch(room.student).id
    with app.test_request_context():
        _, code = service.create_link(db.session.get(LaunchRecord, launch_id))
    phone = phone_context().new_page()
    phone.goto(f"{live_server.url}/h")
    check_state(phone, "handoff-enter-code")
    phone.focus("#code")
    phone.keyboard.type("nope")
    phone.keyboard.press("Enter")
    phone.wait_for_selector("#code-error")
    assert phone.get_attribute("#code", "aria-invalid") == "true"
    phone.fill("#code", "")
    phone.keyboard.type(code.lower()[:5] + " " + code.lower()[5:])  # as people type it
    with phone.expect_navigation(url=f"**/h/{code[:5]}-{code[5:]}"):
        phone.keyboard.press("Enter")
    phone.wait_for_function(
        "() => (document.getElementById('phone') || {dataset: {}}).dataset.ready === 'true'")
    assert phone.is_visible("#phone-pick")
