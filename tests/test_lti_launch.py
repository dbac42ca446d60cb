"""Login and launch over real HTTP against the test platform: what is accepted, what is created."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lti_tool.access.roles import Role
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import (Assignment, AuditEvent, Course, Enrollment, KeyValue, LaunchRecord,
                             Platform, User)
from tests.platform_kit import LIS, LTI, browser, platform  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


def launch_id_of(resp) -> str:
    return parse_qs(urlsplit(resp.headers["Location"]).query)["launch"][0]


def test_login_redirects_with_a_get_auth_request_carrying_form_post_and_prompt_none(browser,
                                                                                    live_server):
    resp = browser.login()
    assert resp.status_code == 302
    url = urlsplit(resp.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{browser.platform.url}/auth"
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["response_mode"] == "form_post" and q["prompt"] == "none"
    assert q["response_type"] == "id_token" and q["scope"] == "openid"
    assert q["redirect_uri"] == f"{live_server.url}/lti/launch"
    assert q["client_id"] == "moodle-client-1" and q["login_hint"] == "2"
    assert q["lti_message_hint"] and q["state"] and q["nonce"]
    cookie = next(c for c in resp.cookies if c.name == "lti1p3-" + q["state"])
    assert cookie.value == q["state"] and cookie.has_nonstandard_attr("HttpOnly")


def test_login_by_get_works_too(browser):
    assert browser.login(method="get").status_code == 302


def test_moodle_shaped_student_launch_creates_rows_and_lands_on_the_student_page(browser, app):
    resp = browser.launch()
    assert resp.status_code == 303, resp.text
    location = resp.headers["Location"]
    assert urlsplit(location).path == "/assignment"
    launch_id = launch_id_of(resp)
    with app.app_context():
        record = db.session.get(LaunchRecord, launch_id)
        assert record.role == Role.LEARNER and record.message_type == "LtiResourceLinkRequest"
        user = record.user
        assert user.sub == "2" and user.name is None and user.email is None
        assert not user.is_platform_admin
        course = record.course
        assert course.context_id == "3" and course.title == "Film Studies"
        assert course.memberships_url.endswith("/memberships")
        assignment = record.assignment
        assert assignment.resource_link_id == "7" and assignment.title == "Pitch video"
        assert assignment.lineitem_url is None  # Moodle sent only `lineitems`
        assert assignment.lineitems_url.endswith("lineitems?type_id=1")
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in assignment.ags_scopes
        enrollment = db.session.scalar(db.select(Enrollment).filter_by(user_id=user.id))
        assert enrollment.role == Role.LEARNER
        assert enrollment.lti_roles == [LIS + "membership#Learner"]
        assert db.session.scalar(db.select(AuditEvent).filter_by(event_type=EventType.LAUNCH))
    page = browser.session.get(browser.tool_url + location)
    assert page.status_code == 200


def test_the_launch_page_works_without_cookies_thanks_to_the_launch_id(browser):
    resp = browser.launch()
    browser.session.cookies.clear()
    page = browser.session.get(browser.tool_url + resp.headers["Location"])
    assert page.status_code == 200


def test_instructor_launch_lands_on_the_review_page(browser):
    browser.platform.next_claims = {LTI + "roles": [LIS + "membership#Instructor"],
                                    "sub": "5", "name": "Ada Teacher",
                                    "email": "ada@example.edu"}
    resp = browser.launch()
    assert resp.status_code == 303
    assert urlsplit(resp.headers["Location"]).path == "/review/assignment"


def test_moodle_site_admin_is_instructor_in_the_course_and_platform_admin(browser, app):
    browser.platform.next_claims = {LTI + "roles": [
        LIS + "membership#Instructor", LIS + "institution/person#Administrator",
        LIS + "system/person#Administrator"], "sub": "1"}
    resp = browser.launch()
    with app.app_context():
        record = db.session.get(LaunchRecord, launch_id_of(resp))
        assert record.role == Role.INSTRUCTOR and record.user.is_platform_admin


def test_admin_launch_without_resource_link_lands_on_the_admin_page(browser):
    # An account-level launch (Canvas account navigation): a link id but no course context.
    browser.platform.next_claims = {LTI + "roles": [LIS + "institution/person#Administrator"],
                                    LTI + "resource_link": {"id": "admin-nav"},
                                    LTI + "context": None}
    resp = browser.launch()
    assert resp.status_code == 303
    assert urlsplit(resp.headers["Location"]).path == "/admin/"
    page = browser.session.get(browser.tool_url + resp.headers["Location"])
    assert page.status_code == 200 and "Tool configuration" in page.text


def test_canvas_shaped_launch_with_short_roles_names_email_and_custom(browser, app):
    browser.platform.next_claims = {
        LTI + "roles": ["Instructor#TeachingAssistant",
                        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
                        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
        "sub": "535fa085-f9c1-4f0b-9b2c-2b7d1b2b1f11", "name": "Tia Assistant",
        "given_name": "Tia", "family_name": "Assistant", "email": "tia@example.edu",
        LTI + "context": {"id": "4dde05e8ca1973bcca9bffc13e1548820eee93a3", "title": "Canvas 101",
                          "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]},
        LTI + "custom": {"canvas_course_id": "12", "max_file_bytes": "1073741824",
                         "allowed_formats": "mp4,mov", "max_duration_seconds": "300",
                         "instructions": "Three minutes, landscape."},
        AGS: {"scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
              "lineitem": "https://canvas.example/api/lti/courses/12/line_items/9"},
        "https://www.instructure.com/placement": "assignment_selection",
    }
    resp = browser.launch()
    assert resp.status_code == 303
    with app.app_context():
        record = db.session.get(LaunchRecord, launch_id_of(resp))
        assert record.role == Role.TA
        assert record.user.display_name == "Tia Assistant"
        a = record.assignment
        assert a.max_file_bytes == 1024**3 and a.allowed_formats == "mp4,mov"
        assert a.max_duration_seconds == 300 and a.instructions == "Three minutes, landscape."
        assert a.lineitem_url.endswith("/line_items/9")
        assert a.ags_scopes == ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]
        assert a.custom["canvas_course_id"] == "12"


def test_second_launch_updates_rather_than_duplicates(browser, app):
    browser.launch()
    browser.platform.next_claims = {"name": "Now Named",
                                    LTI + "roles": [LIS + "membership#Instructor"]}
    browser.launch()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(Course)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(Assignment)) == 1
        user = db.session.scalar(db.select(User))
        assert user.name == "Now Named"
        enrollment = db.session.scalar(db.select(Enrollment))
        assert enrollment.role == Role.INSTRUCTOR


def test_login_without_client_id_finds_the_only_registration(browser):
    resp = browser.login(client_id=None)
    assert resp.status_code == 302


def test_per_registration_login_url_identifies_the_registration(browser, app):
    with app.app_context():
        key = db.session.scalar(db.select(Platform)).login_key
    resp = browser.launch(f"/lti/login/{key}", client_id=None)
    assert resp.status_code == 303


def test_unknown_deployment_is_recorded_and_allowed_under_policy_allow(browser, app):
    with app.app_context():
        db.session.scalar(db.select(Platform)).deployment_policy = "allow"
        db.session.commit()
    browser.platform.next_claims = {LTI + "deployment_id": "course-copy-42"}
    resp = browser.launch()
    assert resp.status_code == 303
    with app.app_context():
        platform = db.session.scalar(db.select(Platform))
        added = [d for d in platform.deployments if d.deployment_id == "course-copy-42"]
        assert added and added[0].auto_added
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.DEPLOYMENT_ADDED))


def test_submission_review_launch_is_validated_and_recorded(browser, app):
    browser.platform.next_claims = {
        LTI + "message_type": "LtiSubmissionReviewRequest",
        LTI + "roles": [LIS + "membership#Instructor"],
        LTI + "for_user": {"user_id": "2"},
        AGS: {"lineitem": "https://lms.example/lineitems/1",
              "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]}}
    resp = browser.launch()
    assert resp.status_code == 303
    with app.app_context():
        record = db.session.get(LaunchRecord, launch_id_of(resp))
        assert record.message_type == "LtiSubmissionReviewRequest"
        assert record.claims[LTI + "for_user"]["user_id"] == "2"
    assert urlsplit(resp.headers["Location"]).path == "/review/submission-review"
    page = browser.session.get(browser.tool_url + resp.headers["Location"])
    assert page.status_code == 200


def test_platform_jwks_is_cached_and_refetched_for_an_unknown_kid(browser, app):
    assert browser.launch().status_code == 303
    with app.app_context():
        platform = db.session.scalar(db.select(Platform))
        assert platform.jwks_cache["keys"][0]["kid"] == browser.platform.kid
        # Age the fetch so an unknown kid may refetch (not more than once per 10 s).
        from datetime import timedelta
        platform.jwks_fetched_at = platform.jwks_fetched_at - timedelta(seconds=30)
        db.session.commit()
    # The platform rotates its key: the launch still works after a refetch.
    from tests.platform_kit import new_rsa_key, public_jwk
    browser.platform.key = new_rsa_key()
    browser.platform.kid = "rotated"
    browser.platform.jwks = {"keys": [public_jwk(browser.platform.key, "rotated")]}
    assert browser.launch().status_code == 303
    with app.app_context():
        platform = db.session.scalar(db.select(Platform))
        assert platform.jwks_cache["keys"][0]["kid"] == "rotated"


def test_state_and_nonce_live_in_the_database_not_in_memory(browser, app):
    resp = browser.login()
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    with app.app_context():
        assert db.session.get(KeyValue, "oidc-state:" + state) is not None


def test_login_inside_an_iframe_checks_cookies_first(app, browser):
    """The cookie check page runs in iframes; it comes back with lti1p3_new_window.

    Its test cookie has our cookies' attributes: Partitioned over https (CHIPS), Lax over
    plain http; the page's script is a file (no inline script under the CSP).
    """
    resp = browser.session.get(browser.tool_url + "/lti/login", params=browser.login_params(),
                               headers={"Sec-Fetch-Dest": "iframe"}, allow_redirects=False)
    assert resp.status_code == 200
    assert "lti1p3_new_window" in resp.text and "<script>" not in resp.text
    assert "Open the activity in a new window." in resp.text
    assert 'data-cookie-attributes="path=/; SameSite=Lax"' in resp.text
    over_https = app.test_client().get(
        "/lti/login", query_string=browser.login_params(), base_url="https://localhost",
        headers={"Sec-Fetch-Dest": "iframe"})
    assert 'data-cookie-attributes="path=/; SameSite=None; Secure; Partitioned"' in \
        over_https.get_data(as_text=True)
    again = browser.session.get(browser.tool_url + "/lti/login",
                                params=browser.login_params(lti1p3_new_window="1"),
                                headers={"Sec-Fetch-Dest": "iframe"}, allow_redirects=False)
    assert again.status_code == 302


def test_cookie_check_still_refuses_an_unregistered_lms(browser):
    resp = browser.session.get(browser.tool_url + "/lti/login",
                               params=browser.login_params(iss="https://nope.example"),
                               headers={"Sec-Fetch-Dest": "iframe"}, allow_redirects=False)
    assert resp.status_code == 403


def test_link_description_becomes_instructions_unless_deep_linking_set_them(browser, app):
    browser.platform.next_claims = {
        LTI + "resource_link": {"id": "7", "title": "Pitch video",
                                "description": "Record a three-minute pitch."}}
    resp = browser.launch()
    with app.app_context():
        assert db.session.get(LaunchRecord, launch_id_of(resp)).assignment.instructions == \
            "Record a three-minute pitch."
    browser.platform.next_claims = {
        LTI + "resource_link": {"id": "7", "title": "Pitch video",
                                "description": "Record a three-minute pitch."},
        LTI + "custom": {"instructions": "Landscape, three minutes."}}
    resp = browser.launch()
    with app.app_context():
        assert db.session.get(LaunchRecord, launch_id_of(resp)).assignment.instructions == \
            "Landscape, three minutes."
