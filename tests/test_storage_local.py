"""The local-disk backend: the shared storage contract, plus what only it does."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from lti_tool.playback.grants import GRANT_MEDIA, GRANT_THUMBNAIL, read_grant, sign_grant
from lti_tool.statuses import VideoStatus
from lti_tool.storage import current_storage
from lti_tool.storage.base import UploadNotFound
from lti_tool.storage.local.backend import LocalStorage
from lti_tool.tus.uploads import UPLOAD_ID_KEY
from lti_tool.uploads import video_checks as media
from tests.storage_contract import StorageContract
from tests.uploading import needs_ffmpeg, sample_mp4  # noqa: F401


def push_through_tus_store(backend: LocalStorage, ticket, data: bytes) -> dict:
    """Write the bytes as our tus endpoint does, then move them into place."""
    upload_id = "contract-" + ticket.storage_uid
    store = backend.tus_store()
    store.create(upload_id)
    with store.locked(upload_id) as fd:
        store.append(fd, io.BytesIO(data).readinto, len(data))
    backend.attach_upload(ticket.storage_uid, upload_id)
    return {UPLOAD_ID_KEY: upload_id}


@pytest.fixture
def backend(app):
    with app.test_request_context():
        yield current_storage()


class TestLocalStorageContract(StorageContract):
    def push_bytes(self, backend, ticket, data):
        return push_through_tus_store(backend, ticket, data)


def _upload(backend, data: bytes, name="clip.mp4"):
    ticket = backend.create_upload(StorageContract.request_for(len(data), filename=name))
    return ticket.storage_uid, push_through_tus_store(backend, ticket, data)


def test_storage_uids_never_become_paths(backend, tmp_path):
    evil = "../../etc/passwd"
    folder = backend._dir(evil)
    assert folder.parent == backend.root / "videos"
    assert ".." not in folder.name and len(folder.name) == 64


def test_inspect_reports_upload_progress(backend):
    ticket = backend.create_upload(StorageContract.request_for(100))
    store = backend.tus_store()
    store.create("u1")
    with store.locked("u1") as fd:
        store.append(fd, io.BytesIO(b"x" * 40).readinto, 40)
    info = backend.inspect(ticket.storage_uid, {UPLOAD_ID_KEY: "u1"})
    assert info.status == VideoStatus.UPLOADING and info.size_bytes == 40


def test_a_file_that_is_not_a_video_is_an_error_a_student_understands(backend):
    uid, data = _upload(backend, b"%PDF-1.7 this is a document, not a video" * 50)
    info = backend.inspect(uid, data)
    assert info.status == VideoStatus.ERROR
    assert info.error_code == media.NOT_A_VIDEO
    assert "not a video" in info.error_message


@needs_ffmpeg
def test_a_truncated_video_is_reported_corrupted(backend, sample_mp4):
    # The signature survives but the headers are cut short.
    uid, bd = _upload(backend, sample_mp4.read_bytes()[:200])
    info = backend.inspect(uid, bd)
    assert info.status == VideoStatus.ERROR and info.error_code == media.CORRUPTED
    assert "damaged" in info.error_message


@needs_ffmpeg
def test_sound_without_picture_is_not_a_video(backend, tmp_path):
    import subprocess
    path = tmp_path / "voice.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "sine=duration=1", "-c:a", "aac", str(path)], check=True, timeout=60)
    uid, bd = _upload(backend, path.read_bytes())
    assert backend.inspect(uid, bd).error_code == media.NOT_A_VIDEO


@needs_ffmpeg
def test_a_real_video_gets_duration_size_and_a_thumbnail(backend, sample_mp4):
    uid, data = _upload(backend, sample_mp4.read_bytes())
    info = backend.inspect(uid, data)
    assert info.status == VideoStatus.READY
    assert info.width == 320 and info.height == 240
    assert 1.9 <= info.duration_seconds <= 2.1
    assert info.has_thumbnail
    thumb = backend.thumbnail_path(uid)
    assert thumb.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG
    assert backend.media_mime_type(uid) == "video/mp4"


def test_without_ffmpeg_the_signature_alone_decides(backend, sample_mp4, monkeypatch):
    monkeypatch.setattr(media, "ffprobe_path", lambda: None)
    monkeypatch.setattr(media, "ffmpeg_path", lambda: None)
    uid, data = _upload(backend, sample_mp4.read_bytes())
    info = backend.inspect(uid, data)
    assert info.status == VideoStatus.READY
    assert info.duration_seconds is None and not info.has_thumbnail
    assert backend.thumbnail_url(uid, viewer_id=1, video_id=1, ttl_seconds=60) is None


def test_health_fails_when_the_folder_is_not_writable(app, tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    config = dict(app.config, LOCAL_STORAGE_DIR=str(blocker / "media"))
    assert LocalStorage(config).health().ok is False


def test_media_path_of_an_unfinished_upload_is_not_found(backend):
    ticket = backend.create_upload(StorageContract.request_for(100))
    with pytest.raises(UploadNotFound):
        backend.media_path(ticket.storage_uid)


# --- signed grants ---

def _in(seconds: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def test_a_grant_reads_back_for_its_video_and_kind(backend):
    token = sign_grant(GRANT_MEDIA, video_id=5, viewer_id=9, expires=_in(60))
    assert read_grant(token, 5, frozenset({GRANT_MEDIA})) == (GRANT_MEDIA, 9)


@pytest.mark.parametrize("change", ["other_video", "other_kind", "expired", "tampered",
                                    "other_secret"])
def test_a_grant_is_refused_when_anything_is_off(app, backend, change):
    expires = _in(-1) if change == "expired" else _in(60)
    token = sign_grant(GRANT_MEDIA, video_id=5, viewer_id=9, expires=expires)
    video, kinds = 5, frozenset({GRANT_MEDIA})
    if change == "other_video":
        video = 6
    elif change == "other_kind":
        kinds = frozenset({GRANT_THUMBNAIL})
    elif change == "tampered":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif change == "other_secret":
        app.config["SECRET_KEY"] = "another-secret"
    assert read_grant(token, video, kinds) is None


# --- container signatures ---

@pytest.mark.parametrize("header,name", [
    (b"\x00\x00\x00\x20ftypisom" + b"\x00" * 20, "mp4"),
    (b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 20, "mov"),
    (b"\x00\x00\x00\x08wide" + b"\x00" * 20, "mov"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm"),
    (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "mkv"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
    (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + b"\x00" * 8, "wmv"),
    (b"\x00\x00\x01\xba" + b"\x00" * 20, "mpeg"),
    ((b"\x47" + b"\x00" * 187) * 3, "ts"),
])
def test_video_containers_are_recognised(header, name):
    assert media.sniff_container(header).name == name


@pytest.mark.parametrize("header", [b"%PDF-1.7", b"GIF89a" + b"\x00" * 600, b"\x89PNG\r\n",
                                    b"PK\x03\x04", b"", b"hello world"])
def test_other_files_are_not_videos(header):
    assert media.sniff_container(header) is None


def test_durations_read_like_people_say_them():
    assert media.format_duration(45) == "45 s"
    assert media.format_duration(125) == "2 min 5 s"
    assert media.format_duration(3720) == "1 h 2 min"
