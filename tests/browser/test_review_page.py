"""The review page in real Chromium: comment with the keyboard, see the marker, seek by it."""
from __future__ import annotations

import re

import pytest

from lti_tool.extensions import db
from tests.factories import Classroom
from tests.review_fixtures import make_test_video, ready_video


@pytest.fixture
def review_url(app, live_server, tmp_path):
    with app.app_context():
        room = Classroom()
        ready_video(room, duration=3.0, file=make_test_video(tmp_path / "out.mp4"))
        launch = room.launch(room.instructor)
        url = f"{live_server.url}/review/students/{room.student.id}?launch={launch.id}"
        db.session.remove()
    return url


def video_time(page) -> float:
    return page.evaluate("document.getElementById('video').currentTime")


def test_comment_key_marker_and_seek(page, review_url):
    page.goto(review_url)
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    page.evaluate("document.getElementById('video').currentTime = 1.2")
    page.wait_for_function(
        "() => Math.abs(document.getElementById('video').currentTime - 1.2) < 0.05")
    page.locator("#play").focus()  # shortcuts answer while the player has focus
    page.keyboard.press("c")
    box = page.locator("#comment-body")
    assert box.is_visible() and box.evaluate("el => el === document.activeElement")
    assert page.locator("#composer-time").inner_text() == "0:01"
    assert page.evaluate("document.getElementById('video').paused")
    box.type("Good eye contact here")
    box.press("Enter")
    entry = page.locator("#comments li.comment")
    entry.wait_for()
    assert "Good eye contact here" in entry.inner_text()
    marker = page.locator("#timeline .marker")
    marker.wait_for()
    assert marker.get_attribute("aria-label").startswith("Comment at 0:01")
    left = float(marker.evaluate("el => parseFloat(el.style.left)"))
    assert 35 < left < 45  # 1.2 s of 3 s
    assert page.locator("#composer").is_hidden()

    page.evaluate("document.getElementById('video').currentTime = 2.8")
    page.wait_for_function("() => document.getElementById('video').currentTime > 2.5")
    entry.locator(".comment-time").click()
    page.wait_for_function(
        "() => Math.abs(document.getElementById('video').currentTime - 1.2) < 0.05")
    # The keyboard shortcuts drive the same player: j jumps back (clamped at 0).
    page.locator("#play").focus()
    page.keyboard.press("j")
    page.wait_for_function("() => document.getElementById('video').currentTime < 0.05")
    # The comment was saved on the server, anchored at its moment.
    page.reload()
    page.locator("#comments li.comment").wait_for()
    assert "0:01" in page.locator("#comments .comment-time").inner_text()


def test_grade_field_explains_an_out_of_range_grade(page, review_url):
    page.goto(review_url)
    page.fill("#score", "150")
    assert page.locator("#score-error").inner_text() == \
        "The grade must be a number between 0 and 100."
    page.click("button[value=stay]")
    assert page.url == review_url  # not submitted
    page.fill("#score", "88")
    page.fill("#feedback", "Strong opening")
    page.click("button[value=stay]")
    # Saved by fetch: said in the live region, the status below the form redrawn.
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           " === 'Grade saved and released.'")
    assert "Visible to the student." in page.inner_text("#grade-status")
    assert page.url == review_url and page.input_value("#score") == "88"


# --- one way to call the tool, one way to write moments, one live region ---------------------

BUSY = {"status": 429, "headers": {"Retry-After": "1", "Content-Type": "application/json"},
        "body": '{"error": {"code": "rate_limited", "message": "Too many requests."}}'}
MOMENTS = """() => {
  const viewer = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
  return [...document.querySelectorAll("time[datetime]")].map((t) => {
    const iso = t.getAttribute("datetime");
    const moment = new Date(/(Z|[+-]\\d\\d:?\\d\\d)$/.test(iso) ? iso : iso + "Z");
    return [t.textContent, viewer.format(moment), t.title];
  });
}"""
UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")


def test_a_busy_server_is_waited_out_and_the_comment_saved(page, review_url):
    posts = []

    def busy_once(route):
        if route.request.method == "POST":
            posts.append(route.request.post_data)
            if len(posts) == 1:
                route.fulfill(**BUSY)
                return
        route.continue_()

    page.route(re.compile(r".*/comments(\?.*)?$"), busy_once)
    page.goto(review_url)
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    page.locator("#play").focus()  # shortcuts answer while the player has focus
    page.keyboard.press("c")
    page.locator("#comment-body").type("Said twice, saved once")
    page.locator("#comment-body").press("Enter")
    page.locator("#comments li.comment").wait_for()
    assert "Said twice, saved once" in page.inner_text("#comments")
    assert page.locator("#composer-error").is_hidden()
    assert len(posts) == 2 and posts[0] == posts[1]


def test_an_unreachable_tool_is_explained_the_same_way_everywhere(page, review_url):
    page.route(re.compile(r".*/api/videos/\d+/playback(\?.*)?$"), lambda route: route.abort())
    page.goto(review_url)
    page.wait_for_selector("#player-error:not([hidden])")
    assert page.inner_text("#player-error") == \
        "The tool could not be reached. Check your connection and try again."


def test_a_saved_grade_is_said_in_the_live_region(page, review_url):
    page.goto(review_url)
    page.fill("#score", "70")
    page.click("button[value=stay]")
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           " === 'Grade saved and released.'")


def test_moments_read_the_same_on_the_list_and_the_review_page(page, live_server, review_url):
    launch = review_url.split("launch=")[1]
    for url in (f"{live_server.url}/review/assignment?launch={launch}", review_url):
        page.goto(url)
        page.locator("time[datetime]").first.wait_for()
        moments = page.evaluate(MOMENTS)
        assert moments, url
        for shown, expected, title in moments:
            assert shown == expected, (url, moments)
            assert UTC_TEXT.match(title), title  # the server's UTC text stays at hand
