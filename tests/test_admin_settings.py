"""The admin settings page: site-wide settings changed by operator-granted admins only
(audited), and what they do: the stop-uploads switch, the size limit, formats, support
contact."""
from __future__ import annotations

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent
from lti_tool.settings import get_setting
from lti_tool.uploads.rules import allowed_formats, size_limit
from tests.admin_fixtures import operator, site, text  # noqa: F401  (fixtures)

FORM = {"RETENTION_DAYS": "30", "MAX_UPLOAD_BYTES": "2", "DEFAULT_UPLOAD_BYTES": "0.5",
        "ACCEPTED_FORMATS": ["mp4", "mov"],
        "SUPPORT_CONTACT": "help@alpha.example.edu", "UPLOADS_PAUSED": "1",
        "TARGET_UPLOAD_SUCCESS_PERCENT": "95", "TARGET_PLAYBACK_SUCCESS_PERCENT": "98",
        "TARGET_ERROR_PERCENT": "1"}




def _upload(client, site):
    return client.post("/api/uploads", json={"filename": "clip.mp4", "size_bytes": 1000,
                                             "content_type": "video/mp4"},
                       headers={"X-LTI-Launch": site.a.launches["student"]})


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_instructors_and_students_are_refused(client, site, who):
    assert site.get(client, "/admin/settings", who=who).status_code == 403
    assert site.post(client, "/admin/settings", who=who, data=FORM).status_code == 403


def test_an_lms_admin_reads_the_settings_but_may_not_change_them(client, site):
    page = text(site.get(client, "/admin/settings"))
    assert "only administrators a site operator granted" in page and "disabled" in page
    assert site.post(client, "/admin/settings", data=FORM).status_code == 403
    assert site.post(client, "/admin/settings", tenant="b", data=FORM).status_code == 403


def test_an_operator_admin_saves_the_settings_audited(client, operator):
    resp = operator.post(client, "/admin/settings", data=FORM)
    assert resp.status_code == 303
    db.session.expire_all()
    assert get_setting("RETENTION_DAYS") == "30"
    assert get_setting("MAX_UPLOAD_BYTES") == str(2 * 1024**3)  # GB as students read sizes
    assert get_setting("ACCEPTED_FORMATS") == "mp4,mov"
    changed = {e.data["setting"] for e in db.session.scalars(
        db.select(AuditEvent).filter_by(event_type=EventType.SETTING_CHANGED))}
    assert get_setting("DEFAULT_UPLOAD_BYTES") == str(512 * 1024**2)
    assert changed == {"RETENTION_DAYS", "MAX_UPLOAD_BYTES", "DEFAULT_UPLOAD_BYTES",
                       "ACCEPTED_FORMATS", "SUPPORT_CONTACT", "UPLOADS_PAUSED"}
    page = text(operator.get(client, "/admin/settings"))
    assert 'value="30"' in page and "help@alpha.example.edu" in page
    assert "New uploads are stopped" in page


def test_saving_the_page_unchanged_changes_nothing(client, operator):
    page = text(operator.get(client, "/admin/settings"))
    assert "New uploads are stopped" not in page
    form = {"RETENTION_DAYS": "90", "MAX_UPLOAD_BYTES": "5",
            "DEFAULT_UPLOAD_BYTES": "0",
            "ACCEPTED_FORMATS": ["mp4", "mov", "m4v", "webm", "mkv", "avi", "wmv", "mpeg",
                                 "mpg"], "SUPPORT_CONTACT": "",
            "TARGET_UPLOAD_SUCCESS_PERCENT": "95", "TARGET_PLAYBACK_SUCCESS_PERCENT": "98.0",
            "TARGET_ERROR_PERCENT": "1"}
    operator.post(client, "/admin/settings", data=form)
    db.session.expire_all()
    assert not db.session.scalars(db.select(AuditEvent).filter_by(
        event_type=EventType.SETTING_CHANGED)).all()


@pytest.mark.parametrize("field, value, message", [
    ("RETENTION_DAYS", "-1", "retention period"),
    ("MAX_UPLOAD_BYTES", "lots", "largest upload"),
    ("ACCEPTED_FORMATS", [], "at least one"),
    ("SUPPORT_CONTACT", "x" * 201, "at most 200"),
    ("TARGET_UPLOAD_SUCCESS_PERCENT", "101", "percentage from 0 to 100"),
    ("TARGET_PLAYBACK_SUCCESS_PERCENT", "-0.5", "percentage from 0 to 100"),
    ("TARGET_ERROR_PERCENT", "nan", "percentage from 0 to 100"),
    ("TARGET_ERROR_PERCENT", "", "percentage from 0 to 100"),
])
def test_a_bad_field_refuses_the_whole_form(client, operator, field, value, message):
    resp = operator.post(client, "/admin/settings", data=dict(FORM, **{field: value}))
    assert resp.status_code == 400 and message in text(resp).lower()
    db.session.expire_all()
    assert get_setting("UPLOADS_PAUSED") is False


def test_the_dashboards_targets_are_set_on_the_page_audited_and_used(client, operator):
    targets = {"TARGET_UPLOAD_SUCCESS_PERCENT": "97.5", "TARGET_PLAYBACK_SUCCESS_PERCENT": "98",
               "TARGET_ERROR_PERCENT": "0.25"}
    assert operator.post(client, "/admin/settings",
                         data=dict(FORM, UPLOADS_PAUSED="0", **targets)).status_code == 303
    db.session.expire_all()
    assert get_setting("TARGET_UPLOAD_SUCCESS_PERCENT") == "97.5"
    assert get_setting("TARGET_ERROR_PERCENT") == "0.25"  # not rounded to a whole number
    audited = {e.data["setting"]: e.data["value"] for e in db.session.scalars(
        db.select(AuditEvent).filter_by(event_type=EventType.SETTING_CHANGED))}
    assert audited["TARGET_UPLOAD_SUCCESS_PERCENT"] == "97.5"
    assert audited["TARGET_ERROR_PERCENT"] == "0.25"
    assert "TARGET_PLAYBACK_SUCCESS_PERCENT" not in audited  # 98 already: unchanged
    settings = text(operator.get(client, "/admin/settings"))
    assert 'name="TARGET_UPLOAD_SUCCESS_PERCENT" step="any" min="0" value="97.5"' in settings
    dashboard = text(operator.get(client, "/admin/"))
    assert "target ≥ 97.5 %" in dashboard and "target ≤ 0.25 %" in dashboard


def test_the_switch_stops_new_uploads_with_a_clear_message(client, operator):
    operator.post(client, "/admin/settings", data=FORM)
    resp = _upload(client, operator)
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "uploads_paused"
    assert "still play" in resp.get_json()["error"]["message"]
    student_page = text(client.get("/assignment",
                                   headers={"X-LTI-Launch": operator.a.launches["student"]}))
    assert "Contact help@alpha.example.edu" in student_page
    operator.post(client, "/admin/settings", data=dict(FORM, UPLOADS_PAUSED="0"))
    assert _upload(client, operator).status_code != 503


def test_size_and_format_settings_bound_every_assignment(operator):
    from lti_tool.settings import set_setting
    assignment = operator.a.videos[0].submission.assignment
    set_setting("MAX_UPLOAD_BYTES", "1000")
    set_setting("ACCEPTED_FORMATS", "mp4")
    assignment.allowed_formats = "mov,mp4"
    assert size_limit(assignment) == 1000 and allowed_formats(assignment) == ["mp4"]
    set_setting("MAX_UPLOAD_BYTES", "5000")
    set_setting("DEFAULT_UPLOAD_BYTES", "3000")
    assert size_limit(assignment) == 3000  # an assignment without its own limit
    assignment.max_file_bytes = 4000
    assert size_limit(assignment) == 4000
    set_setting("DEFAULT_UPLOAD_BYTES", "9000")
    assignment.max_file_bytes = None
    assert size_limit(assignment) == 5000  # never over the site's largest
