"""Attempts: starting, checking, replacing, refusing; signals, audit and the page's state."""
from __future__ import annotations

import pytest

from lti_tool import signals
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Submission, Upload, Video, utcnow
from lti_tool.statuses import VideoStatus
from tests.uploading import (TusClient, make_sample_video, needs_ffmpeg, room,  # noqa: F401
                             sample_mp4)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


@pytest.fixture
def tus(client, room):
    return TusClient(client, room.launch(room.student))


def _video(app, video_id) -> dict:
    with app.app_context():
        v = db.session.get(Video, video_id)
        return {"status": v.status, "error_code": v.error_code, "msg": v.error_message,
                "current": v.submission.current_video_id, "submitted": v.submission.submitted_at}


def _start(tus, **body):
    payload = {"filename": "clip.mp4", "size_bytes": 1000, "content_type": "video/mp4"}
    payload.update(body)
    return tus.client.post("/api/uploads", json=payload, headers={"X-LTI-Launch": tus.launch.id})


def test_start_answers_with_the_tus_ticket(tus):
    resp = _start(tus)
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["method"] == "tus" and body["endpoint"].endswith("/tus/")
    assert body["metadata"]["video_id"] == str(body["video_id"])
    assert body["attempt"] == 1


@pytest.mark.parametrize("filename,status,code", [
    ("essay.pdf", 415, "wrong_format"), ("noextension", 415, "wrong_format"),
    ("clip.MP4", 201, None), ("clip.webm", 201, None),
])
def test_formats_are_checked_before_upload(tus, filename, status, code):
    resp = _start(tus, filename=filename)
    assert resp.status_code == status
    if code:
        assert resp.get_json()["error"]["code"] == code
        assert "MP4" in resp.get_json()["error"]["message"]


def test_the_assignment_can_narrow_the_formats(tus, room):
    room.update_assignment(allowed_formats="webm, .mov")
    assert _start(tus, filename="a.mp4").status_code == 415
    assert _start(tus, filename="a.mov").status_code == 201


def test_size_is_checked_against_site_and_assignment_limits(app, tus, room):
    assert _start(tus, size_bytes=app.config["MAX_UPLOAD_BYTES"] + 1).status_code == 413
    room.update_assignment(max_file_bytes=2000)
    resp = _start(tus, size_bytes=2001)
    assert resp.status_code == 413
    assert "larger than the" in resp.get_json()["error"]["message"]
    assert _start(tus, size_bytes=0).status_code == 400


@pytest.mark.parametrize("body", [None, {"filename": "", "size_bytes": 1},
                                  {"filename": "a.mp4", "size_bytes": "12"},
                                  {"filename": "a.mp4", "size_bytes": True}])
def test_bad_start_requests_get_a_clear_400(tus, body):
    resp = tus.client.post("/api/uploads", json=body, headers={"X-LTI-Launch": tus.launch.id})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"]


def test_a_locked_assignment_takes_no_upload(tus, room):
    room.update_assignment(locked=True)
    resp = _start(tus)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "assignment_locked"


def test_ready_video_becomes_the_submission_and_signals_fire(app, tus, sample_mp4):
    ready, failed = [], []

    def on_ready(video):
        ready.append(video.id)

    def on_failed(video):
        failed.append(video.id)

    signals.video_ready.connect(on_ready)
    signals.video_failed.connect(on_failed)
    try:
        ticket, _, resp = tus.upload(sample_mp4.read_bytes())
    finally:
        signals.video_ready.disconnect(on_ready)
        signals.video_failed.disconnect(on_failed)
    assert resp.status_code == 204
    state = _video(app, ticket["video_id"])
    assert state["status"] == VideoStatus.READY and state["current"] == ticket["video_id"]
    assert state["submitted"] is not None
    assert ready == [ticket["video_id"]] and failed == []
    with app.app_context():
        types = [e.event_type for e in db.session.scalars(db.select(AuditEvent))]
    for event in (EventType.UPLOAD_CREATED, EventType.UPLOAD_COMPLETED, EventType.VIDEO_READY):
        assert event in types


def test_a_document_renamed_to_mp4_fails_with_a_reason(app, tus):
    failed = []
    signals.video_failed.connect(failed.append, weak=False)
    try:
        ticket, _, _ = tus.upload(b"%PDF-1.7\n" + b"0" * 5000)
    finally:
        signals.video_failed.disconnect(failed.append)
    state = _video(app, ticket["video_id"])
    assert state["status"] == VideoStatus.ERROR and state["error_code"] == "not_a_video"
    assert state["current"] is None and state["submitted"] is None
    assert len(failed) == 1
    with app.app_context():
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.VIDEO_FAILED)) is not None


@needs_ffmpeg
def test_a_video_longer_than_allowed_is_refused_in_plain_words(app, tus, room, tmp_path):
    room.update_assignment(max_duration_seconds=3)
    long_video = make_sample_video(tmp_path / "long.mp4", seconds=5)
    ticket, _, _ = tus.upload(long_video.read_bytes())
    state = _video(app, ticket["video_id"])
    assert state["status"] == VideoStatus.ERROR and state["error_code"] == "too_long"
    assert "5 s long" in state["msg"] and "up to 3 s" in state["msg"]


def test_replacing_keeps_the_history_and_moves_current_only_when_ready(app, tus, sample_mp4):
    first, _, _ = tus.upload(sample_mp4.read_bytes())
    second, _, _ = tus.upload(b"not a video at all" * 100, filename="oops.mp4")
    assert _video(app, second["video_id"])["status"] == VideoStatus.ERROR
    assert _video(app, second["video_id"])["current"] == first["video_id"]
    third, _, _ = tus.upload(sample_mp4.read_bytes(), filename="final.mp4")
    assert third["attempt"] == 3
    assert _video(app, third["video_id"])["current"] == third["video_id"]
    state = tus.client.get("/api/uploads", headers={"X-LTI-Launch": tus.launch.id}).get_json()
    assert [a["attempt"] for a in state["attempts"]] == [3, 2, 1]
    assert [a["status"] for a in state["attempts"]] == ["ready", "error", "ready"]
    assert [a["is_current"] for a in state["attempts"]] == [True, False, False]


@pytest.mark.parametrize("released, code, graded", [
    (True, "submission_graded", True),
    (False, "submission_in_review", False),  # a held grade is never named to the student
])
def test_a_graded_submission_cannot_be_replaced(app, tus, sample_mp4, released, code, graded):
    tus.upload(sample_mp4.read_bytes())
    with app.app_context():
        submission = db.session.scalar(db.select(Submission))
        submission.graded_at = utcnow()
        submission.released = released
        db.session.commit()
    resp = _start(tus)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == code
    state = tus.client.get("/api/uploads", headers={"X-LTI-Launch": tus.launch.id}).get_json()
    assert state["can_upload"] is False
    assert state["submission"]["graded"] is graded
    said = resp.get_json()["error"]["message"] + state["closed_message"]
    assert ("graded" in said) is graded


def test_a_new_attempt_closes_an_unfinished_one(app, tus):
    first = tus.start(size=100)
    location = tus.create(first["video_id"], 100).headers["Location"]
    tus.patch(location, b"x" * 10, 0)
    tus.start(size=100)
    state = _video(app, first["video_id"])
    assert state["status"] == VideoStatus.ERROR and state["error_code"] == "upload_abandoned"
    assert tus.head(location).status_code == 404
    with app.app_context():
        assert list(app.extensions["lti_tool.storage"].tus_store().names()) == []


def test_a_lost_fingerprint_starts_the_same_attempt_afresh(tus):
    """The browser forgot its upload URL: a new tus upload for the same pending video."""
    ticket = tus.start(size=100)
    old = tus.create(ticket["video_id"], 100).headers["Location"]
    tus.patch(old, b"x" * 10, 0)
    new = tus.create(ticket["video_id"], 100)
    assert new.status_code == 201
    assert tus.head(old).status_code == 404
    assert tus.head(new.headers["Location"]).headers["Upload-Offset"] == "0"


def test_complete_recovers_an_upload_whose_worker_died_after_the_last_byte(app, tus,
                                                                             sample_mp4):
    data = sample_mp4.read_bytes()
    ticket = tus.start(size=len(data))
    location = tus.create(ticket["video_id"], len(data)).headers["Location"]
    with app.app_context():  # all bytes on disk, nothing recorded: the worker was killed
        upload = db.session.scalar(db.select(Upload))
        store = app.extensions["lti_tool.storage"].tus_store()
        store.path(upload.id).write_bytes(data)
    assert tus.head(location).headers["Upload-Offset"] == str(len(data))
    resp = tus.client.post(f"/api/uploads/{ticket['video_id']}/complete",
                           headers={"X-LTI-Launch": tus.launch.id})
    assert resp.status_code == 200 and resp.get_json()["status"] == "ready"
    again = tus.client.post(f"/api/uploads/{ticket['video_id']}/complete",
                            headers={"X-LTI-Launch": tus.launch.id})
    assert again.get_json()["status"] == "ready"


def test_complete_refuses_an_unfinished_upload(tus):
    ticket = tus.start(size=100)
    location = tus.create(ticket["video_id"], 100).headers["Location"]
    tus.patch(location, b"x" * 10, 0)
    resp = tus.client.post(f"/api/uploads/{ticket['video_id']}/complete",
                           headers={"X-LTI-Launch": tus.launch.id})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "upload_incomplete"


def test_status_reports_bytes_received_of_an_unfinished_upload(tus):
    ticket = tus.start(size=100)
    location = tus.create(ticket["video_id"], 100).headers["Location"]
    tus.patch(location, b"x" * 37, 0)
    body = tus.client.get(ticket["status_url"], headers={"X-LTI-Launch": tus.launch.id}).get_json()
    assert body["status"] == "uploading" and body["received_bytes"] == 37
    assert body["final"] is False


def test_the_page_shows_title_limits_and_carries_the_launch(app, client, room):
    room.update_assignment(max_file_bytes=200 * 1024 * 1024, max_duration_seconds=300,
                           instructions="Pitch your idea.")
    launch = room.launch(room.student)
    resp = client.get(f"/assignment?launch={launch.id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Pitch your idea." in html and "200 MB" in html and "MP4" in html
    assert 'role="progressbar"' in html and launch.id in html
    assert "vendor/tus-js-client/tus.min.js" in html
