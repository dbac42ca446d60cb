"""Sound-only submissions: the instructor's setting (parsed, kept, instructors only) and
processing of a file with sound and no picture, accepted as audio or refused, by setting."""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.grading import assignment_settings
from lti_tool.models import Assignment
from lti_tool.processing import messages
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from tests.processing_fixtures import ffprobe_streams, sample_file, samples_dir, video_row  # noqa: F401
from tests.uploading import TusClient, room  # noqa: F401

SETTINGS = "/review/assignment/settings"


@pytest.mark.parametrize("form, expected", [
    ({}, False), ({"accepts_audio": "1"}, True), ({"accepts_audio": "on"}, True),
    ({"accepts_audio": True}, True), ({"accepts_audio": ""}, False),
    ({"accepts_audio": "no"}, False)])
def test_the_setting_is_read_from_the_form(form, expected):
    assert assignment_settings.parse_settings(form).accepts_audio is expected


def accepts_audio(app, room) -> bool:
    with app.app_context():
        return db.session.get(Assignment, room.assignment_id).accepts_audio


def test_an_assignment_refuses_sound_only_files_until_the_instructor_says(app, client, room):
    assert accepts_audio(app, room) is False
    launch = room.launch(room.instructor)
    page = client.get(f"{SETTINGS}?launch={launch.id}").get_data(as_text=True)
    assert "Accept sound-only submissions (audio recordings)" in page
    resp = client.post(SETTINGS, data={"launch": launch.id, "accepts_audio": "1"})
    assert resp.status_code == 302
    assert accepts_audio(app, room) is True
    client.post(SETTINGS, data={"launch": launch.id})
    assert accepts_audio(app, room) is False


def test_a_student_cannot_turn_audio_on(app, client, room):
    resp = client.post(SETTINGS, data={"launch": room.launch(room.student).id,
                                       "accepts_audio": "1"})
    assert resp.status_code in (401, 403)
    assert accepts_audio(app, room) is False


def _upload(client, room, path) -> int:
    student = TusClient(client, room.launch(room.student))
    ticket, _, resp = student.upload(path.read_bytes(), filename=path.name)
    assert resp.status_code == 204, resp.get_json()
    return ticket["video_id"]


def test_a_sound_only_file_is_refused_where_a_video_is_asked_for(app, client, room,
                                                                  sample_file):
    video = video_row(app, _upload(client, room, sample_file("audio_only")))
    assert (video.status, video.error_code) == (VideoStatus.ERROR, messages.SOUND_ONLY)
    assert "asks for a video" in video.error_message


def test_a_sound_only_file_ends_ready_where_audio_is_accepted(app, client, room, sample_file):
    room.update_assignment(accepts_audio=True)
    video = video_row(app, _upload(client, room, sample_file("audio_only")))
    assert video.status == VideoStatus.READY, video.error_message
    assert video.is_sound_only and not video.has_thumbnail
    assert video.duration_seconds == pytest.approx(1.0, abs=0.2)
    assert (video.width, video.height) == (None, None)
    assert video.media_info["plan"] == "keep"  # AAC in MP4 plays as it is


def test_a_browser_recording_of_the_microphone_gets_an_aac_rendition(app, client, room,
                                                                      samples_dir):
    """Opus in a WebM written as it records (no duration in the header), as Chrome's
    MediaRecorder makes it: measured, and re-encoded to AAC in an MP4 with faststart."""
    import subprocess
    from tests.processing_fixtures import HAS_FFMPEG
    if not HAS_FFMPEG:
        pytest.skip("ffmpeg/ffprobe not installed")
    path = samples_dir / "mic.webm"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=2", "-c:a", "libopus", "-f", "webm",
                    "-live", "1", "pipe:1"], check=True, timeout=60,
                   stdout=path.open("wb"))
    room.update_assignment(accepts_audio=True)
    video = video_row(app, _upload(client, room, path))
    assert video.status == VideoStatus.READY, video.error_message
    assert video.duration_seconds == pytest.approx(2.0, abs=0.2)
    assert video.media_info["plan"] == "transcode" and video.has_rendition
    with app.app_context():
        rendition = storage_for(video.backend).rendition_path(video.storage_uid)
    streams = ffprobe_streams(rendition)
    assert "video" not in streams and streams["audio"]["codec_name"] == "aac"
    assert "mp4" in streams["format"]["format_name"]
    data = rendition.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: the index first


def test_a_sound_only_submission_plays_for_the_instructor_under_a_poster(app, client, room,
                                                                         sample_file):
    room.update_assignment(accepts_audio=True)
    video_id = _upload(client, room, sample_file("audio_only"))
    launch = room.launch(room.instructor)
    grant = client.get(f"/api/videos/{video_id}/playback",
                       headers={"X-LTI-Launch": launch.id}).get_json()
    assert grant["sound_only"] is True
    assert grant["thumbnail_url"].endswith("/static/img/sound-only.svg")
    media = client.get(grant["url"], headers={"Range": "bytes=0-99"})
    assert media.status_code == 206 and len(media.data) == 100
    status = client.get(f"/api/videos/{video_id}/status", headers={"X-LTI-Launch": launch.id})
    assert status.get_json()["sound_only"] is True
    page = client.get(f"/review/students/{room.student.id}",
                      headers={"X-LTI-Launch": launch.id})
    assert page.status_code == 200
    assert 'aria-label="Submitted audio recording"' in page.get_data(as_text=True)
    listing = client.get("/review/assignment", headers={"X-LTI-Launch": launch.id})
    assert 'data-testid="sound-only"' in listing.get_data(as_text=True)
    resp = client.post(f"/review/students/{room.student.id}/grade", json={"score": 5},
                       headers={"X-LTI-Launch": launch.id})
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_the_recorder_offers_the_microphone_alone_only_where_audio_is_accepted(client, room):
    def page() -> str:
        return client.get(f"/assignment?launch={room.launch(room.student).id}").get_data(
            as_text=True)

    assert 'value="microphone"' not in page()
    room.update_assignment(accepts_audio=True)
    assert 'value="microphone"' in page()
