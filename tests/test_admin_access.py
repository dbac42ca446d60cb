"""Who gets into the admin area: LMS administrators and operator-granted admins, each of
their own platform; the `admins` CLI; where an administrator's launch lands."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, LaunchRecord
from tests.admin_fixtures import site  # noqa: F401  (fixture)


def test_an_lms_administrator_gets_the_dashboard(client, site):
    page = site.get(client, "/admin/")
    assert page.status_code == 200
    assert "Dashboard" in page.get_data(as_text=True)
    assert "Alpha" in page.get_data(as_text=True)


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_instructors_and_students_are_refused(client, site, who):
    page = site.get(client, "/admin/", who=who)
    assert page.status_code == 403
    assert "administrators of your LMS" in page.get_data(as_text=True)


def test_no_launch_is_asked_to_open_the_tool_from_the_lms(client, site):
    assert client.get("/admin/").status_code == 401


def test_an_operator_grant_lets_an_instructor_in(client, site):
    site.a.instructor.admin_granted = True  # the site's app context is the request's too
    db.session.commit()
    assert site.get(client, "/admin/", who="instructor").status_code == 200


def test_demo_lms_site_admin_lands_on_the_admin_area(launcher, app):
    result = launcher.as_admin()
    assert result.response.status_code == 200, result.response.text[:500]
    assert urlsplit(result.url).path == "/admin/"
    # The activity they opened is one link away.
    assert "/review/assignment" in result.response.text


def test_instructor_granted_by_the_cli_lands_on_the_admin_area(launcher, app):
    first = launcher.as_instructor()
    assert "/review/" in first.url
    with app.app_context():
        user = db.session.get(LaunchRecord, first.launch_id).user
        platform_id, sub = user.platform_id, user.sub
    runner = app.test_cli_runner()
    result = runner.invoke(args=["admins", "add", str(platform_id), sub])
    assert result.exit_code == 0 and "is now an administrator" in result.output, result.output
    again = launcher.as_instructor()
    assert urlsplit(again.url).path == "/admin/"


def test_admins_cli_adds_by_email_lists_and_removes_with_audit(runner, app, site):
    pid = site.a.platform.id
    added = runner.invoke(args=["admins", "add", str(pid), "STUDENT@alpha.example.edu"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["admins", "list"])
    assert "Alpha Student" in listed.output and f"platform {pid}" in listed.output
    removed = runner.invoke(args=["admins", "remove", str(pid), site.a.student.sub])
    assert removed.exit_code == 0 and "is no longer" in removed.output
    assert "No operator-granted administrator" in runner.invoke(args=["admins", "list"]).output
    db.session.expire_all()
    kinds = [e.event_type for e in db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.event_type.in_([EventType.ADMIN_GRANTED, EventType.ADMIN_REVOKED])))]
    assert kinds == [EventType.ADMIN_GRANTED, EventType.ADMIN_REVOKED]


def test_admins_cli_names_what_it_cannot_find(runner, site):
    assert "No platform with id 999" in runner.invoke(args=["admins", "add", "999", "x"]).output
    missing = runner.invoke(args=["admins", "add", str(site.a.platform.id), "nobody"])
    assert missing.exit_code != 0 and "has no user with sub or email 'nobody'" in missing.output
    # A user of platform B is not a user of platform A.
    other = runner.invoke(args=["admins", "add", str(site.a.platform.id), site.b.student.sub])
    assert other.exit_code != 0
