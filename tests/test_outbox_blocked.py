"""Grades that wait for a misconfigured LMS: a refusal a configuration change cures is
retried like an outage and explained in plain words; "retry all failed" per platform; a
"submitted" notice the LMS did not take is no refused grade."""
from __future__ import annotations

from datetime import timedelta

import pytest
import responses

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.grading import outbox, review_queue, service as grading
from lti_tool.lti import ags_values as av
from lti_tool.lti.service_token import ServiceBlocked, ServiceRefused, access_token
from lti_tool.models import AuditEvent, ScoreOutbox, utcnow
from lti_tool.statuses import OutboxStatus
from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.factories import Classroom
from tests.test_outbox import make_due, rows

from .housekeeping_fixtures import queue_outbox, submission_of

MOODLE_404 = ('<!DOCTYPE html> <html dir="ltr" lang="en" xml:lang="en"><head><title>Error'
              '</title></head><body><p>fix_jwks_alg(): Argument #1 ($jwks) must be of type '
              'array, null given</p></body></html>')


def grade(room, score=8.0):
    submission = grading.submission_for(room.assignment, room.student)
    submission.submitted_at = utcnow() - timedelta(hours=1)
    grading.save_grade(submission, room.instructor, score, "ok", release=True)
    db.session.commit()
    return submission


def block_token_endpoint(fake, status=404, body=MOODLE_404):
    fake.rsps.replace(responses.POST, fake.token_url, status=status, body=body,
                      content_type="text/html; charset=utf-8")


def unblock_token_endpoint(fake):
    fake.rsps.remove(responses.POST, fake.token_url)
    fake.rsps.add_callback(responses.POST, fake.token_url, callback=fake._token)


def test_moodle_blocking_the_tool_is_retried_and_explained_then_delivered(app, room, fake):
    room.platform.product_family = "moodle"
    fake.link()
    fake.accept_scores()
    block_token_endpoint(fake)
    grade(room)
    for _ in range(3):
        assert outbox.deliver_scores()["retry"] == 1
        [row] = rows()
        assert row.status == OutboxStatus.PENDING
        make_due()
    reason = rows()[0].last_error
    assert "Site administration > General > Security > HTTP security" in reason
    assert "cURL blocked hosts list" in reason and "cURL allowed ports" in reason
    assert "<" not in reason and "DOCTYPE" not in reason and "fix_jwks_alg" not in reason
    unblock_token_endpoint(fake)  # the admin fixed the setting
    assert outbox.deliver_scores()["delivered"] == 1
    assert [s["scoreGiven"] for s in fake.sent_scores()] == [8.0]


def test_another_lms_gets_a_general_cure(app, room, fake):
    fake.link()
    block_token_endpoint(fake, status=403, body="<html><body>Forbidden</body></html>")
    grade(room)
    assert outbox.deliver_scores()["retry"] == 1
    reason = rows()[0].last_error
    assert "answered 403 with an error page" in reason and "outgoing requests" in reason
    assert "Moodle" not in reason and "<html" not in reason


def test_a_blocked_lms_fails_only_after_the_give_up_time(app, room, fake):
    room.platform.product_family = "moodle"
    fake.link()
    block_token_endpoint(fake)
    grade(room)
    [row] = rows()
    row.created_at = utcnow() - timedelta(hours=80)
    db.session.commit()
    assert outbox.deliver_scores()["failed"] == 1
    [row] = rows()
    assert row.status == OutboxStatus.FAILED and "72 hours" in row.last_error
    assert "HTTP security" in row.last_error and "<" not in row.last_error


def test_a_json_refusal_of_the_token_endpoint_stays_permanent(app, room):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, room.platform.auth_token_url, status=404,
                 json={"error": "invalid_client"})
        with pytest.raises(ServiceRefused) as err:
            access_token(room.platform, [av.SCOPE_SCORE])
    assert not isinstance(err.value, ServiceBlocked)


def test_an_error_page_from_a_service_is_named_never_quoted(app, room, fake):
    fake.link()
    fake.accept_scores(status=404, body=MOODLE_404)
    grade(room)
    assert outbox.deliver_scores()["failed"] == 1
    reason = rows()[0].last_error
    assert "an error page instead of an answer" in reason and "<" not in reason


def test_an_lms_address_the_tool_refuses_waits_for_the_operator(app):
    with app.app_context():
        room = Classroom()
        room.platform.auth_token_url = "http://10.255.255.1/mod/lti/token.php"
        app.config["OUTBOUND_ALLOW_LOOPBACK"] = False
        with pytest.raises(ServiceBlocked, match="OUTBOUND_ALLOWED_NETWORKS") as err:
            access_token(room.platform, [av.SCOPE_SCORE])
        assert err.value.retryable


def test_retry_all_failed_requeues_one_platforms_failed_scores(app, room, runner):
    other = Classroom()
    failed = [queue_outbox(submission_of(room.assignment, user), OutboxStatus.FAILED)
              for user in (room.student, room.other_student)]
    delivered = queue_outbox(submission_of(room.assignment, room.ta), OutboxStatus.DELIVERED)
    elsewhere = queue_outbox(submission_of(other.assignment, other.student), OutboxStatus.FAILED)
    result = runner.invoke(args=["grades", "retry-failed", str(room.platform.id)])
    assert result.exit_code == 0 and "2 failed scores queued again" in result.output
    db.session.expire_all()
    for item in failed:
        item = db.session.get(ScoreOutbox, item.id)
        assert item.status == OutboxStatus.PENDING and item.attempts == 0
        assert item.last_error is None and item.next_attempt_at <= utcnow()
    assert db.session.get(ScoreOutbox, delivered.id).status == OutboxStatus.DELIVERED
    assert db.session.get(ScoreOutbox, elsewhere.id).status == OutboxStatus.FAILED
    event = db.session.scalar(db.select(AuditEvent).filter_by(
        event_type=EventType.SCORES_RETRIED))
    assert event.platform_id == room.platform.id and event.data == {"count": 2}
    assert outbox.retry_failed_scores(room.platform.id) == 0


def test_a_refused_submitted_notice_is_not_a_refused_grade(app, room, runner):
    notice = submission_of(room.assignment, room.student)
    notice.submitted_at = utcnow()
    queue_outbox(notice, OutboxStatus.FAILED, activityProgress="Submitted",
                 gradingProgress="PendingManual")
    graded = submission_of(room.assignment, room.other_student)
    queue_outbox(graded, OutboxStatus.FAILED, scoreGiven=4)
    health = outbox.passback_health(room.platform.id)
    assert health["failed_grades"] == 1 and health["failed_notices"] == 1
    assert review_queue.summary(review_queue.build_rows(room.assignment))["failed"] == 1
    result = runner.invoke(args=["grades", "status", str(room.platform.id)])
    assert "failed grades: 1" in result.output and "notices (no grade refused): 1" in result.output
