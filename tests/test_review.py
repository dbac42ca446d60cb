"""The review pages and their endpoints: who may see and grade what, and the queue."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.lti import claims
from lti_tool.models import AuditEvent, Comment, Enrollment, ScoreOutbox, Video, utcnow
from lti_tool.statuses import VideoStatus
from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.factories import Classroom, make_assignment, make_course, make_launch, make_user
from tests.review_fixtures import make_test_video, ready_video
from tests.sql_statements import statements

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

JSON = {"Accept": "application/json", "X-Requested-With": "fetch"}


def hdr(launch, **extra):
    return {"X-LTI-Launch": launch.id, **JSON, **extra}


@pytest.fixture
def outsiders(room):
    """An instructor of another course on the same platform, and one of another platform."""
    course = make_course(room.platform)
    assignment = make_assignment(course)
    same_platform = make_user(room.platform, course, Role.INSTRUCTOR)
    other = Classroom()
    return {"other_course": make_launch(same_platform, course, assignment, Role.INSTRUCTOR),
            "other_platform": other.launch(other.instructor)}


def launch_of(room, outsiders, who):
    if who in outsiders:
        return outsiders[who]
    if who == "readonly":
        mentor = make_user(room.platform, room.course, Role.READONLY)
        return room.launch(mentor)
    return room.launch(getattr(room, who))


@pytest.mark.parametrize("who,view,grade,delete", [
    ("instructor", 200, 200, 200), ("ta", 200, 200, 403), ("readonly", 200, 403, 403),
    ("student", 403, 403, 403), ("other_course", 404, 404, 404),
    ("other_platform", 404, 404, 404)])
def test_access_matrix(app, client, room, outsiders, who, view, grade, delete):
    """The instructor's comment: only they may delete it; outsiders learn nothing."""
    video = ready_video(room)
    grading.add_comment(video.submission, room.instructor, 1, "seen by staff", video)
    db.session.commit()
    launch = launch_of(room, outsiders, who)
    page = client.get(f"/review/students/{room.student.id}", headers=hdr(launch))
    assert page.status_code == view
    if view != 200:
        assert b"seen by staff" not in page.data and room.student.display_name.encode() not in page.data
    resp = client.post(f"/review/students/{room.student.id}/grade", json={"score": 5},
                       headers=hdr(launch))
    assert resp.status_code == grade
    comment_id = video.submission.comments[0].id
    resp = client.delete(f"/review/comments/{comment_id}", headers=hdr(launch))
    assert resp.status_code == delete
    db.session.expire_all()
    assert video.submission.score_given == (5 if grade == 200 else None)
    assert len(video.submission.comments) == (0 if delete == 200 else 1)


def test_queue_lists_students_without_submission(app, client, room):
    ready_video(room)
    resp = client.get("/review/assignment", headers=hdr(room.launch(room.instructor)))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert room.student.display_name in html and room.other_student.display_name in html
    assert "Not submitted" in html and "Ready" in html
    assert room.instructor.display_name not in html.split("<tbody>")[1]


def test_queue_filters_and_sorts(app, client, room):
    ready_video(room)
    launch = room.launch(room.instructor)
    html = client.get("/review/assignment?status=not_submitted", headers=hdr(launch)).get_data(
        as_text=True)
    body = html.split("<tbody>")[1]
    assert room.other_student.display_name in body and room.student.display_name not in body
    html = client.get(f"/review/assignment?q={room.student.display_name}",
                      headers=hdr(launch)).get_data(as_text=True)
    assert room.other_student.display_name not in html.split("<tbody>")[1]


def test_queue_renders_500_students_with_bounded_queries(app, client, room, fake):
    fake.link()
    for i in range(500):
        student = make_user(room.platform, room.course, Role.LEARNER)
        if i % 2:
            submission = grading.submission_for(room.assignment, student)
            video = Video(submission_id=submission.id, attempt=1, backend="local",
                          storage_uid=f"u{i}", status=VideoStatus.READY, duration_seconds=61,
                          size_bytes=10_000_000)
            db.session.add(video)
            db.session.flush()
            submission.current_video_id = video.id
            submission.submitted_at = utcnow()
            if i % 3 == 0:
                grading.save_grade(submission, room.instructor, 7, "fine")
    db.session.commit()
    launch = room.launch(room.instructor)
    room.course.roster_synced_at = utcnow()  # no roster URL: nothing to sync
    db.session.commit()
    with statements(db.engine) as queries:
        resp = client.get("/review/assignment", headers=hdr(launch))
    assert resp.status_code == 200
    assert resp.get_data(as_text=True).count('<tr data-user=') == 502
    assert len(queries) <= 15, queries


def test_grade_form_validates_with_clear_message(app, client, room):
    ready_video(room)
    launch = room.launch(room.instructor)
    resp = client.post(f"/review/students/{room.student.id}/grade",
                       json={"score": "120", "feedback": "x"}, headers=hdr(launch))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["message"] == \
        "The grade must be between 0 and 100; you entered 120."
    resp = client.post(f"/review/students/{room.student.id}/grade",
                       data={"score": "abc", "launch": launch.id},
                       headers={"Accept": "text/html"})
    assert resp.status_code == 422 and b"must be a number" in resp.data


def test_html_grade_form_saves_and_returns_to_the_student(app, client, room, fake):
    fake.link()
    ready_video(room)
    launch = room.launch(room.ta)
    resp = client.post(f"/review/students/{room.student.id}/grade",
                       data={"score": "8", "feedback": "Nice", "release": "1",
                             "launch": launch.id, "status": "ready"})
    assert resp.status_code == 302
    assert f"/review/students/{room.student.id}" in resp.location and "status=ready" in resp.location
    page = client.get(resp.location).get_data(as_text=True)
    assert "Grade saved and released." in page and "Sending" in page
    row = db.session.scalar(db.select(ScoreOutbox))
    assert row.payload["scoreGiven"] == 8


def test_changes_need_the_launch_in_the_page_not_only_the_cookie(app, client, room):
    launch = room.launch(room.instructor)
    with client.session_transaction() as sess:
        sess["launch_id"] = launch.id
    resp = client.post(f"/review/students/{room.student.id}/grade", data={"score": "5"})
    assert resp.status_code == 403
    assert client.get("/review/assignment").status_code == 200  # reading is fine


def test_comments_api_add_edit_delete(app, client, room):
    video = ready_video(room, duration=10)
    launch = room.launch(room.instructor)
    url = f"/review/students/{room.student.id}/comments"
    resp = client.post(url, json={"at_seconds": 4.2, "body": "Eye contact", "video_id": video.id},
                       headers=hdr(launch))
    assert resp.status_code == 201
    comment = resp.get_json()["comment"]
    assert comment["at_seconds"] == 4.2 and comment["mine"]
    bad = client.post(url, json={"at_seconds": 99, "body": "x", "video_id": video.id},
                      headers=hdr(launch))
    assert bad.status_code == 422 and "past the end" in bad.get_json()["error"]["message"]
    ta = client.patch(f"/review/comments/{comment['id']}", json={"body": "mine"},
                      headers=hdr(room.launch(room.ta)))
    assert ta.status_code == 403
    ok = client.patch(f"/review/comments/{comment['id']}", json={"body": "Eye contact!"},
                      headers=hdr(launch))
    assert ok.get_json()["comment"]["body"] == "Eye contact!"
    assert client.delete(f"/review/comments/{comment['id']}", headers=hdr(launch)).status_code == 200
    assert db.session.scalar(db.select(Comment)) is None


def test_comment_on_another_students_video_is_refused(app, client, room):
    theirs = ready_video(room, student=room.other_student)
    ready_video(room)
    resp = client.post(f"/review/students/{room.student.id}/comments",
                       json={"at_seconds": 1, "body": "x", "video_id": theirs.id},
                       headers=hdr(room.launch(room.instructor)))
    assert resp.status_code == 404


def test_retry_button_resets_a_failed_score(app, client, room, fake):
    fake.link()
    fake.accept_scores(status=400, body="Incorrect score received")
    ready_video(room)
    launch = room.launch(room.instructor)
    client.post(f"/review/students/{room.student.id}/grade", json={"score": 3},
                headers=hdr(launch))
    from lti_tool.grading import outbox
    outbox.deliver_scores()
    page = client.get(f"/review/students/{room.student.id}", headers=hdr(launch))
    assert b"Incorrect score received" in page.data and b"Retry" in page.data
    resp = client.post(f"/review/students/{room.student.id}/retry", headers=hdr(launch))
    assert resp.status_code == 200 and resp.get_json()["lms"]["status"] == "pending"
    again = client.post(f"/review/students/{room.student.id}/retry", headers=hdr(launch))
    assert again.status_code == 409


def test_next_student_is_the_next_ungraded_submission(app, client, room):
    ready_video(room)
    ready_video(room, student=room.other_student)
    launch = room.launch(room.instructor)
    page = client.get(f"/review/students/{room.student.id}", headers=hdr(launch))
    match = re.search(r'id="next-student" href="([^"]+)"', page.get_data(as_text=True))
    assert match and f"/review/students/{room.other_student.id}" in match.group(1)


def test_submission_review_opens_the_students_submission(app, client, room):
    ready_video(room)
    launch = make_launch(room.instructor, room.course, room.assignment, Role.INSTRUCTOR,
                         **{claims.FOR_USER: {"user_id": room.student.sub}})
    launch.message_type = claims.SUBMISSION_REVIEW_REQUEST
    db.session.commit()
    resp = client.get("/review/submission-review", headers=hdr(launch))
    assert resp.status_code == 302
    assert f"/review/students/{room.student.id}" in resp.location


def test_submission_review_for_a_student_opens_their_own_page(app, client, room):
    launch = make_launch(room.student, room.course, room.assignment, Role.LEARNER,
                         **{claims.FOR_USER: {"user_id": room.other_student.sub}})
    resp = client.get("/review/submission-review", headers=hdr(launch))
    assert resp.status_code == 302 and resp.location.startswith("/assignment")


def test_submission_review_for_an_unknown_user_creates_an_empty_entry(app, client, room):
    launch = make_launch(room.instructor, room.course, room.assignment, Role.INSTRUCTOR,
                         **{claims.FOR_USER: {"user_id": "never-launched", "name": "New One"}})
    resp = client.get("/review/submission-review", headers=hdr(launch))
    page = client.get(resp.location, headers=hdr(launch))
    assert page.status_code == 200 and b"New One" in page.data
    assert b"has not submitted a video yet" in page.data


def test_download_of_the_original_is_audited(app, client, room, tmp_path):
    video = ready_video(room, file=make_test_video(tmp_path / "pitch.mp4"))
    launch = room.launch(room.instructor)
    page = client.get(f"/review/students/{room.student.id}", headers=hdr(launch))
    assert b"Download original" in page.data
    resp = client.get(f"/review/videos/{video.id}/download", headers=hdr(launch))
    assert resp.status_code == 302
    event = db.session.scalar(db.select(AuditEvent).filter_by(event_type="download_granted"))
    assert event.actor_id == room.instructor.id and event.target_id == str(video.id)
    got = client.get(resp.location)
    assert got.status_code == 200 and got.data == (tmp_path / "pitch.mp4").read_bytes()
    assert "attachment" in got.headers["Content-Disposition"]
    student = client.get(f"/review/videos/{video.id}/download",
                         headers=hdr(room.launch(room.student)))
    assert student.status_code == 403


def test_readonly_sees_the_page_without_grading_controls(app, client, room):
    ready_video(room)
    mentor = make_user(room.platform, room.course, Role.READONLY)
    page = client.get(f"/review/students/{room.student.id}",
                      headers=hdr(room.launch(mentor))).get_data(as_text=True)
    assert 'id="score"' in page and "disabled" in page.split('id="score"')[1].split(">")[0]
    assert "Save and next" not in page and 'id="add-comment"' not in page


def test_late_submissions_carry_the_badge_and_the_timing_filter_finds_them(app, client, room):
    ready_video(room)  # submitted now
    on_time_video = ready_video(room, student=room.other_student)
    room.assignment.due_at = utcnow() - timedelta(hours=1)
    on_time = db.session.get(Video, on_time_video.id).submission
    on_time.submitted_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    launch = room.launch(room.instructor)

    def body(query=""):
        html = client.get(f"/review/assignment{query}", headers=hdr(launch)).get_data(
            as_text=True)
        return html.split("<tbody>")[1].split("</tbody>")[0]

    rows = {row.split("</tr>")[0] for row in body().split("<tr")[1:]}
    [late_row] = [r for r in rows if room.student.display_name in r]
    [on_time_row] = [r for r in rows if room.other_student.display_name in r]
    assert "badge-late" in late_row and "badge-late" not in on_time_row
    late_only = body("?late=late")
    assert room.student.display_name in late_only
    assert room.other_student.display_name not in late_only
    on_time_only = body("?late=on_time")
    assert room.other_student.display_name in on_time_only
    assert room.student.display_name not in on_time_only
    page = client.get(f"/review/students/{room.student.id}", headers=hdr(launch))
    assert "badge-late" in page.get_data(as_text=True)
    page = client.get(f"/review/students/{room.other_student.id}", headers=hdr(launch))
    assert "badge-late" not in page.get_data(as_text=True)
