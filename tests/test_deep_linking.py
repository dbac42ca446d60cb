"""Deep linking: the instructor's form becomes a signed ltiResourceLink with its line item."""
from __future__ import annotations

from urllib.parse import urlsplit

import jwt
import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent
from tests.platform_kit import LIS, LTI, browser, parse_form, platform  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def deep_link_launch(browser, role="Instructor", **settings):
    dl = {"deep_link_return_url": f"{browser.platform.url}/dl-return",
          "accept_types": ["ltiResourceLink"],
          "accept_presentation_document_targets": ["iframe", "window"],
          "accept_multiple": False, "data": "opaque-123", "title": "Week 3 pitch"}
    dl.update(settings)
    dl = {k: v for k, v in dl.items() if v is not None}
    browser.platform.next_claims = {
        LTI + "message_type": "LtiDeepLinkingRequest", LTI + "roles": [LIS + f"membership#{role}"],
        LTI + "resource_link": None, DL + "deep_linking_settings": dl}
    resp = browser.launch()
    assert resp.status_code == 303, resp.text
    return resp.headers["Location"]


def decode_response(browser, token: str) -> dict:
    jwks = browser.session.get(browser.tool_url + "/lti/jwks").json()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"],
                      audience=browser.platform.issuer)


FORM = {"title": "Pitch your film", "instructions": "Three minutes, landscape.",
        "max_score": "20", "max_size": "1.5", "max_size_unit": "GB",
        "allowed_formats": ["mp4", "mov"], "max_duration_minutes": "5"}


def submit_form(browser, location: str, **changes):
    """Post the deep-linking form (FORM with `changes`) for the launch at `location`."""
    return browser.session.post(browser.tool_url + "/lti/deep-link",
                                data=dict(FORM, launch=location.split("launch=")[1], **changes))


def custom_of(browser, resp) -> dict:
    """Return the custom parameters of the one link a successful form sent back."""
    (item,) = decode_response(browser, parse_form(resp.text)[1]["JWT"])[DL + "content_items"]
    return item["custom"]


def test_instructor_creates_a_video_assignment_by_deep_linking(browser, app):
    location = deep_link_launch(browser)
    assert urlsplit(location).path == "/lti/deep-link"
    form_page = browser.session.get(browser.tool_url + location)
    assert form_page.status_code == 200 and 'value="Week 3 pitch"' in form_page.text
    launch_id = location.split("launch=")[1]
    resp = browser.session.post(browser.tool_url + "/lti/deep-link",
                                data=dict(FORM, launch=launch_id))
    assert resp.status_code == 200
    action, fields = parse_form(resp.text)
    assert action == f"{browser.platform.url}/dl-return"
    claims = decode_response(browser, fields["JWT"])
    assert claims["iss"] == browser.platform.client_id
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims[LTI + "deployment_id"] == "1"
    assert claims[DL + "data"] == "opaque-123"
    (item,) = claims[DL + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["title"] == "Pitch your film"
    assert item["url"] == f"{browser.tool_url}/lti/launch"
    line = item["lineItem"]
    assert item["custom"] == {"max_score": "20", "instructions": "Three minutes, landscape.",
                              "max_file_bytes": str(int(1.5 * 1024**3)),
                              "allowed_formats": "mp4,mov", "max_duration_seconds": "300",
                              # the column's id travels with the link (passback finds it)
                              "lineitem_resource_id": line["resourceId"]}
    assert line["scoreMaximum"] == 20 and line["label"] == "Pitch your film"
    assert line["tag"] == "video-assignment" and line["resourceId"].startswith("va-")
    with app.app_context():
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.DEEP_LINK_CREATED))


def test_the_created_link_launches_with_its_settings(browser, app):
    """The custom parameters the LMS sends back become the assignment's settings."""
    browser.platform.next_claims = {LTI + "custom": {
        "max_score": "20", "max_file_bytes": "524288000", "allowed_formats": "mp4",
        "max_duration_seconds": "300", "instructions": "Landscape."}}
    resp = browser.launch()
    from lti_tool.models import LaunchRecord
    with app.app_context():
        record = db.session.get(LaunchRecord, resp.headers["Location"].split("launch=")[1])
        a = record.assignment
        assert (a.max_score, a.max_file_bytes, a.allowed_formats, a.max_duration_seconds,
                a.instructions) == (20.0, 524288000, "mp4", 300, "Landscape.")


def test_deadlines_travel_with_the_link_and_are_taken_once(browser, app):
    location = deep_link_launch(browser)
    launch_id = location.split("launch=")[1]
    resp = browser.session.post(browser.tool_url + "/lti/deep-link", data=dict(
        FORM, launch=launch_id, due_at="2031-03-01T09:00", cutoff_at="2031-03-02T09:00",
        max_attempts="2"))
    (item,) = decode_response(browser, parse_form(resp.text)[1]["JWT"])[DL + "content_items"]
    assert item["submission"] == {"endDateTime": "2031-03-01T09:00:00+00:00"}
    custom = item["custom"]
    assert (custom["due_at"], custom["cutoff_at"], custom["max_attempts"]) == \
        ("2031-03-01T09:00:00+00:00", "2031-03-02T09:00:00+00:00", "2")

    from lti_tool.models import LaunchRecord
    browser.platform.next_claims = {LTI + "custom": custom}
    first = browser.launch().headers["Location"].split("launch=")[1]
    with app.app_context():
        a = db.session.get(LaunchRecord, first).assignment
        assert (a.due_at.day, a.cutoff_at.day, a.max_attempts, a.due_source) == \
            (1, 2, 2, "tool")
        a.max_attempts = 5  # changed on the deadlines page
        db.session.commit()
    browser.platform.next_claims = {LTI + "custom": custom}
    again = browser.launch().headers["Location"].split("launch=")[1]
    with app.app_context():
        assert db.session.get(LaunchRecord, again).assignment.max_attempts == 5  # kept


def test_a_cutoff_before_the_due_date_is_refused_in_the_form(browser):
    location = deep_link_launch(browser)
    resp = browser.session.post(browser.tool_url + "/lti/deep-link", data=dict(
        FORM, launch=location.split("launch=")[1], due_at="2031-03-02T09:00",
        cutoff_at="2031-03-01T09:00"))
    assert "The cut-off must not come before the due date." in resp.text


def test_no_line_item_when_the_platform_does_not_accept_one(browser):
    location = deep_link_launch(browser, accept_lineitem=False)
    launch_id = location.split("launch=")[1]
    resp = browser.session.post(browser.tool_url + "/lti/deep-link",
                                data=dict(FORM, launch=launch_id))
    _, fields = parse_form(resp.text)
    (item,) = decode_response(browser, fields["JWT"])[DL + "content_items"]
    assert "lineItem" not in item


def test_data_is_not_invented_when_the_platform_sent_none(browser):
    location = deep_link_launch(browser, data=None)
    launch_id = location.split("launch=")[1]
    resp = browser.session.post(browser.tool_url + "/lti/deep-link",
                                data=dict(FORM, launch=launch_id))
    _, fields = parse_form(resp.text)
    claims = decode_response(browser, fields["JWT"])
    assert DL + "data" not in claims


@pytest.mark.parametrize("change,field_message", [
    ({"title": ""}, "Give the assignment a title."),
    ({"max_score": "abc"}, "Maximum score must be a number."),
    ({"max_score": "0"}, "Maximum score must be between"),
    ({"max_size": "6", "max_size_unit": "GB"}, "This site accepts files up to 5 GB."),
    ({"max_duration_minutes": "-1"}, "Maximum duration must be between"),
])
def test_bad_settings_show_the_form_again_with_messages(browser, change, field_message):
    location = deep_link_launch(browser)
    launch_id = location.split("launch=")[1]
    resp = browser.session.post(browser.tool_url + "/lti/deep-link",
                                data=dict(FORM, launch=launch_id, **change))
    assert resp.status_code == 400
    assert field_message in resp.text and 'aria-invalid="true"' in resp.text


def test_a_learner_cannot_deep_link(browser):
    location = deep_link_launch(browser, role="Learner")
    resp = browser.session.get(browser.tool_url + location)
    assert resp.status_code == 403


def test_deep_link_page_needs_a_deep_linking_launch(browser):
    resp = browser.launch()  # a resource link launch (a learner)
    launch_id = resp.headers["Location"].split("launch=")[1]
    page = browser.session.get(browser.tool_url + f"/lti/deep-link?launch={launch_id}")
    assert page.status_code in (401, 403)


def test_the_form_offers_and_holds_to_the_site_limits_an_admin_set(browser, app):
    """The admin's largest upload, default and formats (settings page), not the
    environment's, bound what an instructor may choose."""
    from lti_tool.settings import set_setting
    with app.app_context():
        set_setting("MAX_UPLOAD_BYTES", str(2 * 1024**3))
        set_setting("DEFAULT_UPLOAD_BYTES", str(512 * 1024**2))
        set_setting("ACCEPTED_FORMATS", "mp4,webm")
        db.session.commit()
    location = deep_link_launch(browser)
    page = browser.session.get(browser.tool_url + location).text
    assert "this site's default of 512 MB; at most 2 GB" in page
    assert 'value="mp4"' in page and 'value="webm"' in page and 'value="mov"' not in page
    over = submit_form(browser, location, max_size="3")
    assert over.status_code == 400 and "This site accepts files up to 2 GB." in over.text
    done = submit_form(browser, location, max_size="2")
    assert done.status_code == 200
    custom = custom_of(browser, done)
    assert custom["max_file_bytes"] == str(2 * 1024**3)
    assert custom["allowed_formats"] == "mp4"  # "mov" is no longer the site's to offer


def test_an_assignment_keeps_its_videos_as_long_as_the_instructor_chose(browser, app):
    """The retention period an instructor sets travels on the link and overrides the site's
    (0 keeps the videos for ever); an out-of-range value is refused in the form."""
    location = deep_link_launch(browser)
    page = browser.session.get(browser.tool_url + location).text
    assert "empty: this site's 90 days; 0: for ever" in page
    bad = submit_form(browser, location, retention_days="99999")
    assert bad.status_code == 400 and "Keep the videos for must be between 0 and" in bad.text
    assert custom_of(browser, submit_form(browser, location, retention_days="0"))[
        "retention_days"] == "0"
    for sent, kept in (("0", 0), ("400", 400)):
        browser.platform.next_claims = {LTI + "custom": {"retention_days": sent}}
        resp = browser.launch()
        from lti_tool.models import LaunchRecord
        with app.app_context():
            record = db.session.get(LaunchRecord, resp.headers["Location"].split("launch=")[1])
            assert record.assignment.retention_days == kept
    browser.platform.next_claims = {LTI + "custom": {"retention_days": "4000"}}
    assert browser.launch().status_code == 400  # refused: not a period the tool keeps


def test_accepting_sound_only_submissions_travels_with_the_link_and_is_taken_once(browser,
                                                                                 app):
    from lti_tool.models import LaunchRecord
    plain = custom_of(browser, submit_form(browser, deep_link_launch(browser)))
    assert "accepts_audio" not in plain
    custom = custom_of(browser, submit_form(browser, deep_link_launch(browser),
                                            accepts_audio="1"))
    assert custom["accepts_audio"] == "1"
    browser.platform.next_claims = {LTI + "custom": custom}
    first = browser.launch().headers["Location"].split("launch=")[1]
    with app.app_context():
        a = db.session.get(LaunchRecord, first).assignment
        assert a.accepts_audio is True
        a.accepts_audio = False  # turned off on the settings page
        db.session.commit()
    browser.platform.next_claims = {LTI + "custom": custom}
    again = browser.launch().headers["Location"].split("launch=")[1]
    with app.app_context():
        assert db.session.get(LaunchRecord, again).assignment.accepts_audio is False  # kept
