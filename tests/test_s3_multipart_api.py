"""The browser's S3 multipart flow through the tool's JSON API, with parts PUT over HTTP to
moto's S3 server exactly as static/js/transport-multipart.js does."""
from __future__ import annotations

import os

import pytest
import requests

from lti_tool import signals
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Video
from lti_tool.statuses import VideoStatus
from tests.factories import Classroom

from tests.uploading import sample_mp4, video_of  # noqa: F401  (fixtures)

from .s3_server import admin_client, app_config, moto_server, s3_bucket  # noqa: F401

MIB = 1024 * 1024


@pytest.fixture
def people(app):
    """Return launch headers by role; no app context stays open (requests get their own)."""
    with app.app_context():
        room = Classroom()
        return {who: Classroom.headers(room.launch(getattr(room, who)))
                for who in ("student", "other_student", "instructor", "ta")}


@pytest.fixture
def student(people):
    return people["student"]


def start_upload(client, headers, data: bytes, name="pitch.mp4"):
    resp = client.post("/api/uploads", json={"filename": name, "size_bytes": len(data),
                                             "content_type": "video/mp4"}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    ticket = resp.get_json()
    assert ticket["method"] == "multipart"
    return ticket


def base(ticket) -> str:
    return f"/api/uploads/{ticket['video_id']}/multipart"


def send_parts(client, headers, ticket, data: bytes, numbers=None) -> list[dict]:
    """Sign parts in one batch and PUT them to the bucket; return [{part_number, etag}]."""
    size = ticket["chunk_size"]
    count = -(-len(data) // size)
    numbers = numbers or list(range(1, count + 1))
    signed = client.post(base(ticket) + "/sign", json={"part_numbers": numbers},
                         headers=headers)
    assert signed.status_code == 200, signed.get_json()
    done = []
    for part in signed.get_json()["parts"]:
        n = part["part_number"]
        resp = requests.put(part["url"], data=data[(n - 1) * size: n * size], timeout=30)
        assert resp.status_code == 200
        done.append({"part_number": n, "etag": resp.headers["ETag"]})
    return done


def test_student_uploads_in_parts_and_the_video_becomes_ready(app, client, student,
                                                               moto_server, s3_bucket,
                                                               video_of):
    data = video_of(17 * MIB + 99)
    ready = []

    def record(video):  # the id: the processing job's session is gone once it returns
        ready.append(video.id)

    signals.video_ready.connect(record, weak=False)
    try:
        ticket = start_upload(client, student, data)
        assert ticket["chunk_size"] == 8 * MIB and ticket["endpoint"] is None
        parts = send_parts(client, student, ticket, data)
        with app.app_context():
            assert db.session.get(Video, ticket["video_id"]).status == VideoStatus.UPLOADING
        done = client.post(base(ticket) + "/complete", json={"parts": parts}, headers=student)
        assert done.status_code == 200, done.get_json()
        assert done.get_json()["status"] == VideoStatus.READY
        # The uploader then calls the generic complete endpoint: nothing changes, nothing fires twice.
        again = client.post(ticket["complete_url"], headers=student)
        assert again.status_code == 200 and again.get_json()["status"] == VideoStatus.READY
    finally:
        signals.video_ready.disconnect(record)
    assert ready == [ticket["video_id"]]
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.size_bytes == len(data)
        assert video.submission.current_video_id == video.id
        key = video.storage_uid
    stored = admin_client(moto_server).get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert stored == data


def test_reloaded_page_lists_parts_and_finishes_the_rest(client, student, video_of):
    data = video_of(17 * MIB)
    ticket = start_upload(client, student, data)
    first = send_parts(client, student, ticket, data, numbers=[1])
    listed = client.get(base(ticket) + "/parts", headers=student).get_json()
    assert listed["part_size"] == 8 * MIB and listed["part_count"] == 3
    assert listed["size_bytes"] == len(data)
    assert [(p["part_number"], p["etag"]) for p in listed["parts"]] == [
        (1, first[0]["etag"])]
    rest = send_parts(client, student, ticket, data, numbers=[2, 3])
    done = client.post(base(ticket) + "/complete", json={"parts": first + rest},
                       headers=student)
    assert done.get_json()["status"] == VideoStatus.READY


def test_complete_with_a_missing_part_is_refused_and_nothing_is_lost(client, student):
    data = os.urandom(17 * MIB)
    ticket = start_upload(client, student, data)
    send_parts(client, student, ticket, data, numbers=[1, 3])
    resp = client.post(base(ticket) + "/complete", json={"parts": []}, headers=student)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "upload_incomplete"
    listed = client.get(base(ticket) + "/parts", headers=student).get_json()["parts"]
    assert [p["part_number"] for p in listed] == [1, 3]


def test_abort_cancels_the_attempt_and_frees_the_parts(app, client, student, moto_server,
                                                       s3_bucket):
    data = os.urandom(9 * MIB)
    ticket = start_upload(client, student, data)
    send_parts(client, student, ticket, data, numbers=[1])
    resp = client.post(base(ticket) + "/abort", headers=student)
    assert resp.status_code == 200 and resp.get_json()["status"] == VideoStatus.DELETED
    assert "Uploads" not in admin_client(moto_server).list_multipart_uploads(Bucket=s3_bucket)
    closed = client.post(base(ticket) + "/sign", json={"part_numbers": [1]}, headers=student)
    assert closed.status_code == 409
    with app.app_context():
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type="upload_deleted", target_id=str(ticket["video_id"]))) is not None


@pytest.mark.parametrize("who, status", [("other_student", 404), ("instructor", 403),
                                         ("ta", 403)])
def test_only_the_owner_may_touch_the_upload(client, people, student, who, status):
    data = os.urandom(MIB)
    ticket = start_upload(client, student, data)
    headers = people[who]
    for method, path, body in [("post", "/sign", {"part_numbers": [1]}), ("get", "/parts", None),
                               ("post", "/complete", {"parts": []}), ("post", "/abort", None)]:
        resp = getattr(client, method)(base(ticket) + path, json=body, headers=headers)
        assert resp.status_code == status, (who, path)
        assert "url" not in resp.get_data(as_text=True)


def test_without_a_launch_nothing_is_signed(client, student):
    ticket = start_upload(client, student, os.urandom(MIB))
    resp = client.post(base(ticket) + "/sign", json={"part_numbers": [1]})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("body", [None, {}, {"part_numbers": "1"}, {"part_numbers": [0]},
                                  {"part_numbers": [1, 99]}, {"part_numbers": ["x"]}])
def test_bad_sign_requests_get_a_clear_json_error(client, student, body):
    ticket = start_upload(client, student, os.urandom(MIB))
    resp = client.post(base(ticket) + "/sign", json=body, headers=student)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"]


def test_a_video_of_another_backend_takes_no_parts(app, client, student):
    ticket = start_upload(client, student, os.urandom(MIB))
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        video.backend_data = None
        db.session.commit()
    resp = client.get(base(ticket) + "/parts", headers=student)
    assert resp.status_code == 404


def test_playback_of_the_finished_upload_serves_ranges(client, people, student, video_of):
    data = video_of(9 * MIB)
    ticket = start_upload(client, student, data)
    parts = send_parts(client, student, ticket, data)
    client.post(base(ticket) + "/complete", json={"parts": parts}, headers=student)
    grant = client.get(f"/api/videos/{ticket['video_id']}/playback",
                       headers=people["instructor"])
    assert grant.status_code == 200
    url = grant.get_json()["url"]
    resp = requests.get(url, headers={"Range": "bytes=0-1023"}, timeout=30)
    assert resp.status_code == 206 and resp.content == data[:1024]


def attempt(client, headers, video_id) -> dict:
    state = client.get("/api/uploads", headers=headers).get_json()
    return next(a for a in state["attempts"] if a["id"] == video_id)


def test_an_unfinished_upload_reports_the_bytes_its_stored_parts_hold(client, student):
    """The resume offer's "x % arrived" comes from the parts S3 already holds."""
    data = os.urandom(17 * MIB)
    ticket = start_upload(client, student, data)
    assert attempt(client, student, ticket["video_id"])["received_bytes"] == 0
    send_parts(client, student, ticket, data, numbers=[2])
    assert attempt(client, student, ticket["video_id"])["received_bytes"] == 8 * MIB
    send_parts(client, student, ticket, data, numbers=[3])
    status = client.get(f"/api/videos/{ticket['video_id']}/status", headers=student).get_json()
    assert status["received_bytes"] == 8 * MIB + 1 * MIB
    parts = send_parts(client, student, ticket, data, numbers=[1])
    done = client.post(base(ticket) + "/complete", json={"parts": parts}, headers=student)
    assert done.get_json()["received_bytes"] is None  # finished: nothing left to resume
