"""Grade passback end to end: the tool against the demo LMS over real HTTP.

Students upload real videos over tus, instructors grade through the review endpoints, the
outbox job delivers, and the demo LMS (which validates scores as Moodle does) records them.
Time is advanced by making outbox rows due, never by sleeping.
"""
from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta

import pytest
import requests

from demo_lms.control import control
from demo_lms.models import DemoAccessToken
from lti_tool.grading import outbox
from lti_tool.extensions import db
from lti_tool.lti import ags_values as av
from lti_tool.models import AccessToken, LaunchRecord, ScoreOutbox, Submission, User, utcnow
from lti_tool.statuses import OutboxStatus
from tests.launching import launcher  # noqa: F401  (fixture)
from tests.review_fixtures import make_test_video

TIMEOUT = 20


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_test_video(tmp_path_factory.mktemp("clips") / "pitch.mp4")


@pytest.fixture
def lms(app):
    ctl = control(app)
    ctl.reset()
    return ctl


def upload(launcher, student, clip) -> int:
    """Upload a real video as the launched student over tus; return the video id."""
    base, launch = launcher.base, {"X-LTI-Launch": student.launch_id}
    data = clip.read_bytes()
    ticket = requests.post(f"{base}/api/uploads", headers=launch, timeout=TIMEOUT, json={
        "filename": clip.name, "size_bytes": len(data), "content_type": "video/mp4"})
    assert ticket.status_code == 201, ticket.text
    ticket = ticket.json()
    meta = ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}"
                    for k, v in ticket["metadata"].items())
    tus = {"Tus-Resumable": "1.0.0", **launch}
    created = requests.post(ticket["endpoint"], timeout=TIMEOUT, headers={
        **tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
    assert created.status_code == 201, created.text
    patched = requests.patch(created.headers["Location"], data=data, timeout=TIMEOUT, headers={
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert patched.status_code == 204, patched.text
    done = requests.post(base + ticket["complete_url"], headers=launch, timeout=TIMEOUT)
    assert done.status_code == 200 and done.json()["status"] == "ready", done.text
    return ticket["video_id"]


def user_id(app, launch_id) -> int:
    with app.app_context():
        return db.session.get(LaunchRecord, launch_id).user_id


def grade(launcher, staff, student_user_id, score, feedback="", release=True):
    """Grade as the browser's form does (the launch id travels in the form)."""
    return staff.session.post(
        f"{launcher.base}/review/students/{student_user_id}/grade", timeout=TIMEOUT,
        data={"launch": staff.launch_id, "score": str(score), "feedback": feedback,
              **({"release": "1"} if release else {})})


def deliver(app):
    with app.app_context():
        return outbox.deliver_scores()


def make_due(app):
    with app.app_context():
        db.session.execute(db.update(ScoreOutbox).where(
            ScoreOutbox.status == OutboxStatus.PENDING).values(
            next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def outbox_rows(app):
    with app.app_context():
        return [(r.status, r.last_error, r.payload) for r in db.session.scalars(
            db.select(ScoreOutbox).order_by(ScoreOutbox.id))]


def test_roster_lists_students_who_never_launched(app, launcher, lms):
    staff = launcher.as_instructor()
    assert staff.response.status_code == 200
    html = staff.response.text
    for name in ("Ada Student", "Ben Student", "Chloé Student"):
        assert name in html
    assert "Ines Instructor" not in html.split("<tbody>")[1]
    assert html.count("Not submitted") >= 3
    assert any(av.SCOPE_NRPS in r["scopes_requested"] for r in lms.token_requests())


def test_upload_then_grade_reach_the_gradebook_with_the_right_progress(app, launcher, lms, clip):
    student = launcher.as_student(1)
    upload(launcher, student, clip)
    assert deliver(app)["delivered"] == 1
    [submitted] = lms.scores()
    assert (submitted["activityProgress"], submitted["gradingProgress"]) == (
        "Submitted", "PendingManual")
    assert submitted["scoreGiven"] is None and submitted["username"] == "student1"
    with app.app_context():
        sub = db.session.scalar(db.select(Submission))
        submitted_at = sub.submitted_at
    assert abs(datetime.fromisoformat(submitted["timestamp"]) - submitted_at) < timedelta(
        milliseconds=1)

    staff = launcher.as_instructor()
    resp = grade(launcher, staff, user_id(app, student.launch_id), 87, "Clear and confident")
    assert resp.status_code == 200 and "Grade saved and released." in resp.text
    assert deliver(app)["delivered"] == 1
    graded = lms.scores()[-1]
    assert (graded["activityProgress"], graded["gradingProgress"]) == ("Completed", "FullyGraded")
    assert graded["scoreGiven"] == 87 and graded["scoreMaximum"] == 100
    assert graded["comment"] == "Clear and confident" and graded["applied"]
    page = staff.session.get(f"{launcher.base}/review/assignment",
                             params={"launch": staff.launch_id}, timeout=TIMEOUT).text
    row = re.search(r'<tr data-user="\d+" data-status="ready">(.*?)</tr>', page, re.S).group(1)
    assert "Grade in LMS" in row and "87 / 100" in row


def test_platform_down_with_503s_then_back_loses_nothing(app, launcher, lms):
    staff = launcher.as_instructor()
    student = launcher.as_student(2)
    lms.fail_next("scores", 503, times=8)
    grade(launcher, staff, user_id(app, student.launch_id), 55, "Keep going")
    for _ in range(8):
        assert deliver(app)["retry"] == 1
        assert deliver(app)["retry"] == 0  # backing off: nothing sent early
        make_due(app)
    assert deliver(app)["delivered"] == 1
    [score] = lms.scores()
    assert score["scoreGiven"] == 55 and score["username"] == "student2"
    [(status, _, _)] = outbox_rows(app)
    assert status == OutboxStatus.DELIVERED


def test_429_retry_after_is_honoured(app, launcher, lms):
    staff = launcher.as_instructor()
    student = launcher.as_student(1)
    lms.fail_next("scores", 429, retry_after=600)
    grade(launcher, staff, user_id(app, student.launch_id), 70)
    assert deliver(app)["retry"] == 1
    with app.app_context():
        row = db.session.scalar(db.select(ScoreOutbox))
        assert row.next_attempt_at >= utcnow() + timedelta(seconds=590)
    assert deliver(app)["retry"] == 0 and lms.scores() == []
    make_due(app)
    assert deliver(app)["delivered"] == 1


def test_expired_token_is_refreshed(app, launcher, lms):
    staff = launcher.as_instructor()
    student = launcher.as_student(1)
    lms.set_token_ttl(1)
    grade(launcher, staff, user_id(app, student.launch_id), 10)
    assert deliver(app)["delivered"] == 1
    with app.app_context():  # our cache still trusts the token the LMS has now expired
        for token in db.session.scalars(db.select(AccessToken)):
            token.expires_at = utcnow() + timedelta(hours=1)
        db.session.commit()
    with app.app_context():  # the platform's clock a second and a half later
        db.session.execute(db.update(DemoAccessToken).values(
            expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    grade(launcher, staff, user_id(app, student.launch_id), 12)
    assert deliver(app)["delivered"] == 1
    assert [s["scoreGiven"] for s in lms.scores()] == [10, 12]
    score_tokens = [r for r in lms.token_requests()
                    if r["scopes_requested"] == [av.SCOPE_SCORE] and r["status"] == 200]
    assert len(score_tokens) == 2  # the 401 made the tool ask for a new one


def test_grade_sync_only_sends_scores_without_line_item_calls(app, launcher, lms):
    lms.set_granted_scopes([av.SCOPE_SCORE, av.SCOPE_NRPS])
    staff = launcher.as_instructor()
    student = launcher.as_student(3)
    grade(launcher, staff, user_id(app, student.launch_id), 33, "ok")
    assert deliver(app)["delivered"] == 1
    assert lms.scores()[-1]["scoreGiven"] == 33
    requested = {s for r in lms.token_requests() for s in r["scopes_requested"]}
    assert requested == {av.SCOPE_SCORE, av.SCOPE_NRPS}  # no line-item call was possible


def test_without_score_scope_the_grade_waits_with_a_clear_message(app, launcher, lms):
    lms.set_granted_scopes([av.SCOPE_LINEITEM, av.SCOPE_NRPS])
    staff = launcher.as_instructor()
    student = launcher.as_student(1)
    sid = user_id(app, student.launch_id)
    grade(launcher, staff, sid, 44, "kept")
    assert deliver(app)["failed"] == 1
    [(status, reason, payload)] = outbox_rows(app)
    assert status == OutboxStatus.FAILED and "did not allow this tool to send grades" in reason
    assert payload["scoreGiven"] == 44 and lms.scores() == []
    page = staff.session.get(f"{launcher.base}/review/students/{sid}",
                             params={"launch": staff.launch_id}, timeout=TIMEOUT).text
    assert "did not allow this tool to send grades" in page and "Retry" in page
    # The admin enables grade sync; the next launch brings the scope; retry delivers.
    lms.set_granted_scopes(None)
    staff = launcher.as_instructor()
    retried = staff.session.post(f"{launcher.base}/review/students/{sid}/retry",
                                 data={"launch": staff.launch_id}, timeout=TIMEOUT)
    assert retried.status_code == 200
    assert deliver(app)["delivered"] == 1
    assert lms.scores()[-1]["scoreGiven"] == 44


def test_an_older_score_never_overwrites_a_newer_one(app, launcher, lms):
    staff = launcher.as_instructor()
    student = launcher.as_student(2)
    sid = user_id(app, student.launch_id)
    lms.fail_next("scores", 503)
    grade(launcher, staff, sid, 40)
    deliver(app)  # first grade now waiting after a 503
    grade(launcher, staff, sid, 90, "regraded")
    make_due(app)
    assert deliver(app) == {"delivered": 1, "retry": 0, "failed": 0, "superseded": 0}
    assert [s["scoreGiven"] for s in lms.scores()] == [90]
    assert [r[0] for r in outbox_rows(app)] == [OutboxStatus.SUPERSEDED, OutboxStatus.DELIVERED]


def test_submission_review_opens_that_students_submission(app, launcher, lms, clip):
    student = launcher.as_student(2)
    upload(launcher, student, clip)
    result = launcher.submission_review(2)
    assert result.response.status_code == 200
    assert f"/review/students/{user_id(app, student.launch_id)}" in result.response.url
    assert "Ben Student" in result.response.text and 'id="player"' in result.response.text
    own = launcher.submission_review(2, user="student2")
    assert own.response.status_code == 200 and "/assignment" in own.response.url
    assert "/review/" not in own.response.url


def test_comments_reach_the_right_student_only_once_released(app, launcher, lms, clip):
    ada = launcher.as_student(1)
    upload(launcher, ada, clip)
    ben = launcher.as_student(2)
    upload(launcher, ben, clip)
    staff = launcher.as_instructor()
    ada_id = user_id(app, ada.launch_id)
    with app.app_context():
        video_id = db.session.scalar(db.select(Submission).filter_by(user_id=ada_id)).current_video_id
    added = requests.post(f"{launcher.base}/review/students/{ada_id}/comments", timeout=TIMEOUT,
                          headers={"X-LTI-Launch": staff.launch_id},
                          json={"at_seconds": 1.5, "body": "Lovely framing here",
                                "video_id": video_id})
    assert added.status_code == 201
    grade(launcher, staff, ada_id, 18, "Well argued", release=False)

    def page(who):
        return who.session.get(f"{launcher.base}/assignment", params={"launch": who.launch_id},
                               timeout=TIMEOUT).text

    assert "Lovely framing here" not in page(ada) and "Well argued" not in page(ada)
    released = staff.session.post(f"{launcher.base}/review/students/{ada_id}/release",
                                  data={"launch": staff.launch_id, "released": "1"},
                                  timeout=TIMEOUT)
    assert released.status_code == 200
    shown = page(ada)
    assert "Lovely framing here" in shown and "Well argued" in shown and "18 / 100" in shown
    assert 'data-seek="1.5"' in shown
    assert "Lovely framing here" not in page(ben) and "Well argued" not in page(ben)


def test_instructor_of_another_course_can_neither_see_nor_grade(app, launcher, lms, clip):
    ada = launcher.as_student(1)
    upload(launcher, ada, clip)
    ada_id = user_id(app, ada.launch_id)
    other = launcher.launch(user="instructor2", course="demo-course-2")
    assert other.response.status_code == 200
    seen = other.session.get(f"{launcher.base}/review/students/{ada_id}",
                             params={"launch": other.launch_id}, timeout=TIMEOUT)
    assert seen.status_code == 404 and "Ada" not in seen.text
    graded = grade(launcher, other, ada_id, 1)
    assert graded.status_code == 404
    with app.app_context():
        assert db.session.scalar(db.select(Submission).filter_by(user_id=ada_id)).score_given is None
