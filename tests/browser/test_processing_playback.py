"""A video Chromium cannot play as uploaded (WMV) plays after processing: the student's page
loads the H.264 rendition and the video element's time advances."""
from __future__ import annotations

from lti_tool.extensions import db
from lti_tool.models import Video
from lti_tool.statuses import VideoStatus
from tests.processing_fixtures import sample_file, samples_dir  # noqa: F401
from tests.uploading import TusClient, room  # noqa: F401


def test_a_transcoded_video_plays_in_chromium(app, live_server, room, page, sample_file):
    launch = room.launch(room.student)
    source = sample_file("wmv")
    student = TusClient(app.test_client(), launch)
    ticket, _, resp = student.upload(source.read_bytes(), filename=source.name)
    assert resp.status_code == 204
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.status == VideoStatus.READY and video.media_info["plan"] == "transcode"
    media_types = []
    page.on("response", lambda r: "/media" in r.url and media_types.append(
        r.headers.get("content-type")))
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.evaluate("() => { const v = document.getElementById('player');"
                  " v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.getElementById('player').currentTime > 0.5",
                           timeout=15000)
    assert page.evaluate("() => document.getElementById('player').videoWidth") == 320
    assert media_types and set(media_types) == {"video/mp4"}
