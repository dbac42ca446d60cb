"""The instructor's queue reads one course's rows by index, whatever else the site holds.

At scale (bench/review_list_bench.py) a join of enrollments to users made PostgreSQL hash
every user of the site, and `max(id) ... IN (...)` every outbox row; these tests pin the
query shapes that avoid it, and what `latest_items` answers, across its batches.
"""
from __future__ import annotations

import re

import pytest

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.grading import outbox, review_queue
from lti_tool.grading import service as grading
from lti_tool.models import Assignment, ScoreOutbox, utcnow
from lti_tool.statuses import OutboxStatus
from tests.factories import Classroom, make_user
from tests.sql_statements import statements

pytestmark = pytest.mark.postgres  # query shapes: must hold on PostgreSQL too


def _outbox_row(submission, status, **kw):
    row = ScoreOutbox(submission_id=submission.id, payload={"scoreGiven": 1},
                      score_timestamp=utcnow(), status=status, **kw)
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def room(app):
    with app.app_context():
        yield Classroom()
        db.session.rollback()


def test_queue_reads_users_by_primary_key_never_joined(room):
    other = Classroom()  # another course's users must not be scanned for this one's
    for student in (room.student, room.other_student, other.student):
        grading.submission_for(room.assignment if student is not other.student
                               else other.assignment, student).submitted_at = utcnow()
    db.session.commit()
    assignment_id, wanted = room.assignment.id, sorted([room.student.id, room.other_student.id])
    db.session.expunge_all()
    assignment = db.session.get(Assignment, assignment_id)
    with statements(db.engine) as seen:
        rows = review_queue.build_rows(assignment)
    assert sorted(r.user.id for r in rows) == wanted
    user_reads = [s for s in seen if re.search(r'(FROM|JOIN) "?user"?( |$)', s)]
    assert user_reads, seen
    for statement in user_reads:
        assert not re.search(r'JOIN "?user"?( |$)', statement), statement
        assert re.search(r'WHERE "?user"?\.id IN', statement), statement


def test_queue_statements_do_not_grow_with_the_class(room):
    assignment_id = room.assignment.id

    def count():
        db.session.expunge_all()
        assignment = db.session.get(Assignment, assignment_id)
        with statements(db.engine) as seen:
            rows = review_queue.build_rows(assignment)
            [r.user.display_name for r in rows]
        return len(seen), len(rows)
    grading.submission_for(room.assignment, room.student).submitted_at = utcnow()
    db.session.commit()
    few, few_rows = count()
    assignment = db.session.get(Assignment, assignment_id)
    for _ in range(30):
        student = make_user(assignment.course.platform, assignment.course, Role.LEARNER)
        grading.submission_for(assignment, student).submitted_at = utcnow()
    db.session.commit()
    many, many_rows = count()
    assert (few_rows, many_rows) == (2, 32)
    assert many == few, "a query per student crept in"


def test_latest_items_returns_each_submissions_newest_live_row_across_batches(room,
                                                                           monkeypatch):
    monkeypatch.setattr(outbox, "LATEST_BATCH", 2)  # three submissions: two batches
    students = [room.student, room.other_student,
                make_user(room.platform, room.course, Role.LEARNER)]
    subs = [grading.submission_for(room.assignment, s) for s in students]
    db.session.flush()
    _outbox_row(subs[0], OutboxStatus.DELIVERED)
    newest_0 = _outbox_row(subs[0], OutboxStatus.PENDING)
    newest_1 = _outbox_row(subs[1], OutboxStatus.FAILED, last_error="refused")
    _outbox_row(subs[1], OutboxStatus.SUPERSEDED)  # newer, but not live
    db.session.commit()
    found = outbox.latest_items([s.id for s in subs] + [subs[0].id])
    assert {k: v.id for k, v in found.items()} == {subs[0].id: newest_0.id,
                                                   subs[1].id: newest_1.id}
    assert outbox.latest_items([]) == {}


def test_latest_items_reads_the_outbox_by_submission(room):
    submission = grading.submission_for(room.assignment, room.student)
    db.session.flush()
    _outbox_row(submission, OutboxStatus.DELIVERED)
    db.session.commit()
    with statements(db.engine) as seen:
        outbox.latest_items([submission.id])
    reads = [s for s in seen if "score_outbox" in s]
    assert len(reads) == 1, seen
    # The submission filter sits where the ranking reads the table, not on an outer scan.
    assert re.search(r"FROM score_outbox WHERE score_outbox\.submission_id IN", reads[0]), reads
