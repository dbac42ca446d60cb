"""The LTI Data Privacy Launch, sent by the demo LMS: the person sees what the tool holds,
downloads it and asks for erasure; an admin may act for a person; nobody else may."""
from __future__ import annotations

import json

from lti_tool.extensions import db
from lti_tool.models import AuditEvent, User
from lti_tool.privacy.requests import pending_deletion_requests
from tests.launching import forms_in, launcher, submit  # noqa: F401  (fixture)

PRIVACY = "LtiDataPrivacyLaunchRequest"
FOR_USER = "https://purl.imsglobal.org/spec/lti/claim/for_user"
CONTEXT = "https://purl.imsglobal.org/spec/lti/claim/context"


def test_a_student_sees_downloads_and_asks_to_erase_their_data(app, launcher):
    launcher.as_student(1)  # the student has used the tool once
    result = launcher.launch(user="student1", message_type=PRIVACY)
    assert result.claims[FOR_USER]["user_id"] == result.claims["sub"]
    assert CONTEXT not in result.claims
    page = result.response
    assert page.status_code == 200 and "/privacy/" in page.url, page.text[:500]
    assert "Your data" in page.text and result.claims["sub"] in page.text
    assert "Download all of it (JSON)" in page.text

    download = result.session.get(f"{launcher.base}/privacy/export",
                                  params={"launch": result.launch_id}, timeout=20)
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    document = json.loads(download.text)
    assert document["profile"]["sub"] == result.claims["sub"]
    assert document["launches"]  # the launches that brought them here

    [form] = [f for f in forms_in(page) if f.action.endswith("/privacy/deletion-request")
              or "/privacy/deletion-request" in f.action]
    after = submit(result.session, form)
    assert after.status_code == 200 and "Erasure was requested" in after.text
    again = submit(result.session, form)  # asking twice records one request
    with app.app_context():
        requests = pending_deletion_requests()
        assert [(r.user.sub, r.by_self) for r in requests] == [(result.claims["sub"], True)]
        events = db.session.scalars(db.select(AuditEvent.event_type)).all()
        assert events.count("user_data_deletion_requested") == 1
        assert "user_data_exported" in events
    assert again.status_code == 200


def test_an_admin_acts_for_a_person_named_in_for_user(app, launcher):
    student = launcher.as_student(2).claims["sub"]
    result = launcher.launch(user="admin", message_type=PRIVACY, for_user="student2")
    assert result.claims[FOR_USER]["user_id"] == student
    assert result.response.status_code == 200
    assert "Data about" in result.response.text and student in result.response.text
    [form] = [f for f in forms_in(result.response) if "deletion-request" in f.action]
    submit(result.session, form)
    with app.app_context():
        [request] = pending_deletion_requests()
        assert request.user.sub == student and not request.by_self


def test_nobody_else_sees_another_persons_data(app, launcher):
    launcher.as_student(2)
    result = launcher.launch(user="student1", message_type=PRIVACY, for_user="student2")
    assert result.response.status_code == 403
    assert "Only an administrator of the LMS" in result.response.text


def test_a_person_the_tool_never_saw_is_told_so(app, launcher):
    result = launcher.launch(user="admin", message_type=PRIVACY, for_user="student3")
    assert result.response.status_code == 200
    assert "holds nothing about this person" in result.response.text
    with app.app_context():
        assert db.session.scalar(db.select(User).filter_by(sub=result.claims[FOR_USER]
                                                            ["user_id"])) is None


def test_pending_requests_are_listed_for_the_operator(app, launcher, runner):
    launcher.as_student(1)
    result = launcher.launch(user="student1", message_type=PRIVACY)
    [form] = [f for f in forms_in(result.response) if "deletion-request" in f.action]
    submit(result.session, form)
    listed = runner.invoke(args=["privacy", "requests"])
    assert result.claims["sub"] in listed.output and "asked by the person" in listed.output
    assert "privacy delete" in listed.output


def test_erasure_after_real_launches_leaves_no_trace_of_the_person(app, launcher, runner):
    """Launches store the LMS's claims in several places (launch records, the launch
    cache, the audit log); none of them keeps the person after `privacy delete`."""
    from tests.test_privacy import everything_in_the_database
    result = launcher.as_student(1)
    launcher.launch(user="student1", message_type=PRIVACY)
    sub, name, email = result.claims["sub"], result.claims["name"], result.claims["email"]
    with app.app_context():
        platform_id = db.session.scalar(db.select(User.platform_id).filter_by(sub=sub))
        before = everything_in_the_database()
        assert name in before and email in before  # the LMS's claims were kept
    done = runner.invoke(args=["privacy", "delete", str(platform_id), sub, "--yes"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        dump = everything_in_the_database()
    # (the demo LMS's `sub` is a small number, which any dump contains: names and e-mails
    # are what identifies the person there)
    assert name not in dump and email not in dump
    with app.app_context():
        assert db.session.scalar(db.select(User).filter_by(sub=sub)) is None
