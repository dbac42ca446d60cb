"""The LMS column says what really reached the gradebook: a reported submission is not a
grade, a held grade is named as held, a failed delivery as failed."""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.grading import outbox, service as grading
from lti_tool.models import ScoreOutbox, utcnow
from lti_tool.statuses import OutboxStatus
from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.review_fixtures import ready_video


def deliver_all() -> None:
    """Mark every open score as delivered, as the job does once the LMS answered."""
    for item in db.session.scalars(db.select(ScoreOutbox).filter_by(status=OutboxStatus.PENDING)):
        item.status, item.delivered_at = OutboxStatus.DELIVERED, utcnow()
    db.session.commit()


def lms_cell(client, room) -> str:
    launch = room.launch(room.instructor)
    page = client.get(f"/review/students/{room.student.id}?launch={launch.id}")
    text = page.get_data(as_text=True)
    start = text.index('id="lms-status"')
    return text[start:text.index("</aside>", start)]


def test_a_reported_submission_is_not_a_grade(client, room, fake):
    fake.link()
    ready_video(room)
    submission = grading.submission_for(room.assignment, room.student)
    grading.queue_current_score(submission, utcnow())
    deliver_all()
    cell = lms_cell(client, room)
    assert "Submission reported" in cell and "Grade in LMS" not in cell


def test_a_released_grade_in_the_lms(client, room, fake):
    fake.link()
    ready_video(room)
    submission = grading.submission_for(room.assignment, room.student)
    grading.save_grade(submission, room.instructor, 7, "Fine", release=True)
    deliver_all()
    assert "Grade in LMS" in lms_cell(client, room)


def test_a_held_grade_is_named_held_beside_what_was_sent(client, room, fake):
    fake.link()
    ready_video(room)
    submission = grading.submission_for(room.assignment, room.student)
    grading.queue_current_score(submission, utcnow())
    deliver_all()
    grading.save_grade(submission, room.instructor, 7, "Fine", release=False)
    db.session.commit()
    cell = lms_cell(client, room)
    assert "Grade held" in cell and "Submission reported" in cell
    assert "Grade in LMS" not in cell


@pytest.mark.parametrize("status, error, label", [
    (OutboxStatus.FAILED, "400 Bad Request", "Delivery failed"),
    (OutboxStatus.PENDING, "503 from the LMS", "Delivery failed (retrying)"),
    (OutboxStatus.PENDING, None, "Sending"),
])
def test_delivery_trouble_is_said(client, room, fake, status, error, label):
    fake.link()
    ready_video(room)
    submission = grading.submission_for(room.assignment, room.student)
    grading.save_grade(submission, room.instructor, 7, "Fine", release=True)
    item = db.session.scalar(db.select(ScoreOutbox))
    item.status, item.last_error, item.attempts = status, error, 2
    db.session.commit()
    assert outbox.lms_state(item, submission).label == label
    cell = lms_cell(client, room)
    assert f">{label}</span>" in cell
    assert ("Retry</button>" in cell) is (status == OutboxStatus.FAILED)
