"""A graded video cannot be replaced (security issue, finding 6), on every backend.

The attack: the student opens an upload, the instructor grades, the student finishes the
upload. The finishing request is refused (403, `submission_graded`), what the backend
holds for the attempt is removed, the attempt shows the student why, and the graded video
stays the submission's current video. Everything goes over real HTTP: the tool on a live
server, tus to the tool or to a fake Cloudflare Stream, parts to moto's S3 server.
"""
from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from tusclient import client as tus_client

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.models import Assignment, Upload, Video
from lti_tool.statuses import VideoStatus
from lti_tool.storage.local.backend import VIDEOS_DIR, LocalStorage
from lti_tool.tus.store import safe_name
from lti_tool.uploads.attempts import CLOSED_WHILE_UPLOADING
from tests.factories import Classroom, make_launch
from tests.review_fixtures import ready_video

from . import cloudflare_fake as cf
from .cloudflare_fake import fake_stream  # noqa: F401  (fixture)
from .s3_server import admin_client, moto_server, s3_bucket, s3_settings  # noqa: F401

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

MIB = 1024 * 1024
OCTETS = "application/offset+octet-stream"


@pytest.fixture
def room(app, live_server):
    """A student whose first video is ready, and the instructor; ids and headers only."""
    with app.app_context():
        classroom = Classroom()
        graded = ready_video(classroom)
        student = classroom.launch(classroom.student)
        instructor = make_launch(classroom.instructor, classroom.course, classroom.assignment,
                                 Role.INSTRUCTOR)
        return SimpleNamespace(
            url=live_server.url, graded_video_id=graded.id, student_id=classroom.student.id,
            assignment_id=classroom.assignment.id,
            student={"X-LTI-Launch": student.id, "Accept": "application/json"},
            instructor={"X-LTI-Launch": instructor.id, "Accept": "application/json"})


def start(room, size: int) -> dict:
    """Open a new attempt as the page does."""
    resp = requests.post(f"{room.url}/api/uploads", json={
        "filename": "better-take.mp4", "size_bytes": size, "content_type": "video/mp4"},
        headers=room.student, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()


def close_submission(app, room, how: str) -> str:
    """Grade the submission (as the instructor, over HTTP) or lock the assignment; return
    the refusal code the student will get."""
    if how == "graded":
        resp = requests.post(f"{room.url}/review/students/{room.student_id}/grade",
                             json={"score": 8, "feedback": "Good"}, headers=room.instructor,
                             timeout=30)
        assert resp.status_code == 200, resp.text
        return "submission_graded"
    with app.app_context():
        db.session.get(Assignment, room.assignment_id).locked = True
        db.session.commit()
    return "assignment_locked"


def assert_refused(resp, code: str) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["message"] == CLOSED_WHILE_UPLOADING[code]


def assert_graded_video_kept(app, room, new_video_id: int, code: str) -> None:
    """The graded video is still current; the new attempt is an error the student reads."""
    with app.app_context():
        new = db.session.get(Video, new_video_id)
        assert new.submission.current_video_id == room.graded_video_id
        assert new.status == VideoStatus.ERROR
        assert (new.error_code, new.error_message) == (code, CLOSED_WHILE_UPLOADING[code])
        assert db.session.scalar(db.select(Upload).filter_by(video_id=new.id)) is None
    state = requests.get(f"{room.url}/api/uploads", headers=room.student, timeout=30).json()
    assert state["submission"]["current_video_id"] == room.graded_video_id
    shown = {a["id"]: a for a in state["attempts"]}[new_video_id]
    assert shown["error_message"] == CLOSED_WHILE_UPLOADING[code]
    assert not shown["is_current"]


# ---- local storage: our own tus endpoint ---------------------------------------------------------

@pytest.mark.parametrize("how", ["graded", "locked"])
def test_local_the_last_tus_patch_after_grading_is_refused(app, room, how):
    data = os.urandom(3 * MIB)
    ticket = start(room, len(data))
    meta = "video_id " + base64.b64encode(str(ticket["video_id"]).encode()).decode()
    tus = {**room.student, "Tus-Resumable": "1.0.0"}
    created = requests.post(f"{room.url}/tus/", timeout=30, headers={
        **tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
    assert created.status_code == 201
    first = requests.patch(created.headers["Location"], data=data[:MIB], timeout=30,
                           headers={**tus, "Content-Type": OCTETS, "Upload-Offset": "0"})
    assert first.status_code == 204
    code = close_submission(app, room, how)
    last = requests.patch(created.headers["Location"], data=data[MIB:], timeout=30,
                          headers={**tus, "Content-Type": OCTETS, "Upload-Offset": str(MIB)})
    assert_refused(last, code)
    assert_graded_video_kept(app, room, ticket["video_id"], code)
    with app.app_context():
        uid = db.session.get(Video, ticket["video_id"]).storage_uid
    root = Path(app.config["LOCAL_STORAGE_DIR"])
    assert not (root / VIDEOS_DIR / safe_name(uid)).exists()  # the received bytes are gone
    assert list(LocalStorage(app.config).tus_store().names()) == []


def test_local_an_upload_finished_before_grading_still_becomes_current(app, room):
    """The check is about timing: an upload that finished while open is taken as before."""
    data = os.urandom(MIB)
    ticket = start(room, len(data))
    client = tus_client.TusClient(f"{room.url}/tus/", headers={"X-LTI-Launch":
                                                                room.student["X-LTI-Launch"]})
    client.uploader(file_stream=io.BytesIO(data), chunk_size=len(data),
                    metadata={"video_id": str(ticket["video_id"])}).upload()
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.uploaded_at is not None
        assert video.error_code != "submission_graded"


# ---- S3: parts to the bucket, then complete ------------------------------------------------------

class TestS3:
    @pytest.fixture
    def app_config(self, app_config, moto_server, s3_bucket):
        app_config.update(s3_settings(moto_server, s3_bucket))
        return app_config

    def test_completing_the_parts_after_grading_is_refused(self, app, room, moto_server,
                                                           s3_bucket):
        data = os.urandom(9 * MIB)
        ticket = start(room, len(data))
        assert ticket["method"] == "multipart"
        api = f"{room.url}/api/uploads/{ticket['video_id']}/multipart"
        count = -(-len(data) // ticket["chunk_size"])
        signed = requests.post(api + "/sign", json={"part_numbers": list(range(1, count + 1))},
                               headers=room.student, timeout=30)
        assert signed.status_code == 200, signed.text
        parts = []
        for part in signed.json()["parts"]:
            n, size = part["part_number"], ticket["chunk_size"]
            put = requests.put(part["url"], data=data[(n - 1) * size: n * size], timeout=60)
            assert put.status_code == 200
            parts.append({"part_number": n, "etag": put.headers["ETag"]})
        code = close_submission(app, room, "graded")
        done = requests.post(api + "/complete", json={"parts": parts}, headers=room.student,
                             timeout=60)
        assert_refused(done, code)
        assert_graded_video_kept(app, room, ticket["video_id"], code)
        s3 = admin_client(moto_server)
        assert s3.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0
        assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


# ---- Cloudflare Stream: tus to Stream, then complete or the webhook ------------------------------

class TestCloudflare:
    @pytest.fixture
    def app_config(self, app_config, fake_stream):
        app_config.update(cf.settings(CLOUDFLARE_API_BASE=fake_stream.api_base))
        return app_config

    @staticmethod
    def upload_to_stream(ticket, data: bytes) -> None:
        uploader = tus_client.TusClient(ticket["endpoint"]).uploader(
            file_stream=io.BytesIO(data), url=ticket["endpoint"],
            chunk_size=ticket["chunk_size"] or len(data))
        uploader.upload()

    @staticmethod
    def webhook(room, uid: str) -> requests.Response:
        body = json.dumps(cf.video_body(uid)).encode()
        return requests.post(f"{room.url}/webhooks/cloudflare-stream", data=body, timeout=30,
                             headers={"Webhook-Signature": cf.sign_webhook(body)})

    def test_complete_after_grading_is_refused(self, app, room, fake_stream):
        data = os.urandom(2 * MIB)
        ticket = start(room, len(data))
        (uid,) = fake_stream.videos
        self.upload_to_stream(ticket, data)
        code = close_submission(app, room, "graded")
        done = requests.post(room.url + ticket["complete_url"], headers=room.student, timeout=30)
        assert_refused(done, code)
        assert_graded_video_kept(app, room, ticket["video_id"], code)
        assert uid not in fake_stream.videos  # deleted from Stream
        assert self.webhook(room, uid).status_code == 200  # a late webhook changes nothing
        assert_graded_video_kept(app, room, ticket["video_id"], code)

    def test_the_ready_webhook_after_grading_adds_nothing(self, app, room, fake_stream):
        data = os.urandom(2 * MIB)
        ticket = start(room, len(data))
        (uid,) = fake_stream.videos
        self.upload_to_stream(ticket, data)
        code = close_submission(app, room, "graded")
        assert self.webhook(room, uid).status_code == 200
        assert_graded_video_kept(app, room, ticket["video_id"], code)
        assert uid not in fake_stream.videos

    def test_a_video_still_processing_when_graded_never_becomes_current(self, app, room,
                                                                         fake_stream):
        data = os.urandom(2 * MIB)
        ticket = start(room, len(data))
        (uid,) = fake_stream.videos
        self.upload_to_stream(ticket, data[:MIB])  # Stream still waits for bytes: processing
        done = requests.post(room.url + ticket["complete_url"], headers=room.student, timeout=30)
        assert done.status_code == 200 and done.json()["status"] == VideoStatus.PROCESSING
        code = close_submission(app, room, "graded")
        assert self.webhook(room, uid).status_code == 200
        assert_graded_video_kept(app, room, ticket["video_id"], code)
        assert uid not in fake_stream.videos
