"""The student's preview of a submitted video in real Chromium: a Cloudflare Stream preview
keeps playing across token renewals (same Player as the review page), and the released
feedback's time links move the preview, whether Cloudflare's iframe or a local <video>.

Cloudflare's player page and SDK are the fakes in stream_fakes.py; the TTL is short.
"""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.models import Comment
from tests import cloudflare_fake as cf
from tests.browser.stream_fakes import stream_page, token_and_query  # noqa: F401
from tests.factories import Classroom
from tests.review_fixtures import make_test_video, ready_video

UID = "5d5bc37ffcf54c9b82e996823bffbb81"
# Renewal happens a minute before expiry, but at least 5 s after the grant: 61 s -> ~5 s.
TTL_SECONDS = 61
FRAME = "#player-wrap iframe"


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings(PLAYBACK_URL_TTL_SECONDS=TTL_SECONDS))
    return app_config


def student_url(app, live_server, *, cloudflare: bool, file=None) -> str:
    """Give the student a ready video with released feedback; return their page's URL."""
    with app.app_context():
        room = Classroom()
        video = ready_video(room, duration=600.0 if cloudflare else 3.0, file=file)
        if cloudflare:
            video.backend, video.storage_uid = "cloudflare", UID
        submission = video.submission
        submission.released, submission.feedback = True, "Well paced."
        for at in (1.5, 125.0):
            db.session.add(Comment(submission_id=submission.id, video_id=video.id,
                                   author_id=room.instructor.id, at_seconds=at,
                                   body=f"Look at {at}"))
        db.session.commit()
        url = f"{live_server.url}/assignment?launch={room.launch(room.student).id}"
        db.session.remove()
    return url


def stream_frame(page):
    """Return the frame of Cloudflare's (fake) player."""
    page.wait_for_selector(FRAME)
    for _ in range(150):
        found = [f for f in page.frames if cf.SUBDOMAIN in f.url]
        if found:
            return found[-1]
        page.wait_for_timeout(100)
    raise AssertionError("Cloudflare's player page never loaded")


def viewer(page, command: dict) -> None:
    """Do what the student does inside Cloudflare's player (play, pause, drag the bar)."""
    page.evaluate("cmd => document.querySelector('#player-wrap iframe')"
                  ".contentWindow.postMessage(cmd, '*')", command)


def wait_for_new_src(page, old: str) -> str:
    page.wait_for_function(
        "old => { const f = document.querySelector('#player-wrap iframe');"
        " return f && f.src !== old; }", arg=old, timeout=20000)
    return page.get_attribute(FRAME, "src")


def test_cloudflare_preview_renews_its_token_where_the_student_was(app, live_server,
                                                                    stream_page):
    page = stream_page
    page.goto(student_url(app, live_server, cloudflare=True))
    first = page.get_attribute(FRAME, "src")
    first_claims, first_query = token_and_query(first)
    assert first_claims["sub"] == UID and "startTime" not in first_query
    assert page.get_attribute(FRAME, "title") == "Preview of your submitted video"
    stream_frame(page).wait_for_function("typeof state !== 'undefined'")
    page.wait_for_function("() => window.Stream !== undefined")  # the SDK drives the iframe
    page.wait_for_timeout(300)

    viewer(page, {"cmd": "seek", "t": 20})
    viewer(page, {"cmd": "play"})
    second = wait_for_new_src(page, first)
    claims, query = token_and_query(second)
    assert claims["sub"] == UID and claims["exp"] > first_claims["exp"]
    assert 20 <= int(query["startTime"]) <= 30  # where the student was, not 0:00
    assert query["autoplay"] == "true"  # it was playing, so it keeps playing

    page.wait_for_timeout(500)  # the new player has reported in through the SDK
    viewer(page, {"cmd": "pause"})
    page.wait_for_timeout(300)
    paused_at = stream_frame(page).evaluate("state.t")
    third = wait_for_new_src(page, second)
    _, query = token_and_query(third)
    assert "autoplay" not in query  # paused stays paused
    assert abs(int(query["startTime"]) - paused_at) <= 1


def test_feedback_time_links_seek_the_cloudflare_preview(app, live_server, stream_page):
    page = stream_page
    page.goto(student_url(app, live_server, cloudflare=True))
    frame = stream_frame(page)
    frame.wait_for_function("typeof state !== 'undefined'")  # the player page listens
    page.wait_for_function("() => window.Stream !== undefined")
    page.wait_for_timeout(300)  # the SDK player is attached
    page.locator("#feedback-comments [data-seek='125.0']").click()
    frame.wait_for_function("Math.abs(state.t - 125) < 1")
    # With the keyboard too, and from a later moment back to an earlier one.
    page.locator("#feedback-comments [data-seek='1.5']").focus()
    page.keyboard.press("Enter")
    frame.wait_for_function("state.t < 5")


def test_feedback_time_links_seek_the_local_preview(app, live_server, page, tmp_path):
    page.goto(student_url(app, live_server, cloudflare=False,
                          file=make_test_video(tmp_path / "clip.mp4")))
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.locator("#feedback-comments [data-seek='1.5']").click()
    page.wait_for_function(
        "() => Math.abs(document.getElementById('player').currentTime - 1.5) < 0.05")
