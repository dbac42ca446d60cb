"""End to end over real HTTP: the demo LMS launches our tool, which talks back to its services."""
from __future__ import annotations

import re
from datetime import timedelta

import requests

from demo_lms.control import control
from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.lti import ags as tool_ags
from lti_tool.lti.ags_values import ActivityProgress, GradingProgress
from lti_tool.models import LaunchRecord, utcnow
from tests.launching import follow_autopost, forms_in, submit


def launch_record(app, launch_id: str) -> tuple[str, str | None]:
    with app.app_context():
        record = db.session.get(LaunchRecord, launch_id)
        return record.role, record.assignment.title if record.assignment else None


def test_student_launch_lands_on_the_assignment_page(app, launcher):
    result = launcher.as_student(2)
    assert result.response.status_code == 200
    assert "/assignment" in result.url and result.launch_id
    assert "Video pitch" in result.response.text and "Ben Student" in result.response.text
    assert launch_record(app, result.launch_id) == (Role.LEARNER, "Video pitch")


def test_instructor_and_ta_launches_land_on_the_review_page(app, launcher):
    for launch, role in ((launcher.as_instructor, Role.INSTRUCTOR), (launcher.as_ta, Role.TA)):
        result = launch()
        assert result.response.status_code == 200, result.response.text[:500]
        assert "/review/" in result.url
        assert launch_record(app, result.launch_id) == (role, "Video pitch")


def test_admin_launch_is_a_platform_admin_in_the_tool(app, launcher):
    result = launcher.as_admin()
    assert result.response.status_code == 200
    with app.app_context():
        record = db.session.get(LaunchRecord, result.launch_id)
        assert record.user.is_platform_admin  # Moodle-style: Instructor + Administrator URIs
        assert record.role in (Role.ADMIN, Role.INSTRUCTOR)


def test_launch_from_the_second_course_stays_in_that_course(app, launcher):
    result = launcher.launch(user="student4", course="demo-course-2")
    assert launch_record(app, result.launch_id) == (Role.LEARNER, "Lab safety video")


def test_deep_linking_creates_an_activity_with_its_line_item(app, launcher):
    result = launcher.deep_link()
    assert result.response.status_code == 200, result.response.text[:500]
    [form] = [f for f in forms_in(result.response) if "title" in f.fields]
    returned = submit(result.session, form, title="Elevator pitch", max_score="40",
                      instructions="Two minutes, one take.")
    done = follow_autopost(result.session, returned)  # the tool posts the JWT back to the LMS
    assert done.status_code == 200, done.text[:800]
    assert "Elevator pitch" in done.text and "added to Film Studies 101" in done.text
    created = [i for i in control(app).lineitems() if i["label"] == "Elevator pitch"]
    assert len(created) == 1 and created[0]["scoreMaximum"] == 40
    home = result.session.get(f"{launcher.base}/demo-lms/").text
    assert "Elevator pitch" in home
    student = launcher.as_student(1, resource_link="Elevator pitch")
    assert launch_record(app, student.launch_id) == (Role.LEARNER, "Elevator pitch")


def test_gradebook_shows_a_score_posted_by_the_tools_ags_client(app, launcher):
    result = launcher.as_student(1)
    with app.app_context():
        record = db.session.get(LaunchRecord, result.launch_id)
        score = tool_ags.build_score(
            user_sub=record.user.sub, timestamp=utcnow() - timedelta(seconds=1),
            activity=ActivityProgress.COMPLETED, grading=GradingProgress.FULLY_GRADED,
            score_given=87, score_maximum=100, comment="Clear and confident")
        tool_ags.send_score(record.assignment, score)
        db.session.commit()
    [received] = control(app).scores()
    assert received["username"] == "student1" and received["scoreGiven"] == 87
    home = requests.get(f"{launcher.base}/demo-lms/", timeout=10).text
    row = re.search(r'<tr data-user="student1">(.*?)</tr>', home, re.S).group(1)
    assert "87 / 100" in row and "FullyGraded" in row and "Clear and confident" in row
    assert any(e["status"] == 200 for e in control(app).token_requests())


def test_submission_review_launch_reaches_the_tool(app, launcher):
    result = launcher.submission_review(2)
    assert result.claims["https://purl.imsglobal.org/spec/lti/claim/for_user"]["given_name"] \
        == "Ben"
    assert result.response.status_code in (200, 501), result.response.text[:500]
    assert launch_record(app, result.launch_id)[0] == Role.INSTRUCTOR
