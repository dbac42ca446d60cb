"""Release all held grades: graders only, this assignment only, each one queued for the LMS."""
from __future__ import annotations

import pytest

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.models import ScoreOutbox, Submission
from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.factories import make_assignment, make_launch
from tests.review_fixtures import ready_video

JSON = {"Accept": "application/json", "X-Requested-With": "fetch"}


def hold(room, student, assignment=None):
    ready_video(room, student=student) if assignment is None else None
    submission = grading.submission_for(assignment or room.assignment, student)
    grading.save_grade(submission, room.instructor, 6, "Kept back", release=False)
    db.session.commit()
    return submission


def release(client, launch):
    return client.post("/review/assignment/release-held",
                       headers={"X-LTI-Launch": launch.id, **JSON})


def test_a_grader_releases_every_held_grade_of_the_assignment(client, room, fake):
    fake.link()
    held = [hold(room, room.student), hold(room, room.other_student)]
    other = make_assignment(room.course)
    elsewhere = hold(room, room.student, assignment=other)
    resp = release(client, room.launch(room.instructor))
    assert resp.status_code == 200 and resp.get_json()["released"] == 2
    db.session.expire_all()
    assert all(db.session.get(Submission, s.id).released for s in held)
    assert not db.session.get(Submission, elsewhere.id).released  # another assignment
    sent = db.session.scalars(db.select(ScoreOutbox).filter_by(status="pending")).all()
    assert {row.submission_id for row in sent} >= {s.id for s in held}
    assert release(client, room.launch(room.instructor)).get_json()["released"] == 0


@pytest.mark.parametrize("role", [Role.LEARNER])
def test_a_student_cannot_release_grades(client, room, role):
    submission = hold(room, room.student)
    launch = make_launch(room.student, room.course, room.assignment, role)
    assert release(client, launch).status_code in (401, 403)
    db.session.expire_all()
    assert not db.session.get(Submission, submission.id).released
