"""Every kind of file processing accepts plays in real Chromium afterwards: the student's page
loads what playback serves (the H.264 rendition, or the original when every browser plays
it), and the video element has the expected duration and picture and its time advances.

The samples are one-second files made with ffmpeg (tests/processing_fixtures.py), one per
case test_processing.py checks; the jobs run inside the upload (PROCESSING_QUEUE=immediate).
"""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.models import Video
from lti_tool.statuses import VideoStatus
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
        assert video.status == VideoStatus.READY and video.media_info["plan"] == plan
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
