"""Every page state passes axe-core (no serious or critical violation) and is photographed at
1280 and 390 px for the docs: the student's page from empty to graded, the instructor's list,
review and open comment, and the page shown after dynamic registration."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.statuses import VideoStatus
from lti_tool.models import utcnow
from tests.factories import Classroom
from tests.browser.a11y import check_state
from tests.browser.test_honest_states import hold_patches, release_patches
from tests.browser.test_student_upload import open_assignment, wait_until_submitted
from tests.review_fixtures import make_test_video, ready_video
from tests.uploading import room, sample_webm  # noqa: F401


def test_student_page_states(app, page, live_server, room, sample_webm, tmp_path):
    app.config["UPLOAD_CHUNK_BYTES"] = 16 * 1024
    open_assignment(page, live_server, room)
    check_state(page, "student-empty")

    held = hold_patches(page)
    page.set_input_files("#file-input", str(sample_webm))
    page.wait_for_selector("#progress-area:not([hidden])")
    check_state(page, "student-uploading")
    page.click("#pause-btn")
    page.wait_for_selector("#resume-btn:not([hidden])")
    check_state(page, "student-paused")

    release_patches(page, held)
    page.click("#resume-btn")
    wait_until_submitted(page)
    check_state(page, "student-ready")


def test_student_page_after_a_rejected_file(page, live_server, room, tmp_path):
    open_assignment(page, live_server, room)
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"this is not a video at all" * 400)
    page.set_input_files("#file-input", str(fake))
    page.wait_for_selector("#current-status[data-status='error']")
    check_state(page, "student-rejected")


@pytest.fixture
def graded(app, live_server, tmp_path):
    """A student with a ready video, a comment and a released grade: the pages' URLs."""
    with app.app_context():
        room = Classroom()
        video = ready_video(room, duration=3.0, file=make_test_video(tmp_path / "talk.mp4"))
        submission = grading.submission_for(room.assignment, room.student)
        grading.add_comment(submission, room.instructor, 1.0, "Clear opening.", video=video)
        grading.save_grade(submission, room.instructor, 8.5, "Well structured.", release=True)
        db.session.commit()
        student, instructor = room.launch(room.student), room.launch(room.instructor)
        urls = SimpleNamespace(
            student=f"{live_server.url}/assignment?launch={student.id}",
            submissions=f"{live_server.url}/review/assignment?launch={instructor.id}",
            review=f"{live_server.url}/review/students/{room.student.id}?launch={instructor.id}")
        db.session.remove()
    return urls


def test_student_page_with_a_released_grade(page, graded):
    page.goto(graded.student)
    page.wait_for_selector("#feedback")
    page.wait_for_function("() => document.getElementById('submission').dataset.ready === 'true'")
    check_state(page, "student-graded")


def test_instructor_pages(page, graded):
    page.goto(graded.submissions)
    page.get_by_role("heading", name="Submissions").wait_for()
    check_state(page, "instructor-list")
    page.get_by_role("link", name="Deadlines and attempts").click()
    page.get_by_role("heading", name="Extensions for one student").wait_for()
    check_state(page, "instructor-deadlines")

    page.goto(graded.review)
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    check_state(page, "instructor-review")
    page.locator("#video").focus()
    page.keyboard.press("c")
    page.locator("#comment-body").wait_for()
    check_state(page, "instructor-comment-open")


def test_registration_page(page, live_server):
    from tests.platform_kit import TestPlatform
    platform = TestPlatform(client_id="a11y-client", deployment_id="3")
    try:
        page.goto(f"{live_server.url}/lti/register?openid_configuration="
                  f"{platform.url}/.well-known/openid-configuration&registration_token=t")
        page.get_by_role("heading", name="Video Assignments is registered").wait_for()
        check_state(page, "registration-done")
    finally:
        platform.stop()


def test_touch_screens_are_not_told_to_press_enter(browser, live_server, room):
    """A phone (coarse pointer) gets no "Press Enter or Space" hint; a mouse user does."""
    launch = room.launch(room.student)
    for touch, shown in ((True, False), (False, True)):
        context = browser.new_context(has_touch=touch, is_mobile=touch,
                                      viewport={"width": 390, "height": 800})
        phone = context.new_page()
        phone.goto(f"{live_server.url}/assignment?launch={launch.id}")
        phone.wait_for_function(
            "() => document.getElementById('submission').dataset.ready === 'true'")
        assert phone.evaluate("matchMedia('(pointer: coarse)').matches") is touch
        assert phone.is_visible("#dropzone-help") is shown
        context.close()


def test_student_page_while_processing(app, page, live_server, tmp_path):
    """A video whose bytes all arrived and that is being transcoded (42 %, a minute left)."""
    with app.app_context():
        room = Classroom()
        video = ready_video(room, file=make_test_video(tmp_path / "talk.mp4"))
        video.status, video.ready_at = VideoStatus.PROCESSING, None
        video.processing_percent, video.processing_eta_seconds = 42.0, 65
        # A live worker holds it: no job of the test server picks it up meanwhile.
        video.processing_lease_until = utcnow() + timedelta(minutes=5)
        video.submission.current_video_id = video.submission.submitted_at = None
        db.session.commit()
        url = f"{live_server.url}/assignment?launch={room.launch(room.student).id}"
        db.session.remove()
    page.goto(url)
    page.wait_for_selector("#current-status[data-status='processing']")
    page.get_by_text("42 %").first.wait_for()
    check_state(page, "student-processing")


def test_deep_linking_form(page, launcher):
    """The form an instructor fills in when adding the activity from the LMS."""
    launch = launcher.deep_link()
    page.goto(launch.url)
    page.get_by_label("Title").wait_for()
    check_state(page, "instructor-deep-linking")


def test_privacy_page(page, launcher):
    """The student's own data page (what the tool holds, download, ask for erasure)."""
    launcher.as_student()  # the tool now knows the student
    launch = launcher.launch(user="student1", message_type="LtiDataPrivacyLaunchRequest")
    page.goto(launch.url)
    page.get_by_role("heading", name="Your data in Video Assignments").wait_for()
    check_state(page, "student-privacy")
