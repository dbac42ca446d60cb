"""The review player and grading in real Chromium: a timeline to drag and move with the keys,
mute, volume, full screen; shortcuts that keep out of the way (Space presses the focused
button, single keys only in the player, and they can be turned off); a grade saved without
leaving the video; edited comments saved with Enter and never dropped; Release all held."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from lti_tool.extensions import db
from lti_tool.grading import service as grading
from tests.factories import Classroom
from tests.review_fixtures import make_test_video, ready_video

SECONDS = 12


@pytest.fixture
def review(app, live_server, tmp_path):
    """A 12-second video to review, a comment by the instructor, and the pages' URLs."""
    with app.app_context():
        room = Classroom()
        video = ready_video(room, duration=float(SECONDS),
                            file=make_test_video(tmp_path / "long.mp4", seconds=SECONDS))
        submission = grading.submission_for(room.assignment, room.student)
        grading.add_comment(submission, room.instructor, 2.0, "First draft", video=video)
        db.session.commit()
        launch = room.launch(room.instructor)
        urls = SimpleNamespace(
            review=f"{live_server.url}/review/students/{room.student.id}?launch={launch.id}",
            submissions=f"{live_server.url}/review/assignment?launch={launch.id}")
        db.session.remove()
    return urls


def open_review(page, url):
    page.goto(url)
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")


def video_time(page) -> float:
    return page.evaluate("document.getElementById('video').currentTime")


def paused(page) -> bool:
    return page.evaluate("document.getElementById('video').paused")


def test_space_on_a_focused_button_presses_that_button(page, review):
    open_review(page, review.review)
    page.locator("button[data-jump='5']").focus()
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('video').currentTime >= 4.9")
    assert paused(page)  # Space pressed "5 ⟳", it did not start the video


def test_single_key_shortcuts_only_in_the_player_and_can_be_turned_off(page, review):
    open_review(page, review.review)
    page.locator("a", has_text="All submissions").focus()
    page.keyboard.press("l")
    page.wait_for_timeout(200)
    assert video_time(page) == 0  # outside the player: the key is the page's
    page.locator("#play").focus()
    page.keyboard.press("l")
    page.wait_for_function("() => document.getElementById('video').currentTime >= 9.9")
    page.click("summary")  # Keyboard shortcuts
    page.uncheck("#shortcuts-on")
    page.locator("#play").focus()
    page.keyboard.press("j")
    page.wait_for_timeout(200)
    assert video_time(page) >= 9.9  # turned off
    page.reload()
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    assert not page.is_checked("#shortcuts-on")  # the choice is kept


def test_the_timeline_is_a_slider_to_drag_and_move_with_the_keys(page, review):
    open_review(page, review.review)
    seek = page.locator("#timeline-seek")
    assert seek.get_attribute("role") == "slider"
    seek.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.getElementById('video').currentTime >= 4.9")
    assert seek.get_attribute("aria-valuetext").startswith("0:05 of 0:12")
    page.keyboard.press("End")
    page.wait_for_function("() => document.getElementById('video').currentTime >= 11.9")
    page.keyboard.press("Home")
    page.wait_for_function("() => document.getElementById('video').currentTime < 0.1")
    box = seek.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=5)
    page.mouse.up()
    assert abs(video_time(page) - 0.75 * SECONDS) < 0.5  # dragged to three quarters


def test_mute_volume_and_full_screen(page, review):
    open_review(page, review.review)
    page.click("#mute")
    assert page.evaluate("document.getElementById('video').muted")
    assert page.get_attribute("#mute", "aria-pressed") == "true"
    page.locator("#volume").fill("0.5")
    assert page.evaluate("document.getElementById('video').volume") == 0.5
    page.click("#fullscreen")
    page.wait_for_function("() => document.fullscreenElement === document.getElementById('player')")
    # The button's words follow the browser's fullscreenchange event, which may come a
    # moment after fullscreenElement is set: wait for them, then read them.
    page.wait_for_function("() => document.getElementById('fullscreen').textContent.trim()"
                           " !== 'Full screen'", timeout=5000)
    assert page.inner_text("#fullscreen") == "Exit full screen"
    page.click("#fullscreen")
    page.wait_for_function("() => document.fullscreenElement === null")
    page.wait_for_function("() => document.getElementById('fullscreen').textContent.trim()"
                           " === 'Full screen'", timeout=5000)


def test_saving_a_grade_keeps_the_video_where_it_was_and_the_focus(page, review):
    open_review(page, review.review)
    page.evaluate("window.__samePage = true; document.getElementById('video').currentTime = 7")
    page.wait_for_function("() => document.getElementById('video').currentTime >= 6.9")
    page.fill("#score", "64")
    page.uncheck("#release")
    page.locator("button[value=stay]").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('grade-status').textContent"
                           ".includes('Held')")
    assert page.evaluate("window.__samePage === true")  # no reload
    assert abs(video_time(page) - 7) < 0.2
    assert page.evaluate("document.activeElement.value") == "stay"
    assert "Grade held" in page.inner_text("#lms-status") or "Not linked" in \
        page.inner_text("#lms-status")


def test_enter_saves_an_edited_comment_and_a_redraw_keeps_an_edit(page, review):
    open_review(page, review.review)
    entry = page.locator("#comments li.comment").first
    entry.get_by_role("button", name="Edit").click()
    area = page.get_by_label("Edit comment at 0:02")
    area.fill("Second draft")
    # A new comment redraws the list: the edit in progress stays, draft and all.
    page.locator("#play").focus()
    page.keyboard.press("c")
    page.locator("#comment-body").fill("Another moment")
    page.locator("#comment-body").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#comments li.comment').length === 2")
    assert page.get_by_label("Edit comment at 0:02").input_value() == "Second draft"
    page.get_by_label("Edit comment at 0:02").press("Enter")
    page.wait_for_function("() => document.getElementById('comments').textContent"
                           ".includes('Second draft')")
    assert page.locator("#comments textarea").count() == 0
    assert "edited" in page.inner_text("#comments")


def test_release_all_held_grades_asks_with_the_count(app, page, live_server):
    with app.app_context():
        room = Classroom()
        for student in (room.student, room.other_student):
            ready_video(room, student=student)
            grading.save_grade(grading.submission_for(room.assignment, student),
                               room.instructor, 5, "", release=False)
        db.session.commit()
        url = f"{live_server.url}/review/assignment?launch={room.launch(room.instructor).id}"
        db.session.remove()
    page.goto(url)
    button = page.get_by_role("button", name="Release all held grades (2)")
    questions = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    button.click()
    assert questions and questions[0].startswith("Release 2 held grades?")
    assert button.is_visible()  # not released: the instructor said no
    page.once("dialog", lambda d: d.accept())
    button.click()
    page.locator(".alert-success").wait_for()
    assert "2 held grades released" in page.inner_text(".alert-success")
    assert page.get_by_role("button", name="Release all held grades").count() == 0
