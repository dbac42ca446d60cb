"""Sound files (.m4a, .mp3, .wav, .ogg/.oga/.opus, .aac, .flac) where an assignment accepts
sound-only submissions: taken by name, media type and first bytes, processed to ready (an
.m4a or .mp3 as it came, the rest as AAC in MP4); refused with a clear code where a video is
asked for, on a storage that keeps no sound-only file (Cloudflare Stream), or where the bytes
are not the sound file the name says."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from lti_tool.processing import media, messages
from lti_tool.storage import storage_for
from lti_tool.storage.base import Derived
from lti_tool.storage.s3.backend import derived_key
from lti_tool.statuses import VideoStatus
from lti_tool.uploads import video_checks
from lti_tool.uploads.video_checks import SOUND_FORMATS
from tests.processing_fixtures import (SOUND_SAMPLES, ffprobe_streams, sample_file,  # noqa: F401
                                       samples_dir, video_row)
from tests.s3_server import moto_server, s3_bucket, s3_settings  # noqa: F401
from tests.uploading import TusClient, room  # noqa: F401

from . import cloudflare_fake as cf

# What processing makes of each sample: an .m4a or .mp3 plays everywhere as it is.
KEPT = {"sound_m4a", "sound_mp3", "sound_mp3_bare"}


def start(client, launch, filename: str, size: int = 1000, content_type: str | None = None):
    """POST /api/uploads for a file by this name (its format's own media type by default)."""
    if content_type is None:
        named = video_checks.sound_format(filename)
        content_type = named.mime_types[0] if named else "video/mp4"
    return client.post("/api/uploads", json={"filename": filename, "size_bytes": size,
                                             "content_type": content_type},
                       headers={"X-LTI-Launch": launch.id})


def upload(client, room, path: Path, filename: str | None = None) -> int:
    """Send a file by tus as the student page does; return the video id."""
    launch = room.launch(room.student)
    data, name = path.read_bytes(), filename or path.name
    started = start(client, launch, name, len(data))
    assert started.status_code == 201, started.get_json()
    video_id = started.get_json()["video_id"]
    tus = TusClient(client, launch)
    created = tus.create(video_id, len(data))
    assert created.status_code == 201, created.get_json()
    assert tus.patch(created.headers["Location"], data, 0).status_code == 204
    return video_id


def refusal(resp) -> tuple[int, str]:
    return resp.status_code, resp.get_json()["error"]["code"]


# --- the table and the first bytes ------------------------------------------------------------


def test_every_sound_format_has_a_sample_processing_is_shown_to_handle():
    assert set(SOUND_FORMATS) <= {Path(s.name).suffix.lstrip(".")
                                  for s in SOUND_SAMPLES.values()}


@pytest.mark.parametrize("key", list(SOUND_SAMPLES))
def test_each_sound_file_is_known_by_its_first_bytes_as_what_its_name_says(key, sample_file):
    path = sample_file(key)
    container = video_checks.sniff_container(video_checks.read_header(path))
    assert container in video_checks.sound_format(path.name).containers
    assert video_checks.check_sound_name(path.name, container) is None


@pytest.mark.parametrize("header, expected", [
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", video_checks.MP3),
    (b"\xff\xfb\x90\x64" + b"\x00" * 60, video_checks.MP3),  # MPEG-1 layer III, 128 kb/s
    (b"\xff\xf1\x50\x80" + b"\x00" * 60, video_checks.ADTS),  # AAC-LC, 44.1 kHz
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", video_checks.WAV),
    (b"RIFF\x24\x00\x00\x00AVI LIST", video_checks.AVI),
    (b"fLaC\x00\x00\x00\x22", video_checks.FLAC),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", video_checks.M4A),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", video_checks.MP4),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", video_checks.OGG_SOUND),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", video_checks.OGG),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),  # a JPEG photo: 0xFF, but no frame sync
    (b"\xff\xfb\xf0\x64" + b"\x00" * 60, None),  # frame sync, but bitrate index 15
    (b"%PDF-1.7\n", None),
])
def test_sound_signatures(header, expected):
    assert video_checks.sniff_container(header) is expected


@pytest.mark.parametrize("filename, header, verdict", [
    ("essay.mp3", b"%PDF-1.7\n", video_checks.NOT_A_SOUND_FILE),
    ("talk.wav", b"ID3\x04\x00", video_checks.NOT_A_SOUND_FILE),  # an MP3 named .wav
    ("memo.m4a", b"\x00\x00\x00\x20ftypisom", None),  # many apps write the generic brand
    ("clip.mp4", b"%PDF-1.7\n", None),  # a video's name: the video checks decide
])
def test_a_sound_files_bytes_must_be_what_its_name_says(filename, header, verdict):
    found = video_checks.sniff_container(header)
    assert video_checks.check_sound_name(filename, found) == verdict


# --- where sound files are taken ------------------------------------------------------------


@pytest.mark.parametrize("ext", list(SOUND_FORMATS))
def test_a_sound_file_is_refused_before_upload_where_a_video_is_asked_for(client, room, ext):
    resp = start(client, room.launch(room.student), f"voice.{ext}")
    assert refusal(resp) == (415, video_checks.SOUND_ONLY)
    assert "asks for a video" in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("ext", list(SOUND_FORMATS))
def test_a_sound_file_is_taken_where_sound_only_is_accepted(client, room, ext):
    room.update_assignment(accepts_audio=True)
    resp = start(client, room.launch(room.student), f"voice.{ext}")
    assert resp.status_code == 201, resp.get_json()


@pytest.mark.parametrize("content_type, status", [
    ("audio/mpeg", 201), ("audio/x-mpeg-3", 201), ("", 201),
    ("application/octet-stream", 201), ("application/pdf", 415), ("video/mp4", 415),
    ("image/jpeg", 415)])
def test_a_sound_files_media_type_must_be_a_sound_type(client, room, content_type, status):
    room.update_assignment(accepts_audio=True)
    resp = start(client, room.launch(room.student), "talk.mp3", content_type=content_type)
    assert resp.status_code == status, resp.get_json()
    if status == 415:
        assert resp.get_json()["error"]["code"] == video_checks.NOT_A_SOUND_FILE


def test_the_file_picker_lists_sound_files_only_where_they_are_accepted(client, room):
    def accept() -> str:
        html = client.get(f"/assignment?launch={room.launch(room.student).id}").get_data(
            as_text=True)
        return re.search(r'id="file-input"[^>]*accept="([^"]*)"', html).group(1)

    def drop_title() -> str:
        html = client.get(f"/assignment?launch={room.launch(room.student).id}").get_data(
            as_text=True)
        return re.search(r'id="dropzone-title">([^<]*)<', html).group(1)

    assert ".mp4" in accept() and "video/*" in accept()
    assert ".mp3" not in accept() and "audio/" not in accept()
    assert drop_title() == "Drop your video here, or "
    room.update_assignment(accepts_audio=True)
    assert drop_title() == "Drop your video or sound file here, or "
    listed = accept().split(",")
    assert {f".{ext}" for ext in SOUND_FORMATS} <= set(listed)
    assert {"audio/mpeg", "audio/mp4", "audio/wav", "audio/ogg", "audio/flac",
            "audio/aac"} <= set(listed)


def test_the_phone_page_is_told_the_sound_files_where_they_are_accepted(client, room):
    def claimed_limits() -> dict:
        made = client.post("/api/handoff", json={},
                           headers={"X-LTI-Launch": room.launch(room.student).id})
        assert made.status_code == 201, made.get_json()
        claim = client.post("/api/handoff/claim", json={"code": made.get_json()["code"]})
        assert claim.status_code == 201, claim.get_json()
        return claim.get_json()["limits"]

    before = claimed_limits()
    assert "mp3" not in before["formats"] and ".mp3" not in before["accept"]
    assert set(before["sound_formats"]) == set(SOUND_FORMATS)  # to say why one is refused
    room.update_assignment(accepts_audio=True)
    after = claimed_limits()
    assert set(SOUND_FORMATS) <= set(after["formats"]) and ".wav" in after["accept"]


# --- processing -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(SOUND_SAMPLES))
def test_each_sound_file_is_processed_to_ready_with_its_duration(app, client, room, key,
                                                                 sample_file):
    room.update_assignment(accepts_audio=True)
    video = video_row(app, upload(client, room, sample_file(key)))
    assert video.status == VideoStatus.READY, video.error_message
    assert video.duration_seconds == pytest.approx(2.0, abs=0.2)
    assert video.is_sound_only and not video.has_thumbnail
    with app.app_context():
        backend = storage_for(video.backend)
        rendition = backend.rendition_path(video.storage_uid)
        media_type = backend.media_mime_type(video.storage_uid)
    if key in KEPT:
        assert video.media_info["plan"] == media.Plan.KEEP and rendition is None
        assert media_type in SOUND_FORMATS[Path(video.filename).suffix[1:]].mime_types
        return
    assert video.media_info["plan"] == media.Plan.TRANSCODE and video.has_rendition
    streams = ffprobe_streams(rendition)
    assert "video" not in streams and streams["audio"]["codec_name"] == "aac"
    assert "mp4" in streams["format"]["format_name"]
    data = rendition.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: the index first


@pytest.mark.parametrize("source, named", [
    ("text_named_mp4", "essay.mp3"),  # a document renamed
    ("mp4_h264", "clip.wav"),  # a video renamed
    ("sound_mp3", "talk.flac"),  # one sound format named as another
])
def test_a_renamed_file_is_refused_by_its_first_bytes(app, client, room, sample_file, source,
                                                      named):
    room.update_assignment(accepts_audio=True)
    video = video_row(app, upload(client, room, sample_file(source), filename=named))
    assert (video.status, video.error_code) == (VideoStatus.ERROR,
                                                messages.NOT_A_SOUND_FILE)
    assert "without renaming it" in video.error_message


def test_a_sound_file_uploaded_before_sound_was_turned_off_is_refused_when_processed(
        app, client, room, sample_file, monkeypatch):
    """The setting is read again when the file is processed (the instructor may have
    changed it while the file uploaded)."""
    from lti_tool import signals
    room.update_assignment(accepts_audio=True)
    held = []
    monkeypatch.setattr(signals.video_uploaded, "send", lambda video: held.append(video.id))
    video_id = upload(client, room, sample_file("sound_wav"))
    room.update_assignment(accepts_audio=False)
    monkeypatch.undo()
    from lti_tool.processing import pipeline
    with app.app_context():
        assert pipeline.process(held[0]) == pipeline.Outcome.REFUSED
    assert video_row(app, video_id).error_code == messages.SOUND_ONLY


# --- Cloudflare Stream keeps no sound-only file ------------------------------------------------


class TestOnCloudflareStream:
    @pytest.fixture
    def app_config(self, app_config):
        app_config.update(cf.settings())
        return app_config

    @pytest.mark.parametrize("ext", list(SOUND_FORMATS))
    def test_a_sound_file_is_refused_even_where_the_assignment_accepts_sound(
            self, client, room, ext):
        room.update_assignment(accepts_audio=True)
        resp = start(client, room.launch(room.student), f"voice.{ext}")
        assert refusal(resp) == (415, video_checks.SOUND_ONLY)

    def test_the_file_picker_lists_no_sound_file(self, client, room):
        room.update_assignment(accepts_audio=True)
        html = client.get(f"/assignment?launch={room.launch(room.student).id}").get_data(
            as_text=True)
        accept = re.search(r'id="file-input"[^>]*accept="([^"]*)"', html).group(1)
        assert ".mp4" in accept and ".mp3" not in accept and "audio/" not in accept


# --- S3: the same checks, the bytes read from the bucket ---------------------------------------


class TestOnS3:
    @pytest.fixture
    def app_config(self, app_config, moto_server, s3_bucket):  # noqa: F811
        app_config.update(s3_settings(moto_server, s3_bucket))
        return app_config

    def upload(self, client, room, path: Path, filename: str) -> int:
        """Upload through the multipart API as the browser does; return the video id."""
        launch = room.launch(room.student)
        data = path.read_bytes()
        started = start(client, launch, filename, len(data))
        assert started.status_code == 201, started.get_json()
        base = f"/api/uploads/{started.get_json()['video_id']}/multipart"
        headers = {"X-LTI-Launch": launch.id}
        part = client.post(base + "/sign", json={"part_numbers": [1]},
                           headers=headers).get_json()["parts"][0]
        etag = requests.put(part["url"], data=data, timeout=30).headers["ETag"]
        done = client.post(base + "/complete",
                           json={"parts": [{"part_number": 1, "etag": etag}]},
                           headers=headers)
        assert done.status_code == 200, done.get_json()
        return started.get_json()["video_id"]

    def test_a_wav_becomes_aac_beside_it_and_an_mp3_plays_as_it_came(
            self, app, client, room, sample_file, moto_server, s3_bucket, tmp_path):
        from tests.s3_server import admin_client
        room.update_assignment(accepts_audio=True)
        wav = video_row(app, self.upload(client, room, sample_file("sound_wav"), "voice.wav"))
        assert wav.status == VideoStatus.READY, wav.error_message
        assert wav.duration_seconds == pytest.approx(2.0, abs=0.2)
        rendition = tmp_path / "rendition.mp4"
        admin_client(moto_server).download_file(
            s3_bucket, derived_key(wav.storage_uid, Derived.RENDITION), str(rendition))
        assert ffprobe_streams(rendition)["audio"]["codec_name"] == "aac"
        mp3 = video_row(app, self.upload(client, room, sample_file("sound_mp3"), "talk.mp3"))
        assert mp3.status == VideoStatus.READY and mp3.media_info["plan"] == media.Plan.KEEP
        stored = admin_client(moto_server).head_object(Bucket=s3_bucket, Key=mp3.storage_uid)
        assert stored["ContentType"] == "audio/mpeg"

    def test_a_renamed_document_is_refused_from_its_first_bytes(self, app, client, room,
                                                                sample_file):
        room.update_assignment(accepts_audio=True)
        video = video_row(app, self.upload(client, room, sample_file("text_named_mp4"),
                                           "essay.mp3"))
        assert (video.status, video.error_code) == (VideoStatus.ERROR,
                                                    messages.NOT_A_SOUND_FILE)


# --- the pages' own check, before any byte moves (static/js/file-formats.js) -------------------

FILE_FORMATS_JS = Path(__file__).resolve().parents[1] / "static" / "js" / "file-formats.js"
NODE = shutil.which("node")


def page_refusals(limits: dict, names: list[str]) -> list[str | None]:
    """Run file-formats.js's formatRefusal in Node for each name."""
    if NODE is None:
        pytest.skip("node is not installed")
    script = (f"import {{ formatRefusal }} from {json.dumps(FILE_FORMATS_JS.as_uri())};\n"
              f"const limits = {json.dumps(limits)};\n"
              f"process.stdout.write(JSON.stringify({json.dumps(names)}"
              ".map((n) => formatRefusal(n, limits))));")
    out = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_the_page_says_what_the_server_says_of_a_sound_file(client, room):
    """The pages refuse as the server would, in its words: a sound file where a video is
    asked for, and take one where sound-only submissions are accepted."""
    from tests.test_s3_recording_parts import page_data

    def limits() -> dict:
        return page_data(client, {"X-LTI-Launch": room.launch(room.student).id})["state"][
            "limits"]

    names = [f"voice.{ext}" for ext in SOUND_FORMATS]
    assert page_refusals(limits(), names) == [
        video_checks.MESSAGES[video_checks.SOUND_ONLY]] * len(names)
    assert "not an accepted video format" in page_refusals(limits(), ["essay.pdf"])[0]
    room.update_assignment(accepts_audio=True)
    assert page_refusals(limits(), names + ["clip.mp4"]) == [None] * (len(names) + 1)
    assert "not an accepted video or sound format" in page_refusals(limits(),
                                                                    ["essay.pdf"])[0]
