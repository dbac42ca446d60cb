"""Deadlines: a cut-off after which no new attempt starts (one started before it finishes),
a number of attempts (what was handed in), per-student extensions, the due date the LMS
sends, and Late marked and filterable on the submissions list."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lti_tool.errors import Forbidden
from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.lti import ags
from lti_tool.models import DeadlineExtension, Video, utcnow
from lti_tool.statuses import DueSource, VideoStatus
from lti_tool.uploads import attempts, deadlines
from lti_tool.uploads.rules import NO_ATTEMPTS_LEFT, PAST_CUTOFF, ensure_open_for_submission
from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.platform_kit import LIS, LTI, browser, platform  # noqa: F401  (fixtures)
from tests.review_fixtures import ready_video

HOUR = timedelta(hours=1)


def refusal(room, **kw) -> str | None:
    submission = grading.submission_for(room.assignment, room.student)
    try:
        ensure_open_for_submission(room.assignment, submission, user=room.student, **kw)
    except Forbidden as closed:
        return closed.code
    return None


def test_no_new_attempt_after_the_cutoff(room):
    room.assignment.cutoff_at = utcnow() + HOUR
    assert refusal(room) is None
    room.assignment.cutoff_at = utcnow() - HOUR
    assert refusal(room) == PAST_CUTOFF


def test_an_attempt_started_in_time_is_not_cut_off_mid_upload(room):
    submission = grading.submission_for(room.assignment, room.student)
    started = Video(submission_id=submission.id, attempt=1, backend="local",
                    status=VideoStatus.PROCESSING, created_at=utcnow() - 2 * HOUR)
    late_start = Video(submission_id=submission.id, attempt=2, backend="local",
                       status=VideoStatus.PROCESSING, created_at=utcnow() - HOUR / 4)
    db.session.add_all([started, late_start])
    room.assignment.cutoff_at = utcnow() - HOUR / 2  # passed while both were uploading
    db.session.commit()
    assert attempts.close_if_submission_closed(started) is None  # began before: kept
    refused = attempts.close_if_submission_closed(late_start)
    assert refused is not None and refused.code == PAST_CUTOFF
    assert late_start.status == VideoStatus.ERROR


def test_attempts_count_what_was_handed_in(room):
    room.assignment.max_attempts = 2
    ready_video(room, attempt=1)
    submission = grading.submission_for(room.assignment, room.student)
    db.session.add(Video(submission_id=submission.id, attempt=2, backend="local",
                         status=VideoStatus.ERROR))  # refused: not an attempt
    db.session.commit()
    assert refusal(room) is None
    ready_video(room, attempt=3)
    assert deadlines.attempts_handed_in(submission) == 2
    assert refusal(room) == NO_ATTEMPTS_LEFT


def test_an_extension_moves_the_due_date_and_cutoff_for_one_student(room):
    room.assignment.due_at = utcnow() - 2 * HOUR
    room.assignment.cutoff_at = utcnow() - HOUR
    db.session.add(DeadlineExtension(assignment_id=room.assignment.id, user_id=room.student.id,
                                     due_at=utcnow() + HOUR))
    db.session.commit()
    assert refusal(room) is None  # the cut-off follows the new due date
    mine = deadlines.deadlines_for(room.assignment, room.student)
    assert mine.extended and mine.cutoff_at >= mine.due_at
    assert not deadlines.deadlines_for(room.assignment, room.other_student).extended
    ready_video(room)  # handed in now: before the extended due date
    assert not deadlines.is_late(grading.submission_for(room.assignment, room.student),
                                 room.assignment)


def test_the_lms_due_date_is_read_unless_the_instructor_set_one(room):
    ags.apply_lineitem(room.assignment, {"endDateTime": "2031-05-01T12:00:00Z"})
    assert room.assignment.due_at.year == 2031
    assert room.assignment.due_source == DueSource.LMS
    room.assignment.due_source = DueSource.TOOL
    room.assignment.due_at = utcnow()
    ags.apply_lineitem(room.assignment, {"endDateTime": "2032-05-01T12:00:00Z"})
    assert room.assignment.due_at.year != 2032


def test_late_is_marked_and_filterable(client, room):
    room.assignment.due_at = utcnow() - HOUR
    db.session.commit()
    ready_video(room)  # submitted now: an hour late
    ready_video(room, student=room.other_student)
    grading.submission_for(room.assignment, room.other_student).submitted_at = \
        utcnow() - 2 * HOUR
    db.session.commit()
    launch = room.launch(room.instructor)
    page = client.get(f"/review/assignment?launch={launch.id}").get_data(as_text=True)
    late_rows = [row for row in page.split("<tr")[1:] if "badge-late" in row]
    assert len(late_rows) == 1 and room.student.display_name in late_rows[0]
    late = client.get(f"/review/assignment?launch={launch.id}&late=late").get_data(as_text=True)
    assert room.student.display_name in late and room.other_student.display_name not in late
    on_time = client.get(f"/review/assignment?launch={launch.id}&late=on_time").get_data(
        as_text=True)
    assert room.other_student.display_name in on_time and \
        room.student.display_name not in on_time.split("<tbody")[1]


# --- the instructor's settings page ----------------------------------------------------------

def post_form(client, url, launch, **data):
    return client.post(url, data={"launch": launch.id, **data})


def test_an_instructor_sets_due_date_cutoff_and_attempts(client, room):
    launch = room.launch(room.instructor)
    page = client.get(f"/review/assignment/settings?launch={launch.id}")
    assert page.status_code == 200 and "Deadlines and attempts" in page.get_data(as_text=True)
    resp = post_form(client, "/review/assignment/settings", launch, due_at="2031-03-01T09:00",
                     cutoff_at="2031-03-02T09:00", max_attempts="3")
    assert resp.status_code == 302
    db.session.expire_all()
    a = room.assignment
    assert (a.due_at.isoformat(), a.cutoff_at.day, a.max_attempts) == \
        ("2031-03-01T09:00:00+00:00", 2, 3)
    assert a.due_source == DueSource.TOOL
    student_page = client.get(f"/assignment?launch={room.launch(room.student).id}")
    text = student_page.get_data(as_text=True)
    assert "set by your instructor" in text and "Videos you may hand in:</strong> 3" in text


def test_a_cutoff_before_the_due_date_is_refused_with_the_reason(client, room):
    launch = room.launch(room.instructor)
    resp = post_form(client, "/review/assignment/settings", launch, due_at="2031-03-02T09:00",
                     cutoff_at="2031-03-01T09:00")
    assert resp.status_code == 302
    page = client.get(resp.location).get_data(as_text=True)
    assert "must not come before the due date" in page
    db.session.expire_all()
    assert room.assignment.due_at is None


def test_an_extension_is_granted_and_removed(client, room):
    launch = room.launch(room.instructor)
    resp = post_form(client, "/review/assignment/extensions", launch,
                     user_id=str(room.student.id), due_at="2031-04-01T12:00")
    assert resp.status_code == 302
    db.session.expire_all()
    assert deadlines.deadlines_for(room.assignment, room.student).extended
    assert room.student.display_name in client.get(
        f"/review/assignment/settings?launch={launch.id}").get_data(as_text=True)
    post_form(client, "/review/assignment/extensions", launch, user_id=str(room.student.id),
              remove="1")
    db.session.expire_all()
    assert not deadlines.deadlines_for(room.assignment, room.student).extended


@pytest.mark.parametrize("path", ["/review/assignment/settings", "/review/assignment/extensions"])
def test_students_cannot_change_deadlines(client, room, path):
    launch = room.launch(room.student)
    resp = post_form(client, path, launch, due_at="2031-03-01T09:00",
                     user_id=str(room.student.id))
    assert resp.status_code in (401, 403)


def test_canvas_sends_the_assignment_due_date_in_a_custom_parameter(browser, app):
    """Canvas replaces $Canvas.assignment.dueAt.iso8601, which the registration asks for, in
    each launch: the due date when the instructor set none in the tool, and the student and
    instructor see where it came from. An unreplaced variable is no date."""
    from lti_tool.lti.claims import CANVAS_DUE_AT_VARIABLE, CUSTOM, CUSTOM_LMS_DUE_AT
    from lti_tool.models import LaunchRecord

    def launch(value, role="Learner"):
        browser.platform.next_claims = {
            CUSTOM: {CUSTOM_LMS_DUE_AT: value},
            LTI + "roles": [LIS + f"membership#{role}"]}
        resp = browser.launch()
        assert resp.status_code == 303, resp.text
        return resp.headers["Location"]

    location = launch(CANVAS_DUE_AT_VARIABLE)  # a platform that does not know the variable
    with app.app_context():
        record = db.session.get(LaunchRecord, location.split("launch=")[1])
        assert record.assignment.due_at is None and record.assignment.due_source is None

    location = launch("2031-04-01T21:59:59Z")
    page = browser.session.get(browser.tool_url + location).text
    assert "(from the LMS assignment)" in page and 'datetime="2031-04-01T21:59:59' in page
    settings = browser.session.get(browser.tool_url + "/review/assignment/settings?launch="
                                   + launch("2031-04-01T21:59:59Z", "Instructor")
                                   .split("launch=")[1]).text
    assert "The due date\n    below came from the LMS assignment." in settings
    with app.app_context():
        assignment = db.session.get(LaunchRecord, location.split("launch=")[1]).assignment
        assert assignment.due_source == DueSource.LMS_ASSIGNMENT
        ags.apply_lineitem(assignment, {"endDateTime": None})  # a column without end date
        assert assignment.due_at.year == 2031
        assignment.due_source, assignment.due_at = DueSource.TOOL, utcnow() + HOUR
        db.session.commit()
    location = launch("2032-04-01T21:59:59Z")  # the instructor's date stays
    with app.app_context():
        assert db.session.get(LaunchRecord, location.split("launch=")[1]) \
            .assignment.due_at.year != 2032
