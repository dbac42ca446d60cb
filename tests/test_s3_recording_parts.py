"""A recording sent to S3 while it records: a multipart upload created without a size, its
parts signed one at a time within the assignment's limit, its size told at completion;
parts PUT over HTTP to moto's S3 server as static/js/recording-upload.js does."""
from __future__ import annotations

import json
import os
import re

import pytest
import requests

from lti_tool.extensions import db
from lti_tool.models import Assignment, Video
from lti_tool.statuses import VideoStatus
from tests.factories import Classroom

from tests.uploading import sample_mp4, video_of  # noqa: F401  (fixtures)

from .s3_server import admin_client, app_config, moto_server, s3_bucket  # noqa: F401

MIB = 1024 * 1024
PART = 5 * MIB


@pytest.fixture
def room(app):
    """Return (student's launch headers, assignment id); no app context stays open."""
    with app.app_context():
        room = Classroom()
        return Classroom.headers(room.launch(room.student)), room.assignment.id


def limit_assignment(app, assignment_id: int, limit: int) -> None:
    with app.app_context():
        db.session.get(Assignment, assignment_id).max_file_bytes = limit
        db.session.commit()


def start_recording(client, headers) -> dict:
    resp = client.post("/api/uploads", json={"filename": "recording.mp4", "size_bytes": None,
                                             "content_type": "video/mp4"}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    ticket = resp.get_json()
    assert ticket["method"] == "multipart" and ticket["chunk_size"] == PART
    return ticket


def base(ticket) -> str:
    return f"/api/uploads/{ticket['video_id']}/multipart"


def sign(client, headers, ticket, number: int, size: int):
    return client.post(base(ticket) + "/sign", json={"part_number": number, "size": size},
                       headers=headers)


def send_part(client, headers, ticket, number: int, data: bytes) -> dict:
    signed = sign(client, headers, ticket, number, len(data))
    assert signed.status_code == 200, signed.get_json()
    [part] = signed.get_json()["parts"]
    resp = requests.put(part["url"], data=data, timeout=30)
    assert resp.status_code == 200, resp.text
    return {"part_number": number, "etag": resp.headers["ETag"]}


def test_a_recording_of_unknown_size_completes_with_its_real_size(app, client, room,
                                                                   moto_server, s3_bucket,
                                                                   video_of):
    headers, _ = room
    data = video_of(2 * PART + 123)
    ticket = start_recording(client, headers)
    with app.app_context():
        assert db.session.get(Video, ticket["video_id"]).size_bytes is None
    parts = [send_part(client, headers, ticket, n + 1, data[n * PART:(n + 1) * PART])
             for n in range(3)]
    listed = client.get(base(ticket) + "/parts", headers=headers).get_json()
    assert listed["size_bytes"] is None
    assert [p["size"] for p in listed["parts"]] == [PART, PART, 123]
    done = client.post(base(ticket) + "/complete",
                       json={"parts": parts, "size_bytes": len(data)}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == VideoStatus.READY
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.size_bytes == len(data)
        assert video.backend_data["size"] == len(data)
        key = video.storage_uid
    assert admin_client(moto_server).get_object(Bucket=s3_bucket, Key=key)["Body"].read() == data


def test_completing_again_answers_the_status_but_a_cancelled_upload_stays_closed(
        app, client, room, video_of):
    """The page asks again when the first answer was lost: the recording is handed in."""
    headers, _ = room
    data = video_of(PART + 10)
    ticket = start_recording(client, headers)
    parts = [send_part(client, headers, ticket, 1, data[:PART]),
             send_part(client, headers, ticket, 2, data[PART:])]
    body = {"parts": parts, "size_bytes": len(data)}
    first = client.post(base(ticket) + "/complete", json=body, headers=headers)
    again = client.post(base(ticket) + "/complete", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == first.get_json()["status"] == VideoStatus.READY
    assert again.get_json()["id"] == ticket["video_id"]
    # Signing or listing parts of it stays closed, and so does completing a cancelled one.
    assert sign(client, headers, ticket, 3, 10).status_code == 409
    cancelled = start_recording(client, headers)
    send_part(client, headers, cancelled, 1, data[:10])
    assert client.post(base(cancelled) + "/abort", headers=headers).status_code == 200
    refused = client.post(base(cancelled) + "/complete", json={"size_bytes": 10},
                          headers=headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "upload_closed"


def test_a_wrong_size_at_completion_is_refused_and_nothing_is_lost(client, room):
    headers, _ = room
    data = os.urandom(PART + 10)
    ticket = start_recording(client, headers)
    parts = [send_part(client, headers, ticket, 1, data[:PART]),
             send_part(client, headers, ticket, 2, data[PART:])]
    resp = client.post(base(ticket) + "/complete",
                       json={"parts": parts, "size_bytes": len(data) + 1}, headers=headers)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "upload_incomplete"
    missing = client.post(base(ticket) + "/complete", json={"parts": parts}, headers=headers)
    assert missing.status_code == 400
    assert missing.get_json()["error"]["code"] == "bad_request"
    listed = client.get(base(ticket) + "/parts", headers=headers).get_json()["parts"]
    assert [p["part_number"] for p in listed] == [1, 2]


def test_parts_past_the_assignments_limit_are_not_signed(app, client, room, moto_server,
                                                         s3_bucket):
    headers, assignment_id = room
    limit_assignment(app, assignment_id, 2 * PART + MIB)
    ticket = start_recording(client, headers)
    send_part(client, headers, ticket, 1, os.urandom(PART))
    send_part(client, headers, ticket, 2, os.urandom(PART))
    # Re-signing a part counts the others, not itself twice; exactly the limit is fine.
    assert sign(client, headers, ticket, 2, PART).status_code == 200
    assert sign(client, headers, ticket, 3, MIB).status_code == 200
    over = sign(client, headers, ticket, 3, MIB + 1)
    assert over.status_code == 413
    assert over.get_json()["error"]["code"] == "upload_too_large"
    assert_ended_too_large(app, client, headers, ticket, moto_server, s3_bucket)


def assert_ended_too_large(app, client, headers, ticket, moto_server, s3_bucket):  # noqa: F811
    """A recording past the limit can only grow: its upload is ended, nothing left open."""
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert (video.status, video.error_code) == (VideoStatus.ERROR, "upload_too_large")
        assert "larger than" in video.error_message
    assert admin_client(moto_server).list_multipart_uploads(
        Bucket=s3_bucket).get("Uploads", []) == []
    again = sign(client, headers, ticket, 3, MIB)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "upload_closed"


def test_a_size_at_completion_past_the_limit_is_refused(app, client, room, moto_server,
                                                        s3_bucket):
    headers, assignment_id = room
    ticket = start_recording(client, headers)
    part = send_part(client, headers, ticket, 1, os.urandom(MIB))
    limit_assignment(app, assignment_id, MIB - 1)  # lowered by the instructor meanwhile
    resp = client.post(base(ticket) + "/complete",
                       json={"parts": [part], "size_bytes": MIB}, headers=headers)
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "upload_too_large"
    assert_ended_too_large(app, client, headers, ticket, moto_server, s3_bucket)


def test_a_part_is_signed_only_after_the_parts_before_it(client, room):
    headers, _ = room
    ticket = start_recording(client, headers)
    early = sign(client, headers, ticket, 2, PART)
    assert early.status_code == 409
    assert early.get_json()["error"]["code"] == "parts_out_of_order"


@pytest.mark.parametrize("body", [{"part_numbers": [1]}, {"part_number": 1},
                                  {"part_number": 1, "size": 0},
                                  {"part_number": 0, "size": 10},
                                  {"part_number": True, "size": 10}])
def test_bad_sign_requests_for_a_recording_get_a_clear_json_error(client, room, body):
    headers, _ = room
    ticket = start_recording(client, headers)
    resp = client.post(base(ticket) + "/sign", json=body, headers=headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] in ("bad_request", "bad_parts")


def test_a_sized_upload_still_signs_in_batches_and_refuses_one_part_bodies(client, room):
    headers, _ = room
    resp = client.post("/api/uploads", json={"filename": "a.mp4", "size_bytes": 9 * MIB,
                                             "content_type": "video/mp4"}, headers=headers)
    ticket = resp.get_json()
    assert client.post(base(ticket) + "/sign", json={"part_numbers": [1, 2]},
                       headers=headers).status_code == 200
    assert sign(client, headers, ticket, 1, PART).status_code == 400


def page_data(client, headers) -> dict:
    """Return the student page's JSON (#page-data) for this launch."""
    html = client.get(f"/assignment?launch={headers['X-LTI-Launch']}").get_data(as_text=True)
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html,
                      re.S)
    assert match, html[:500]
    return json.loads(match.group(1))


def test_the_s3_page_tells_the_recorder_to_send_while_recording(client, room):
    headers, _ = room
    page = page_data(client, headers)
    assert page["upload_method"] == "multipart" and page["upload_while_recording"] is True
