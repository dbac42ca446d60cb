"""The score outbox: nothing lost, retries with backoff, newest score wins, one sender."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import responses

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.grading import outbox, service as grading
from lti_tool.lti import ags_values as av
from lti_tool.models import AuditEvent, ScoreOutbox, utcnow
from lti_tool.statuses import OutboxStatus
from tests.agsfake import fake, room  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def grade(room, score=8.0, feedback="Good pacing", release=True):
    submission = grading.submission_for(room.assignment, room.student)
    if submission.submitted_at is None:
        submission.submitted_at = utcnow() - timedelta(hours=1)
    grading.save_grade(submission, room.instructor, score, feedback, release=release)
    db.session.commit()
    return submission


def rows():
    return db.session.scalars(db.select(ScoreOutbox).order_by(ScoreOutbox.id)).all()


def make_due():
    """Advance time for the outbox: every pending row becomes due now (no sleeping)."""
    db.session.execute(db.update(ScoreOutbox).where(ScoreOutbox.status == OutboxStatus.PENDING)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_grade_and_its_score_are_one_transaction(app, room, fake):
    fake.link()
    submission = grading.submission_for(room.assignment, room.student)
    grading.save_grade(submission, room.instructor, 5, "ok")
    db.session.rollback()
    assert rows() == []
    grade(room)
    assert [r.status for r in rows()] == [OutboxStatus.PENDING]


def test_delivered_score_has_completed_fully_graded_and_feedback(app, room, fake):
    fake.link()
    fake.accept_scores()
    submission = grade(room, 8.5, "Clear voice; speed up the intro")
    assert outbox.deliver_scores() == {"delivered": 1, "retry": 0, "failed": 0, "superseded": 0}
    [sent] = fake.sent_scores()
    assert sent["activityProgress"] == "Completed" and sent["gradingProgress"] == "FullyGraded"
    assert sent["scoreGiven"] == 8.5 and sent["scoreMaximum"] == room.assignment.max_score
    assert sent["comment"] == "Clear voice; speed up the intro"
    sent_at = datetime.fromisoformat(sent["timestamp"])
    assert timedelta(0) <= submission.graded_at - sent_at < timedelta(milliseconds=1)
    [row] = rows()
    assert row.status == OutboxStatus.DELIVERED and row.delivered_at is not None
    assert db.session.scalar(db.select(AuditEvent).filter_by(
        event_type=EventType.SCORE_DELIVERED)) is not None
    assert outbox.deliver_scores()["delivered"] == 0  # safe to run twice


def test_an_hour_of_503s_loses_nothing(app, room, fake):
    fake.link()
    for _ in range(12):
        fake.accept_scores(status=503, body="Service Unavailable")
    fake.accept_scores()
    grade(room)
    delays = []
    for _ in range(12):
        before = utcnow()
        assert outbox.deliver_scores()["retry"] == 1
        [row] = rows()
        assert row.status == OutboxStatus.PENDING and "503" in row.last_error
        delays.append((row.next_attempt_at - before).total_seconds())
        assert outbox.deliver_scores()["retry"] == 0  # not due yet: nothing sent
        make_due()
    assert outbox.deliver_scores()["delivered"] == 1
    assert rows()[0].status == OutboxStatus.DELIVERED and rows()[0].attempts == 13
    assert len(fake.sent_scores()) == 1
    assert delays[0] <= outbox.BASE_DELAY_SECONDS
    assert delays[5] > delays[0]  # exponential
    assert max(delays) <= outbox.MAX_DELAY_SECONDS


def test_retry_after_is_honoured(app, room, fake):
    fake.link()
    fake.accept_scores(status=429, body="slow down", headers={"Retry-After": "900"})
    grade(room)
    outbox.deliver_scores()
    [row] = rows()
    assert row.next_attempt_at >= utcnow() + timedelta(seconds=890)


def test_permanent_refusal_fails_with_reason_and_retry_sends_again(app, room, fake):
    fake.link()
    fake.accept_scores(status=400, body="Incorrect score received")
    fake.accept_scores()
    submission = grade(room)
    assert outbox.deliver_scores()["failed"] == 1
    [row] = rows()
    assert row.status == OutboxStatus.FAILED and "Incorrect score received" in row.last_error
    assert db.session.scalar(db.select(AuditEvent).filter_by(event_type=EventType.SCORE_FAILED))
    assert outbox.deliver_scores()["delivered"] == 0
    assert outbox.retry(submission) is not None
    db.session.commit()
    assert outbox.deliver_scores()["delivered"] == 1
    assert rows()[0].status == OutboxStatus.DELIVERED


def test_missing_score_scope_fails_clearly_and_keeps_the_grade(app, room, fake):
    fake.link(scopes=[av.SCOPE_LINEITEM])
    submission = grade(room, 9)
    assert outbox.deliver_scores()["failed"] == 1
    [row] = rows()
    assert "score scope" in row.last_error
    assert row.payload["scoreGiven"] == 9 and submission.score_given == 9
    assert len(fake.score_calls()) == 0


def test_newer_score_supersedes_older_pending_one(app, room, fake):
    fake.link()
    fake.accept_scores()
    grade(room, 5)
    grade(room, 7)
    assert [r.status for r in rows()] == [OutboxStatus.SUPERSEDED, OutboxStatus.PENDING]
    outbox.deliver_scores()
    assert [s["scoreGiven"] for s in fake.sent_scores()] == [7]


def test_older_score_is_never_sent_over_a_newer_one(app, room, fake):
    fake.link()
    fake.accept_scores()
    submission = grade(room, 7)
    late = outbox.queue_score(submission, {"userId": "x", "scoreGiven": 1},
                              submission.graded_at - timedelta(minutes=5))
    db.session.commit()
    assert late.status == OutboxStatus.SUPERSEDED
    outbox.deliver_scores()
    assert [s["scoreGiven"] for s in fake.sent_scores()] == [7]


def test_score_superseded_while_in_flight_is_not_marked_delivered(app, room, fake):
    fake.link()
    submission = grade(room, 5)

    def regrade_during_send(request):
        # A grader saves a new grade while the old one is on the wire.
        grading.save_grade(submission, room.instructor, 9, "better", release=True)
        db.session.commit()
        return 200, {}, ""

    fake.rsps.add_callback(responses.POST, fake.scores_url, callback=regrade_during_send)
    outbox.deliver_scores(limit=1)
    assert [r.status for r in rows()] == [OutboxStatus.SUPERSEDED, OutboxStatus.PENDING]
    fake.rsps.replace(responses.POST, fake.scores_url, status=200)
    outbox.deliver_scores()
    assert rows()[-1].status == OutboxStatus.DELIVERED


def test_one_score_of_a_submission_in_flight_at_a_time(app, room, fake):
    fake.link()
    submission = grade(room, 5)
    [first] = rows()
    first.claimed_until = utcnow() + timedelta(minutes=1)
    first.claimed_by = "another-runner"
    db.session.commit()
    other = grading.submission_for(room.assignment, room.other_student)
    other.submitted_at = utcnow()
    grading.save_grade(other, room.instructor, 3, None)
    db.session.commit()
    fake.accept_scores()
    assert outbox.deliver_scores()["delivered"] == 1  # only the other student's
    assert [s["userId"] for s in fake.sent_scores()] == [room.other_student.sub]
    assert db.session.get(ScoreOutbox, first.id).status == OutboxStatus.PENDING


def test_gives_up_after_the_configured_time_but_keeps_the_score(app, room, fake):
    fake.link()
    fake.accept_scores(status=503)
    grade(room)
    [row] = rows()
    row.created_at = utcnow() - timedelta(hours=80)
    db.session.commit()
    assert outbox.deliver_scores()["failed"] == 1
    assert "could not be reached for 72 hours" in rows()[0].last_error


def test_hold_then_release_sends_pending_then_graded(app, room, fake):
    fake.link()
    fake.accept_scores()
    submission = grade(room, 6, "held", release=False)
    assert rows() == []  # a held grade does not go to the LMS
    grading.set_released(submission, room.instructor, True)
    db.session.commit()
    outbox.deliver_scores()
    grading.set_released(submission, room.instructor, False)
    db.session.commit()
    outbox.deliver_scores()
    first, second = fake.sent_scores()
    assert first["gradingProgress"] == "FullyGraded" and first["scoreGiven"] == 6
    assert second["gradingProgress"] == "PendingManual" and "scoreGiven" not in second
    assert second["timestamp"] > first["timestamp"]


def test_concurrent_runners_do_not_double_send(app, room, fake):
    fake.link()
    lock = threading.Lock()
    sent = []

    def slow_accept(request):
        import time
        time.sleep(0.05)
        with lock:
            sent.append(json.loads(request.body)["userId"])
        return 200, {}, ""

    fake.rsps.add_callback(responses.POST, fake.scores_url, callback=slow_accept)
    students = [room.student, room.other_student]
    from lti_tool.access.roles import Role
    from tests.factories import make_user
    students += [make_user(room.platform, room.course, Role.LEARNER) for _ in range(6)]
    for s in students:
        sub = grading.submission_for(room.assignment, s)
        sub.submitted_at = utcnow()
        grading.save_grade(sub, room.instructor, 4, None)
    db.session.commit()
    # Take one token first so both runners share the cached one.
    outbox_fn_results = []

    def runner():
        with app.app_context():
            outbox_fn_results.append(outbox.deliver_scores())

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == sorted(s.sub for s in students)
    assert sum(r["delivered"] for r in outbox_fn_results) == len(students)
    db.session.expire_all()
    assert {r.status for r in rows()} == {OutboxStatus.DELIVERED}


def test_backoff_grows_with_jitter_and_cap():
    firsts = {outbox.backoff_seconds(1) for _ in range(20)}
    assert len(firsts) > 1 and all(15 <= d <= 30 for d in firsts)
    assert all(outbox.backoff_seconds(30) <= outbox.MAX_DELAY_SECONDS for _ in range(10))


def test_a_delivery_that_raises_keeps_the_score_pending_and_sends_it_later(app, room, fake,
                                                                           monkeypatch):
    fake.link()
    fake.accept_scores()
    grade(room, 7, "kept through a bug")

    def broken(assignment, payload):
        raise RuntimeError("a bug in the sender")
    monkeypatch.setattr(outbox.ags, "send_score", broken)
    assert outbox.deliver_scores() == {"delivered": 0, "retry": 1, "failed": 0, "superseded": 0}
    [row] = rows()
    assert row.status == OutboxStatus.PENDING and row.claimed_by is None
    assert "Internal error (RuntimeError)" in row.last_error
    assert row.next_attempt_at > utcnow()
    monkeypatch.undo()
    make_due()
    assert outbox.deliver_scores()["delivered"] == 1
    [sent] = fake.sent_scores()
    assert sent["scoreGiven"] == 7 and sent["comment"] == "kept through a bug"


def test_resaving_a_released_grade_with_release_unticked_tells_the_lms_it_is_pending(
        app, room, fake):
    fake.link()
    fake.accept_scores()
    grade(room, 9, "first look", release=True)
    outbox.deliver_scores()
    grade(room, 9, "first look", release=False)  # the form saved again, "release" unticked
    outbox.deliver_scores()
    first, second = fake.sent_scores()
    assert first["gradingProgress"] == "FullyGraded" and first["scoreGiven"] == 9
    assert second["gradingProgress"] == "PendingManual" and "scoreGiven" not in second
    assert "comment" not in second
