"""Playback: who may watch which video, signed media URLs, range requests, thumbnails."""
from __future__ import annotations

import hashlib
import re

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Enrollment, Video
from lti_tool.statuses import VideoStatus
from tests.uploading import HAS_FFMPEG, TusClient, needs_ffmpeg, room, sample_mp4  # noqa: F401

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

ALLOWED = ["student", "instructor", "ta", "admin"]
REFUSED = ["other_student", "other_instructor", "foreign_admin"]


@pytest.fixture
def uploaded(app, client, room, sample_mp4):
    """The student's ready video; returns its id."""
    tus = TusClient(client, room.launch(room.student))
    ticket, _, resp = tus.upload(sample_mp4.read_bytes())
    assert resp.status_code == 204
    with app.app_context():
        assert db.session.get(Video, ticket["video_id"]).status == VideoStatus.READY
    return ticket["video_id"]


def grant(client, room, who, video_id):
    launch = room.launch_as(who)
    return client.get(f"/api/videos/{video_id}/playback", headers={"X-LTI-Launch": launch.id})


def media_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.mark.parametrize("who", ALLOWED)
def test_owner_staff_and_admin_get_a_signed_playback(app, client, room, uploaded, who):
    resp = grant(client, room, who, uploaded)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"kind", "url", "expires_at", "thumbnail_url", "mime_type", "tracks",
                         "sound_only"}
    assert body["kind"] == "file" and body["mime_type"] == "video/mp4"
    assert body["tracks"] == []  # no captions uploaded (see test_captions_local.py)
    media = client.get(media_path(body["url"]))  # no launch header, no cookie
    assert media.status_code == 200
    assert media.headers["Accept-Ranges"] == "bytes"
    assert "no-store" in media.headers["Cache-Control"]
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).filter_by(
            event_type=EventType.PLAYBACK_GRANTED)).all()
        assert [e.target_id for e in events] == [str(uploaded)]


@pytest.mark.parametrize("who", REFUSED)
def test_strangers_cannot_play_or_even_see_the_video(client, room, uploaded, who):
    resp = grant(client, room, who, uploaded)
    assert resp.status_code == 404
    status = client.get(f"/api/videos/{uploaded}/status",
                        headers={"X-LTI-Launch": room.launch_as(who).id})
    assert status.status_code == 404


def test_without_a_launch_playback_is_401(client, uploaded):
    assert client.get(f"/api/videos/{uploaded}/playback").status_code == 401


def test_unknown_video_is_404_like_a_forbidden_one(client, room):
    assert grant(client, room, "instructor", 999999).status_code == 404


def test_a_signed_url_is_bound_to_its_video(app, client, room, uploaded, sample_mp4):
    second = TusClient(client, room.launch(room.other_student))
    ticket, _, _ = second.upload(sample_mp4.read_bytes())
    url = media_path(grant(client, room, "student", uploaded).get_json()["url"])
    forged = url.replace(f"/videos/{uploaded}/", f"/videos/{ticket['video_id']}/")
    assert client.get(forged).status_code == 403
    thumb_kind = url.replace("/media?", "/thumbnail?")
    assert client.get(thumb_kind).status_code == 403


def test_a_signed_url_expires(app, client, room, uploaded):
    app.config["PLAYBACK_URL_TTL_SECONDS"] = -5
    url = media_path(grant(client, room, "student", uploaded).get_json()["url"])
    assert client.get(url).status_code == 403


def test_a_tampered_or_missing_token_is_refused(client, room, uploaded):
    url = media_path(grant(client, room, "student", uploaded).get_json()["url"])
    assert client.get(url[:-3] + "xyz").status_code == 403
    assert client.get(f"/api/videos/{uploaded}/media").status_code == 403


def test_a_signed_url_stops_working_when_the_viewer_loses_access(app, client, room, uploaded):
    url = media_path(grant(client, room, "ta", uploaded).get_json()["url"])
    with app.app_context():
        enrollment = db.session.scalar(db.select(Enrollment).filter_by(user_id=room.ta.id))
        enrollment.active = False
        db.session.commit()
    assert client.get(url).status_code == 403


def test_a_video_that_is_not_ready_has_no_playback(app, client, room):
    tus = TusClient(client, room.launch(room.student))
    ticket = tus.start(size=100)
    assert grant(client, room, "student", ticket["video_id"]).status_code == 409


def test_range_requests_return_206_and_stitch_back_byte_exact(client, room, uploaded,
                                                               sample_mp4):
    source = sample_mp4.read_bytes()
    url = media_path(grant(client, room, "instructor", uploaded).get_json()["url"])
    size = len(source)
    step = max(1, size // 5)
    pieces = []
    for start in range(0, size, step):
        end = min(size, start + step) - 1
        resp = client.get(url, headers={"Range": f"bytes={start}-{end}"})
        assert resp.status_code == 206
        assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
        pieces.append(resp.data)
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == hashlib.sha256(source).hexdigest()
    tail = client.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.data == source[-100:]


def test_an_unsatisfiable_range_is_416(client, room, uploaded, sample_mp4):
    url = media_path(grant(client, room, "student", uploaded).get_json()["url"])
    size = len(sample_mp4.read_bytes())
    resp = client.get(url, headers={"Range": f"bytes={size + 10}-{size + 20}"})
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == f"bytes */{size}"


@needs_ffmpeg
@pytest.mark.parametrize("who", ALLOWED)
def test_allowed_viewers_get_the_thumbnail(client, room, uploaded, who):
    body = grant(client, room, who, uploaded).get_json()
    assert body["thumbnail_url"]
    resp = client.get(media_path(body["thumbnail_url"]))
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert "no-store" in resp.headers["Cache-Control"]
    # A thumbnail grant does not open the video itself.
    as_media = media_path(body["thumbnail_url"]).replace("/thumbnail?", "/media?")
    assert client.get(as_media).status_code == 403


def test_a_refused_playback_is_audited(app, client, room, uploaded):
    grant(client, room, "other_student", uploaded)
    with app.app_context():
        refused = db.session.scalars(db.select(AuditEvent).filter_by(
            event_type=EventType.PLAYBACK_REFUSED)).all()
        assert len(refused) == 1 and refused[0].actor_id == room.other_student.id


def test_status_reports_the_attempt(client, room, uploaded):
    resp = client.get(f"/api/videos/{uploaded}/status",
                      headers={"X-LTI-Launch": room.launch(room.student).id})
    body = resp.get_json()
    assert body["status"] == "ready" and body["final"] and body["is_current"]
    if HAS_FFMPEG:
        assert body["width"] == 320 and body["height"] == 240


def test_an_instructors_signed_url_for_one_video_does_not_open_another(app, client, room,
                                                                       uploaded, sample_mp4):
    """The instructor may watch both videos, so only the grant's own video id can refuse."""
    second = TusClient(client, room.launch(room.other_student))
    ticket, _, _ = second.upload(sample_mp4.read_bytes())
    assert grant(client, room, "instructor", ticket["video_id"]).status_code == 200
    url = media_path(grant(client, room, "instructor", uploaded).get_json()["url"])
    assert client.get(url).status_code == 200
    moved = url.replace(f"/videos/{uploaded}/", f"/videos/{ticket['video_id']}/")
    assert client.get(moved).status_code == 403
