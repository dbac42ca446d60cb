"""Processing: every file a student may bring ends ready to play (with a rendition when
browsers need one) or with an error that says what to do; the job is safe to repeat.

The jobs run inside the upload request here (PROCESSING_QUEUE=immediate, the tests'
setting); tests/test_processing_worker.py runs a real `flask worker`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Video, utcnow
from lti_tool.processing import media, messages, pipeline
from lti_tool.processing.jobs import requeue_stalled
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import BackendUnavailable, Derived
from lti_tool.uploads.limits import KNOWN_FORMATS
from lti_tool.uploads.video_checks import MP4, WEBM
from tests.processing_fixtures import (EXPECTED, SAMPLES, ffprobe_streams,  # noqa: F401
                                       sample_file, samples_dir, video_row)
from tests.uploading import TusClient, room, sha256_of  # noqa: F401

KEEP, REMUX, TRANSCODE = media.Plan.KEEP, media.Plan.REMUX, media.Plan.TRANSCODE


@pytest.fixture
def student(client, room):
    return TusClient(client, room.launch(room.student))


def upload(student, path) -> int:
    ticket, _, resp = student.upload(path.read_bytes(), filename=path.name)
    assert resp.status_code == 204, resp.get_json()
    return ticket["video_id"]


def rendition_of(app, video: Video):
    with app.app_context():
        return storage_for(video.backend).rendition_path(video.storage_uid)


@pytest.mark.parametrize("sample", list(EXPECTED))
def test_each_kind_of_file_ends_playable_or_with_advice(app, student, sample_file, sample):
    status, code, plan, shown, audio = EXPECTED[sample]
    video = video_row(app, upload(student, sample_file(sample)))
    assert (video.status, video.error_code) == (status, code)
    if status == VideoStatus.ERROR:
        assert video.error_message == messages.MESSAGES[code]
        assert "reload" not in video.error_message.lower()
        assert rendition_of(app, video) is None
        return
    assert video.duration_seconds == pytest.approx(1.0, abs=0.2)
    assert (video.width, video.height) == shown
    assert video.has_thumbnail
    assert video.media_info["plan"] == plan
    rendition = rendition_of(app, video)
    if plan is KEEP:
        assert rendition is None
        return
    streams = ffprobe_streams(rendition)
    assert streams["video"]["codec_name"] == "h264"
    assert streams["video"]["pix_fmt"] == "yuv420p"
    assert (streams["video"]["width"], streams["video"]["height"]) == shown
    assert not streams["video"].get("side_data_list")  # upright: no rotation left to apply
    assert ("audio" in streams) == audio
    if audio:
        assert streams["audio"]["codec_name"] == "aac"
    assert "mp4" in streams["format"]["format_name"]


def test_every_accepted_format_is_one_processing_was_shown_to_handle():
    """The formats students are told (one list, limits.KNOWN_FORMATS) each have a sample
    above that ends ready."""
    handled = {Path(SAMPLES[key].name).suffix.lstrip(".")
               for key, expected in EXPECTED.items()
               if key in SAMPLES and expected[0] == VideoStatus.READY}
    assert set(KNOWN_FORMATS) <= handled


def test_student_and_instructor_see_how_far_processing_is(app, client, room, student,
                                                          sample_file):
    video = video_row(app, upload(student, sample_file("mp4_h264")))
    _back_to_processing(app, video.id, processing_percent=42.5, processing_eta_seconds=65)
    status = client.get(f"/api/videos/{video.id}/status",
                        headers={"X-LTI-Launch": student.launch.id}).get_json()
    assert (status["processing_percent"], status["processing_eta_seconds"]) == (42.5, 65)
    page = client.get(f"/review/students/{room.student.id}",
                      headers={"X-LTI-Launch": room.launch_as("instructor").id})
    assert "prepared for playback (42 %, about 1:05 left)" in page.get_data(as_text=True)


def test_the_original_is_kept_untouched(app, student, sample_file):
    source = sample_file("avi_mpeg4")
    video = video_row(app, upload(student, source))
    with app.app_context():
        assert sha256_of(storage_for("local").media_path(video.storage_uid)) == sha256_of(source)


def test_playback_serves_the_rendition_and_download_the_original(app, client, room, student,
                                                                 sample_file):
    source = sample_file("wmv")
    video = video_row(app, upload(student, source))
    launch = room.launch_as("instructor")
    grant = client.get(f"/api/videos/{video.id}/playback",
                       headers={"X-LTI-Launch": launch.id}).get_json()
    assert grant["mime_type"] == "video/mp4"
    played = client.get(re.sub(r"^https?://[^/]+", "", grant["url"]))
    assert played.status_code == 200 and played.mimetype == "video/mp4"
    assert played.data == rendition_of(app, video).read_bytes()
    download = client.get(f"/review/videos/{video.id}/download",
                          headers={"X-LTI-Launch": launch.id})
    original = client.get(re.sub(r"^https?://[^/]+", "", download.headers["Location"]))
    assert original.data == source.read_bytes()
    assert "attachment" in original.headers["Content-Disposition"]


def test_the_assignment_length_is_checked_before_any_transcoding(app, room, student,
                                                                 sample_file):
    room.update_assignment(max_duration_seconds=3)
    video = video_row(app, upload(student, sample_file("avi_long")))
    assert (video.status, video.error_code) == (VideoStatus.ERROR, messages.TOO_LONG)
    assert "6 s long" in video.error_message and "3 s" in video.error_message
    assert rendition_of(app, video) is None
    assert video.media_info is None  # refused on the probe, before planning any work


def test_a_transcode_past_the_time_limit_is_stopped_with_advice(app, student, sample_file):
    app.config["PROCESSING_TIME_LIMIT_SECONDS"] = 0
    video = video_row(app, upload(student, sample_file("avi_mpeg4")))
    assert (video.status, video.error_code) == (VideoStatus.ERROR, messages.TRANSCODE_TIMEOUT)
    assert rendition_of(app, video) is None


def test_ready_fires_once_and_the_lms_hears_of_it(app, student, sample_file):
    video = video_row(app, upload(student, sample_file("mpeg2")))
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent.event_type)
                                    .where(AuditEvent.target_id == str(video.id))).all()
        assert events.count("video_ready") == 1
        assert pipeline.process(video.id) == pipeline.Outcome.DONE_ALREADY


def _back_to_processing(app, video_id, **values) -> None:
    with app.app_context():
        video = db.session.get(Video, video_id)
        video.status = VideoStatus.PROCESSING
        for key, value in values.items():
            setattr(video, key, value)
        db.session.commit()


def test_a_job_finding_the_work_done_does_not_redo_it(app, student, sample_file):
    video = video_row(app, upload(student, sample_file("avi_mpeg4")))
    rendition = rendition_of(app, video)
    made = rendition.stat().st_mtime_ns
    _back_to_processing(app, video.id)
    with app.app_context():
        assert pipeline.process(video.id) == pipeline.Outcome.READY
    assert rendition.stat().st_mtime_ns == made


def test_a_video_leased_by_a_live_worker_is_left_to_it(app, student, sample_file):
    from datetime import timedelta
    video = video_row(app, upload(student, sample_file("mp4_h264")))
    _back_to_processing(app, video.id, processing_lease_until=utcnow() + timedelta(minutes=5))
    with app.app_context():
        assert pipeline.process(video.id) == pipeline.Outcome.BUSY
        assert requeue_stalled() == 0


def test_the_sweep_requeues_a_video_whose_worker_died(app, student, sample_file):
    from datetime import timedelta
    video = video_row(app, upload(student, sample_file("avi_mpeg4")))
    _back_to_processing(app, video.id, processing_lease_until=utcnow() - timedelta(seconds=1))
    with app.app_context():
        assert requeue_stalled() == 1  # immediate queue: processed at once
    assert video_row(app, video.id).status == VideoStatus.READY


def test_a_storage_outage_is_retried_not_blamed_on_the_student(app, student, sample_file,
                                                               monkeypatch):
    video = video_row(app, upload(student, sample_file("mp4_h264")))
    _back_to_processing(app, video.id)
    backend_class = type(storage_for_app(app, video))

    def down(*args, **kwargs):
        raise BackendUnavailable("The disk is gone for a moment.")

    monkeypatch.setattr(backend_class, "read_header", down)
    with app.app_context(), pytest.raises(BackendUnavailable):
        pipeline.process(video.id)  # Huey retries it with backoff
    again = video_row(app, video.id)
    assert again.status == VideoStatus.PROCESSING and again.processing_lease_until is None
    monkeypatch.undo()
    with app.app_context():
        assert pipeline.process(video.id) == pipeline.Outcome.READY


def storage_for_app(app, video):
    with app.app_context():
        return storage_for(video.backend)


def test_after_too_many_tries_the_student_is_told_what_to_do(app, student, sample_file):
    video = video_row(app, upload(student, sample_file("mp4_h264")))
    _back_to_processing(app, video.id, processing_tries=app.config["PROCESSING_MAX_TRIES"])
    with app.app_context():
        assert pipeline.process(video.id) == pipeline.Outcome.REFUSED
    failed = video_row(app, video.id)
    assert failed.error_code == messages.GAVE_UP and "MP4" in failed.error_message


# --- decisions from the headers alone -----------------------------------------------------

def probe_of(**values) -> media.MediaProbe:
    base = dict(container=MP4.name, format_name="mov,mp4", duration_seconds=10.0, width=1920,
                height=1080, rotation=0, video_codec="h264", pixel_format="yuv420p",
                frame_rate=30.0, frame_count=300, audio_codec="aac", has_audio=True)
    base.update(values)
    return media.MediaProbe(**base)


@pytest.mark.parametrize("values,code", [
    (dict(width=100_000, height=100_000), messages.PICTURE_TOO_LARGE),
    (dict(width=16_384, height=16_384), messages.PICTURE_TOO_LARGE),
    (dict(frame_count=10 ** 12), messages.CORRUPTED),
    (dict(frame_rate=100_000.0), messages.CORRUPTED),
    (dict(duration_seconds=10 ** 9), messages.TOO_LONG),
    (dict(video_codec=None, width=None, height=None), messages.SOUND_ONLY),
    (dict(video_codec=None, width=None, height=None, has_audio=False), messages.NOT_A_VIDEO),
])
def test_bombs_and_non_videos_are_refused_from_the_header(values, code):
    with pytest.raises(media.Refused) as refused:
        media.check_limits(probe_of(**values), None)
    assert refused.value.code == code


def test_a_bomb_file_is_refused_without_decoding(app, student, samples_dir, monkeypatch):
    """A header claiming 100000x100000 never reaches ffmpeg."""
    encoded = []
    monkeypatch.setattr(media, "encode", lambda *a, **k: encoded.append(a))
    monkeypatch.setattr(media, "make_thumbnail", lambda *a, **k: encoded.append(a))
    monkeypatch.setattr(media, "probe", lambda path, container: probe_of(
        container=container.name, width=100_000, height=100_000))
    bomb = samples_dir / "bomb.mp4"
    bomb.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 4096)
    video = video_row(app, upload(student, bomb))
    assert (video.error_code, encoded) == (messages.PICTURE_TOO_LARGE, [])


@pytest.mark.parametrize("values,plan", [
    ({}, KEEP),
    (dict(container="mov"), REMUX),
    (dict(pixel_format="yuv420p10le"), TRANSCODE),
    (dict(video_codec="hevc"), TRANSCODE),
    (dict(audio_codec="pcm_s16le"), TRANSCODE),
    (dict(container=WEBM.name, video_codec="vp9", audio_codec="opus"), KEEP),
    (dict(container=WEBM.name, video_codec="av1", audio_codec=None), KEEP),
    (dict(container="avi", video_codec="mpeg4", audio_codec="mp3"), TRANSCODE),
    # A browser's MediaRecorder WebM: no duration in the header, so no length and no seeking.
    (dict(container=WEBM.name, video_codec="vp9", audio_codec="opus",
          duration_in_header=False), TRANSCODE),
])
def test_only_what_every_browser_plays_is_kept_as_it_is(values, plan):
    assert media.plan_for(probe_of(**values)) is plan


@pytest.mark.parametrize("size,rotation,expected", [
    ((3840, 2160), 0, (1920, 1080)), ((1920, 1080), 90, (1080, 1920)),
    ((320, 240), 0, (320, 240)), ((1440, 1080), 0, (1440, 1080)),
    ((4000, 3000), 0, (1440, 1080)), ((641, 361), 0, (640, 360)),
])
def test_the_rendition_is_at_most_1080p_upright_and_never_enlarged(size, rotation, expected):
    found = probe_of(width=size[0], height=size[1], rotation=rotation)
    assert media.rendition_size(found) == expected


def test_a_webm_streamed_without_duration_is_measured_from_its_packets(tmp_path):
    import subprocess
    from tests.uploading import HAS_FFMPEG
    if not HAS_FFMPEG:
        pytest.skip("ffmpeg not installed")
    streamed = tmp_path / "live.webm"
    # `-live 1` writes the WebM as MediaRecorder does: no Duration element, no cues.
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
                    "-t", "4", "-c:v", "libvpx", "-live", "1", "-f", "webm", str(streamed)],
                   check=True)
    found = media.probe(streamed, WEBM)
    assert not found.duration_in_header
    assert 3.5 <= found.duration_seconds <= 4.5
    assert media.plan_for(found) is media.Plan.TRANSCODE


def test_a_recording_with_uneven_frame_times_has_no_frame_rate_rather_than_its_clock():
    # What ffprobe says of a browser's canvas or screen recording (WebM, 1 ms time base).
    stream = {"codec_type": "video", "codec_name": "vp9", "width": 1280, "height": 720,
              "r_frame_rate": "1000/1", "avg_frame_rate": "0/0", "time_base": "1/1000"}
    found = media.parse_probe({"streams": [stream], "format": {"duration": "4.0"}}, WEBM)
    assert found.frame_rate is None
    media.check_limits(found, None)  # not refused as a 1000 fps bomb
    assert media.rendition_fps(found) == media.RENDITION_DEFAULT_FPS
    # A file that claims 1000 fps on its own is still refused.
    claimed = dict(stream, avg_frame_rate="1000/1")
    with pytest.raises(media.Refused):
        media.check_limits(media.parse_probe(
            {"streams": [claimed], "format": {"duration": "4.0"}}, WEBM), None)


def test_a_rotation_flag_is_read_from_the_display_matrix():
    stream = {"codec_type": "video", "codec_name": "hevc", "width": 320, "height": 240,
              "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}
    found = media.parse_probe({"streams": [stream], "format": {"duration": "1.0"}}, MP4)
    assert found.rotation == 90 and found.display_size == (240, 320)


def test_thumbnails_are_derived_files_beside_the_original(app, student, sample_file):
    video = video_row(app, upload(student, sample_file("mkv_vp9")))
    with app.app_context():
        backend = storage_for(video.backend)
        assert backend.has_derived(video.storage_uid, Derived.THUMBNAIL)
        assert backend.thumbnail_path(video.storage_uid).read_bytes()[:2] == b"\xff\xd8"


def test_the_hover_strip_holds_five_upright_frames_side_by_side(app, student, sample_file):
    video = video_row(app, upload(student, sample_file("mov_hevc_rotated")))
    assert video.has_strip
    with app.app_context():
        strip = storage_for(video.backend).strip_path(video.storage_uid)
    picture = ffprobe_streams(strip)["video"]
    cell_width, cell_height = media.STRIP_CELL
    assert picture["codec_name"] == "mjpeg"
    assert (picture["width"], picture["height"]) == (media.STRIP_FRAMES * cell_width,
                                                     cell_height)


def test_the_instructors_list_shows_each_strip_signed_for_its_viewer(app, client, room, student,
                                                             sample_file):
    video = video_row(app, upload(student, sample_file("avi_mpeg4")))
    instructor = room.launch_as("instructor")
    page = client.get("/review/assignment", headers={"X-LTI-Launch": instructor.id})
    [src] = re.findall(r'<img class="strip" src="([^"]+)" alt=""', page.get_data(as_text=True))
    path = re.sub(r"^https?://[^/]+", "", src).replace("&amp;", "&")
    assert path.startswith(f"/api/videos/{video.id}/strip?")
    served = client.get(path)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    with app.app_context():
        stored = storage_for(video.backend).strip_path(video.storage_uid).read_bytes()
    assert served.data == stored
    assert client.get(path.split("?")[0]).status_code == 403  # no grant, no strip


def test_a_job_finding_the_strip_made_does_not_make_it_again(app, student, sample_file):
    video = video_row(app, upload(student, sample_file("mp4_h264")))
    with app.app_context():
        strip = storage_for(video.backend).strip_path(video.storage_uid)
    made = strip.stat().st_mtime_ns
    _back_to_processing(app, video.id)
    with app.app_context():
        assert pipeline.process(video.id) == pipeline.Outcome.READY
    assert strip.stat().st_mtime_ns == made and video_row(app, video.id).has_strip


def test_ffmpeg_runs_at_the_configured_niceness(app, student, sample_file, monkeypatch):
    import os
    seen = []
    lower = media._lower_priority

    def watch(pid, niceness):
        lower(pid, niceness)
        seen.append(os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0))

    monkeypatch.setattr(media, "_lower_priority", watch)
    app.config["PROCESSING_NICENESS"] = 7
    video = video_row(app, upload(student, sample_file("avi_mpeg4")))
    assert video.status == VideoStatus.READY and seen == [7]
