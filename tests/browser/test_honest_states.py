"""The student's page says only what is true: one of Pause and Resume, "Paused" without a
speed, a retry countdown that counts and gives way to a restored connection, Cancel that
asks, a refused file said once and not counted, and no word of a held grade."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from lti_tool.extensions import db
from lti_tool.grading import service as grading
from tests.browser.test_student_upload import (busy_answer, open_assignment,
                                               wait_until_submitted)
from tests.factories import Classroom
from tests.review_fixtures import ready_video
from tests.uploading import room, sample_webm  # noqa: F401

VISIBLE_CONTROLS = ("() => ['pause-btn', 'resume-btn', 'replace-btn']"
                    ".filter((id) => document.getElementById(id).checkVisibility())")


def hold_patches(page) -> list:
    """Hold every tus PATCH until `release_patches` (the upload stays in progress)."""
    held: list = []
    page.route("**/tus/**", lambda route: held.append(route)
               if route.request.method == "PATCH" else route.continue_())
    return held


def release_patches(page, held: list) -> None:
    """Let the held PATCHes go (those a pause aborted are gone) and stop holding new ones."""
    page.unroute("**/tus/**")
    for route in held:
        try:
            route.continue_()
        except PlaywrightError:
            pass  # pausing aborted this request


def test_pause_and_resume_are_never_both_shown_and_paused_shows_no_speed(
        app, page, live_server, room, sample_webm):
    app.config["UPLOAD_CHUNK_BYTES"] = 16 * 1024
    open_assignment(page, live_server, room)
    held = hold_patches(page)
    page.set_input_files("#file-input", str(sample_webm))
    page.wait_for_selector("#progress-area:not([hidden])")
    assert page.evaluate(VISIBLE_CONTROLS) == ["pause-btn"]
    page.click("#pause-btn")
    assert page.evaluate(VISIBLE_CONTROLS) == ["resume-btn"]
    assert page.inner_text("#progress-speed") == "Paused"
    assert page.inner_text("#progress-eta") == ""
    release_patches(page, held)
    page.click("#resume-btn")
    assert page.evaluate(VISIBLE_CONTROLS) == ["pause-btn"]
    wait_until_submitted(page)
    assert page.evaluate(VISIBLE_CONTROLS) == ["replace-btn"]


def test_cancel_asks_first(app, page, live_server, room, sample_webm):
    app.config["UPLOAD_CHUNK_BYTES"] = 16 * 1024
    open_assignment(page, live_server, room)
    held = hold_patches(page)
    page.set_input_files("#file-input", str(sample_webm))
    page.wait_for_selector("#progress-area:not([hidden])")
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.click("#cancel-btn")
    assert questions and "Cancel this upload?" in questions[0]
    assert page.is_visible("#progress-area")  # kept: the student said no
    page.once("dialog", lambda d: answer(d, True))
    page.click("#cancel-btn")
    page.wait_for_selector("#notice:has-text('Upload cancelled.')")
    assert page.is_hidden("#progress-area")
    release_patches(page, held)


def test_a_refused_file_is_said_once_and_is_no_attempt(page, live_server, room, tmp_path):
    open_assignment(page, live_server, room)
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"this is not a video at all" * 400)
    page.set_input_files("#file-input", str(fake))
    page.wait_for_selector("#current-status[data-status='error']")
    reason = page.inner_text("#current-status")
    assert "was not accepted" in reason
    # The alert region is filled a moment after it is cleared (live.js SETTLE_MS), so that
    # screen readers announce it again.
    page.wait_for_function("() => document.getElementById('live-alert').textContent !== ''")
    said = page.inner_text("#live-alert")
    assert said and said in reason  # said to screen readers, shown once
    body = page.inner_text("#submission")
    assert body.count(said) == 1, body
    assert page.evaluate(VISIBLE_CONTROLS) == []  # nothing to replace: nothing was handed in
    assert page.is_hidden("#history")  # a refused file is not counted as an attempt
    assert page.is_visible("#dropzone")


def test_a_retry_counts_down_and_a_restored_connection_goes_on_at_once(
        page, live_server, room, sample_webm):
    patches: list = []

    def fail_once(route):
        if route.request.method == "PATCH":
            patches.append(time.monotonic())
            if len(patches) == 1:
                route.fulfill(**{**busy_answer(30), "status": 503})
                return
        route.continue_()

    page.route("**/tus/**", fail_once)
    open_assignment(page, live_server, room)
    page.set_input_files("#file-input", str(sample_webm))
    page.wait_for_selector("#notice:has-text('Retrying in 30 s')")
    page.wait_for_selector("#notice:has-text('Retrying in 28 s')", timeout=5000)
    page.context.set_offline(True)
    page.context.set_offline(False)  # the browser fires "online"
    wait_until_submitted(page)
    assert len(patches) >= 2 and patches[1] - patches[0] < 10  # did not wait out 30 s


def test_a_busy_server_on_a_new_upload_is_asked_again(page, live_server, room, sample_webm):
    creations: list = []

    def busy_thrice(route):
        if route.request.method == "POST":
            creations.append(route.request.url)
            if len(creations) <= 3:  # the API client itself waits out two
                route.fulfill(**busy_answer(1))
                return
        route.continue_()

    page.route(re.compile(r".*/api/uploads$"), busy_thrice)
    open_assignment(page, live_server, room)
    page.set_input_files("#file-input", str(sample_webm))
    wait_until_submitted(page)
    assert len(creations) == 4
    assert "refused" not in page.inner_text("#submission")


@pytest.mark.parametrize("released", [False, True])
def test_a_held_grade_is_never_mentioned_to_the_student(app, page, live_server, released):
    with app.app_context():
        room = Classroom()
        ready_video(room)
        submission = grading.submission_for(room.assignment, room.student)
        grading.save_grade(submission, room.instructor, 9, "Strong finish.", release=released)
        db.session.commit()
        url = f"{live_server.url}/assignment?launch={room.launch(room.student).id}"
        db.session.remove()
    page.goto(url)
    page.wait_for_function(
        "() => document.getElementById('submission').dataset.ready === 'true'")
    text = page.inner_text("main")
    assert ("graded" in text) is released
    assert ("Strong finish." in text) is released
    assert page.evaluate(VISIBLE_CONTROLS) == []


def test_released_feedback_comes_first_with_markers_on_the_timeline(app, page, live_server,
                                                                    tmp_path):
    from tests.review_fixtures import make_test_video
    with app.app_context():
        room = Classroom()
        video = ready_video(room, duration=4.0,
                            file=make_test_video(tmp_path / "talk.mp4", seconds=4))
        submission = grading.submission_for(room.assignment, room.student)
        grading.add_comment(submission, room.instructor, 3.0, "Nice close.", video=video)
        grading.save_grade(submission, room.instructor, 9, "Strong finish.", release=True)
        db.session.commit()
        url = f"{live_server.url}/assignment?launch={room.launch(room.student).id}"
        db.session.remove()
    page.goto(url)
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    first_card = page.locator("main > section.card").first
    assert first_card.get_attribute("id") == "feedback"  # the grade comes first
    marker = page.locator("#student-markers .marker")
    assert marker.count() == 1
    assert marker.get_attribute("aria-label") == "Comment at 0:03: Nice close."
    assert 70 < float(marker.evaluate("el => parseFloat(el.style.left)")) < 80
    marker.click()
    page.wait_for_function(
        "() => Math.abs(document.getElementById('player').currentTime - 3) < 0.1")
