"""The two core flows with the keyboard alone (no mouse, no programmatic focus): a student
uploads, pauses and resumes, and sees the video submitted; an instructor comments at a
moment and saves a grade."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from lti_tool.extensions import db
from tests.browser.test_honest_states import hold_patches, release_patches
from tests.browser.test_student_upload import open_assignment, wait_until_submitted
from tests.factories import Classroom
from tests.review_fixtures import make_test_video, ready_video
from tests.uploading import room, sample_webm  # noqa: F401

MAX_TABS = 40


def tab_to(page, selector: str, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the element matching `selector` has focus."""
    for _ in range(MAX_TABS):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    pytest.fail(f"{selector} cannot be reached with the keyboard")


def focused(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_a_student_hands_in_a_video_with_the_keyboard_alone(app, page, live_server, room,
                                                             sample_webm):
    app.config["UPLOAD_CHUNK_BYTES"] = 16 * 1024
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    open_assignment(page, live_server, room)
    held = hold_patches(page)
    tab_to(page, "#dropzone")
    page.keyboard.press("Enter")
    for _ in range(50):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert choosers, "Enter on the drop zone did not open the file picker"
    choosers[0].set_files(str(sample_webm))
    page.wait_for_selector("#progress-area:not([hidden])")
    tab_to(page, "#pause-btn")
    page.keyboard.press("Enter")
    page.wait_for_selector("#resume-btn:not([hidden])")
    assert focused(page) == "resume-btn"  # focus moved to what replaced the pressed button
    release_patches(page, held)
    page.keyboard.press("Enter")
    wait_until_submitted(page)
    assert focused(page) == "current-status"  # focus stayed on the page when Pause went
    assert "is submitted" in page.inner_text("#current-status")
    receipt = page.inner_text("#receipt")  # what they keep: file, size, time, code
    assert "“sample.webm”" in receipt and "Download receipt" in receipt
    assert page.get_attribute("#receipt-link", "href").startswith("/assignment/receipt?launch=")
    tab_to(page, "#receipt-link", backwards=True)
    tab_to(page, "#replace-btn")


@pytest.fixture
def review(app, live_server, tmp_path):
    with app.app_context():
        room = Classroom()
        ready_video(room, duration=6.0, file=make_test_video(tmp_path / "talk.mp4", seconds=6))
        launch = room.launch(room.instructor)
        urls = SimpleNamespace(
            review=f"{live_server.url}/review/students/{room.student.id}?launch={launch.id}")
        db.session.remove()
    return urls


def test_an_instructor_comments_and_grades_with_the_keyboard_alone(page, review):
    page.goto(review.review)
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    tab_to(page, "#timeline-seek")
    page.keyboard.press("ArrowRight")  # to 0:05
    page.wait_for_function("() => document.getElementById('video').currentTime >= 4.9")
    page.keyboard.press("c")
    assert focused(page) == "comment-body"
    assert page.inner_text("#composer-time") == "0:05"
    page.keyboard.type("Lovely pause before the point")
    page.keyboard.press("Enter")
    page.locator("#comments li.comment").wait_for()
    assert focused(page) == "play"  # back in the player
    tab_to(page, "#score")
    page.keyboard.type("9")
    page.keyboard.press("Tab")
    assert focused(page) == "feedback"
    page.keyboard.type("Clear structure.")
    tab_to(page, "button[value=stay]")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           " === 'Grade saved and released.'")
    assert focused(page) == "" and page.evaluate("document.activeElement.value") == "stay"
    assert abs(page.evaluate("document.getElementById('video').currentTime") - 5) < 0.3
