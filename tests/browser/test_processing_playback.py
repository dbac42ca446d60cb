"""Every kind of file processing accepts plays in real Chromium afterwards: the student's page
loads what playback serves (the H.264 rendition, or the original when every browser plays
it), and the video element has the expected duration and picture and its time advances.

The samples are one-second files made with ffmpeg (tests/processing_fixtures.py), one per
case test_processing.py checks; the jobs run inside the upload (PROCESSING_QUEUE=immediate).
The hover strip processing makes runs on the instructor's list on hover and keyboard focus.
"""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.models import Video
from lti_tool.statuses import VideoStatus
from tests.browser.a11y import assert_accessible, assert_hidden_is_hidden
from tests.processing_fixtures import EXPECTED, sample_file, samples_dir  # noqa: F401
from tests.uploading import TusClient, room  # noqa: F401

PLAYABLE = [key for key, expected in EXPECTED.items() if expected[0] == VideoStatus.READY]
PLAYER = "document.getElementById('player')"


@pytest.mark.parametrize("sample", PLAYABLE)
def test_each_accepted_kind_of_file_plays_in_chromium(app, live_server, room, page,
                                                      sample_file, sample):
    _, _, plan, (width, height), _ = EXPECTED[sample]
    launch = room.launch(room.student)
    source = sample_file(sample)
    student = TusClient(app.test_client(), launch)
    ticket, _, resp = student.upload(source.read_bytes(), filename=source.name)
    assert resp.status_code == 204
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.status == VideoStatus.READY and video.media_info["plan"] == plan, (
            video.status, video.error_code, video.media_info)
        served_rendition = video.has_rendition
        db.session.remove()
    media_types = []
    page.on("response", lambda r: "/media" in r.url and media_types.append(
        r.headers.get("content-type")))
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.wait_for_function(f"() => {PLAYER}.readyState >= 1")
    assert page.evaluate(f"() => {PLAYER}.duration") == pytest.approx(1.0, abs=0.15)
    page.evaluate(f"() => {{ const v = {PLAYER}; v.muted = true; return v.play(); }}")
    page.wait_for_function(f"() => {PLAYER}.currentTime > 0.5", timeout=15000)
    assert page.evaluate(f"() => [{PLAYER}.videoWidth, {PLAYER}.videoHeight]") == [width,
                                                                                  height]
    assert page.evaluate(f"() => {PLAYER}.error") is None
    assert media_types, "the page fetched no media"
    if served_rendition:
        assert set(media_types) == {"video/mp4"}


STRIP_STYLE = """() => { const s = getComputedStyle(document.querySelector('img.strip'));
  return [s.opacity, s.animationName]; }"""


def test_the_hover_strip_runs_on_hover_and_on_keyboard_focus(app, live_server, room, page,
                                                             sample_file):
    launch = room.launch(room.student)
    source = sample_file("avi_mpeg4")
    ticket, _, resp = TusClient(app.test_client(), launch).upload(source.read_bytes(),
                                                                  filename=source.name)
    assert resp.status_code == 204
    instructor = room.launch_as("instructor")
    page.goto(f"{live_server.url}/review/assignment?launch={instructor.id}")
    strip = page.get_by_test_id("strip")
    page.wait_for_function("() => document.querySelector('img.strip').naturalWidth > 0")
    assert page.evaluate("() => document.querySelector('img.strip').alt") == ""  # decorative
    assert page.evaluate(STRIP_STYLE) == ["0", "none"]  # still until asked for
    strip.locator("xpath=ancestor::tr").hover()
    assert page.evaluate(STRIP_STYLE) == ["1", "strip-frames"]
    page.mouse.move(0, 0)
    assert page.evaluate(STRIP_STYLE) == ["0", "none"]
    for _ in range(60):  # by keyboard alone: Tab to the student's link in that row
        page.keyboard.press("Tab")
        if page.evaluate("() => !!document.activeElement.closest('tr')?.querySelector"
                         "('img.strip')"):
            break
    assert page.evaluate(STRIP_STYLE) == ["1", "strip-frames"]
    # axe-core on the list with the strip running (no screenshot: the frames move).
    assert_hidden_is_hidden(page, "review-list-hover-strip")
    assert_accessible(page, "review-list-hover-strip")
