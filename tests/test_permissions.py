"""Staff rights come from one source, the current enrollment: a TA removed from the course by
a roster sync can neither grade nor play, though their launch is still live."""
from __future__ import annotations

import pytest
import responses

from lti_tool.extensions import db
from lti_tool.lti import nrps
from lti_tool.models import Submission, Video
from lti_tool.statuses import VideoStatus
from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.test_nrps import INSTRUCTOR, member, roster  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def test_a_ta_removed_by_a_roster_sync_can_neither_grade_nor_play(app, client, room, fake,
                                                                  roster):
    submission = Submission(assignment_id=room.assignment.id, user_id=room.student.id)
    db.session.add(submission)
    db.session.flush()
    video = Video(submission_id=submission.id, attempt=1, backend="local", storage_uid="u1",
                  status=VideoStatus.READY)
    db.session.add(video)
    db.session.commit()
    ta = room.launch(room.ta)
    headers = {"X-LTI-Launch": ta.id, "Accept": "application/json"}
    grade_url = f"/review/students/{room.student.id}/grade"
    assert client.get("/review/assignment", headers=headers).status_code == 200

    # The LMS's roster says the TA was removed from the course.
    fake.rsps.add(responses.GET, roster, json={"members": [
        member(room.student.sub), member(room.other_student.sub),
        member(room.instructor.sub, roles=(INSTRUCTOR,)),
        member(room.ta.sub, roles=(TA,), status="Deleted")]})
    nrps.sync_roster(room.course)
    db.session.commit()

    assert client.get("/review/assignment", headers=headers).status_code == 403
    assert client.post(grade_url, json={"score": 5}, headers=headers).status_code == 403
    assert client.get(f"/api/videos/{video.id}/playback", headers=headers).status_code == 404
    db.session.expire_all()
    assert db.session.get(Submission, submission.id).score_given is None
