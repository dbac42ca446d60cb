"""Captions on the local disk (the embedded default): upload, list, replace and delete
WebVTT files beside the video; no transcription; signed <track> URLs in the playback grant
and who may fetch them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from lti_tool.errors import StorageError
from lti_tool.extensions import db
from lti_tool.models import Enrollment, Video
from lti_tool.playback.grants import GRANT_CAPTIONS, GRANT_MEDIA, sign_grant
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from tests.factories import Classroom
from tests.review_fixtures import make_test_video, ready_video

VTT = b"WEBVTT\n\n00:00:00.500 --> 00:00:02.500\nHello, class.\n"
VTT_FR = b"WEBVTT\n\n00:00:00.500 --> 00:00:02.500\nBonjour.\n"


@pytest.fixture
def room(app, tmp_path):
    """A student's ready video, stored as a real file on the local disk."""
    with app.app_context():
        room = Classroom()
        video = ready_video(room, duration=3.0, file=make_test_video(tmp_path / "clip.mp4"))
        room.video_id = video.id
        room.uid = video.storage_uid
        room.heads = {who: Classroom.headers(room.launch(getattr(room, who)))
                      for who in ("student", "other_student", "instructor", "ta")}
        yield room


def url(room, language=None, generate=False) -> str:
    path = f"/api/videos/{room.video_id}/captions"
    return path + (f"/{language}" if language else "") + ("/generate" if generate else "")


def upload(client, room, language="en", data=VTT, who="instructor"):
    return client.post(url(room, language), data={"file": (BytesIO(data), "talk.vtt")},
                       headers=room.heads[who], content_type="multipart/form-data")


def video_folder(room) -> Path:
    return storage_for("local").media_path(room.uid).parent


def test_uploads_lists_replaces_and_deletes_captions_on_disk(client, room):
    assert client.get(url(room), headers=room.heads["student"]).get_json()["captions"] == []
    resp = upload(client, room, "en")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["message"] == "English captions uploaded."
    assert (video_folder(room) / "en.vtt").read_bytes() == VTT  # beside the video
    assert upload(client, room, "pt-br", VTT_FR, who="student").status_code == 201
    listed = client.get(url(room), headers=room.heads["ta"]).get_json()["captions"]
    assert [(c["language"], c["name"], c["status"], c["generated"]) for c in listed] == [
        ("en", "English", "ready", False), ("pt-BR", "Portuguese (Brazil)", "ready", False)]

    assert upload(client, room, "en", VTT_FR).status_code == 201  # replaces
    assert (video_folder(room) / "en.vtt").read_bytes() == VTT_FR

    gone = client.delete(url(room, "en"), headers=room.heads["instructor"])
    assert gone.status_code == 200
    assert [c["language"] for c in gone.get_json()["captions"]] == ["pt-BR"]
    assert not (video_folder(room) / "en.vtt").exists()
    assert client.delete(url(room, "en"), headers=room.heads["instructor"]).status_code == 200


def test_generating_is_refused_with_a_clear_message(client, room):
    resp = client.post(url(room, "en", generate=True), headers=room.heads["instructor"])
    assert resp.status_code == 501
    error = resp.get_json()["error"]
    assert error["code"] == "captions_generation_not_supported"
    assert "Upload a WebVTT" in error["message"]


def test_other_students_cannot_see_or_change_the_captions(client, room):
    assert upload(client, room, "en", who="other_student").status_code == 404
    assert client.get(url(room), headers=room.heads["other_student"]).status_code == 404


def test_a_file_that_is_not_webvtt_is_refused_and_nothing_is_stored(client, room):
    resp = upload(client, room, "en", b"1\n00:00:01,000 --> 00:00:02,000\nHi\n")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "captions_not_vtt"
    assert not list(video_folder(room).glob("*.vtt"))


def test_the_backend_refuses_a_language_tag_that_is_not_one(app, room):
    backend = storage_for("local")
    for tag in ("../meta", "en/../../x", "", "e"):
        with pytest.raises(StorageError):
            backend.upload_captions(room.uid, tag, VTT)
    assert not list(video_folder(room).glob("*.vtt"))


def test_deleting_the_video_removes_its_captions(app, room):
    backend = storage_for("local")
    backend.upload_captions(room.uid, "en", VTT)
    folder = video_folder(room)
    backend.delete(room.uid)
    assert not folder.exists()


def test_review_page_panel_offers_upload_but_not_generate(client, room):
    launch = room.heads["instructor"]["X-LTI-Launch"]
    html = client.get(f"/review/students/{room.student.id}?launch={launch}").get_data(True)
    assert 'id="captions-panel"' in html and 'id="captions-upload"' in html
    assert 'id="captions-generate' not in html


# --- signed <track> URLs ----------------------------------------------------------------

def grant(client, room, who="student") -> dict:
    resp = client.get(f"/api/videos/{room.video_id}/playback", headers=room.heads[who])
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_the_playback_grant_lists_signed_tracks_that_serve_the_vtt(client, room):
    assert grant(client, room)["tracks"] == []
    upload(client, room, "en")
    upload(client, room, "fr", VTT_FR)
    for who in ("student", "instructor", "ta"):
        tracks = grant(client, room, who)["tracks"]
        assert [(t["language"], t["label"]) for t in tracks] == [("en", "English"),
                                                                 ("fr", "French")]
        resp = client.get(tracks[1]["url"])  # no launch: the signature is the access
        assert resp.status_code == 200 and resp.data == VTT_FR
        assert resp.mimetype == "text/vtt"
        assert resp.headers["Cache-Control"].startswith("private, no-store")


def test_a_track_url_is_bound_to_its_kind_video_and_expiry(client, room):
    upload(client, room, "en")
    track = grant(client, room)["tracks"][0]["url"]
    token = parse_qs(urlsplit(track).query)["token"][0]
    assert client.get(track.replace(token, token[:-3] + "abc")).status_code == 403
    assert client.get(f"/api/videos/{room.video_id}/captions/en.vtt").status_code == 403
    now = datetime.now(timezone.utc)
    media = sign_grant(GRANT_MEDIA, video_id=room.video_id, viewer_id=room.student.id,
                       expires=now + timedelta(minutes=5))
    expired = sign_grant(GRANT_CAPTIONS, video_id=room.video_id, viewer_id=room.student.id,
                         expires=now - timedelta(seconds=5))
    other_id = ready_video(room, room.other_student).id
    base = f"/api/videos/{room.video_id}/captions/en.vtt?token="
    assert client.get(base + media).status_code == 403  # a media grant is not a track grant
    assert client.get(base + expired).status_code == 403
    assert client.get(f"/api/videos/{other_id}/captions/en.vtt?token={token}").status_code == 403
    # A caption grant does not play the video either.
    assert client.get(f"/api/videos/{room.video_id}/media?token={token}").status_code == 403


def test_a_track_url_stops_working_when_the_viewer_loses_access(client, room):
    upload(client, room, "en")
    track = grant(client, room, "ta")["tracks"][0]["url"]
    assert client.get(track).status_code == 200
    db.session.execute(db.delete(Enrollment).where(Enrollment.user_id == room.ta.id))
    db.session.commit()
    assert client.get(track).status_code == 403


def test_a_missing_language_is_404(client, room):
    upload(client, room, "en")
    track = grant(client, room)["tracks"][0]["url"]
    assert client.get(track.replace("/en.vtt", "/de.vtt")).status_code == 404
    assert client.get(track.replace("/en.vtt", "/..%2Fmeta.vtt")).status_code in (403, 404)


def test_a_video_not_ready_has_no_tracks(client, room):
    upload(client, room, "en")
    track = grant(client, room)["tracks"][0]["url"]
    db.session.get(Video, room.video_id).status = VideoStatus.PROCESSING
    db.session.commit()
    assert client.get(track).status_code == 403
