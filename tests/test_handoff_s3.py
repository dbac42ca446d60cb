"""The phone hand-off on S3: the phone's launch signs and completes its parts like the
student page does, and the desktop sees the attempt submitted."""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.models import Video
from lti_tool.statuses import VideoStatus
from tests.factories import Classroom
from tests.test_s3_multipart_api import MIB, base, send_parts
from tests.uploading import sample_mp4, video_of  # noqa: F401  (fixtures)

from .s3_server import admin_client, app_config, moto_server, s3_bucket  # noqa: F401


@pytest.fixture
def student(app):
    with app.app_context():
        room = Classroom()
        return Classroom.headers(room.launch(room.student)), room.student.id


def test_the_phone_uploads_in_parts_and_the_desktop_sees_it(app, client, student, moto_server,
                                                            s3_bucket, video_of):
    desktop, student_id = student
    made = client.post("/api/handoff", json={}, headers=desktop).get_json()
    claim = client.post("/api/handoff/claim", json={"code": made["code"]}).get_json()
    assert claim["upload_method"] == "multipart"
    phone = {"X-LTI-Launch": claim["claim"]}
    data = video_of(9 * MIB + 7)
    start = client.post("/api/handoff/phone/uploads", headers=phone, json={
        "filename": "phone.mp4", "size_bytes": len(data), "content_type": "video/mp4"})
    assert start.status_code == 201, start.get_json()
    ticket = start.get_json()
    assert ticket["method"] == "multipart"
    assert ticket["complete_url"].endswith(f"/api/uploads/{ticket['video_id']}/complete")
    parts = send_parts(client, phone, ticket, data)
    done = client.post(base(ticket) + "/complete", json={"parts": parts}, headers=phone)
    assert done.status_code == 200, done.get_json()
    finished = client.post(ticket["finish_url"], headers=phone)
    assert finished.status_code == 200 and finished.get_json()["status"] == VideoStatus.READY
    follow = client.get(made["status_url"], headers=desktop).get_json()
    assert follow["state"] == "done" and follow["video"]["status"] == VideoStatus.READY
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.submission.user_id == student_id
        assert video.submission.current_video_id == video.id
