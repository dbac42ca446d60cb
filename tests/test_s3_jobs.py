"""The stale multipart job against moto's S3 server: old uploads aborted, attempts closed."""
from __future__ import annotations

import os

import pytest
import requests

from lti_tool.extensions import db
from lti_tool.models import Video
from lti_tool.statuses import VideoStatus
from lti_tool.storage.jobs import expire_unfinished_uploads

from .s3_server import admin_client, app_config, moto_server, s3_bucket, student  # noqa: F401

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

MIB = 1024 * 1024


def test_stale_upload_is_aborted_and_its_attempt_closed(app, client, student, moto_server,
                                                        s3_bucket):
    data = os.urandom(9 * MIB)
    ticket = client.post("/api/uploads", json={"filename": "a.mp4", "size_bytes": len(data)},
                         headers=student).get_json()
    signed = client.post(f"/api/uploads/{ticket['video_id']}/multipart/sign",
                         json={"part_numbers": [1]}, headers=student).get_json()
    requests.put(signed["parts"][0]["url"], data=data[:8 * MIB], timeout=30)
    # An upload of another application under another prefix is not ours to abort.
    admin = admin_client(moto_server)
    admin.create_multipart_upload(Bucket=s3_bucket, Key="backups/db.tar")
    with app.app_context():
        # moto dates every upload 2010-11-10, so it is older than the 48 hours allowed.
        assert expire_unfinished_uploads() == 1
        video = db.session.get(Video, ticket["video_id"])
        assert video.status == VideoStatus.ERROR and video.error_code == "upload_expired"
        assert "expired" in video.error_message
        assert expire_unfinished_uploads() == 0
    remaining = [u["Key"] for u in admin.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]]
    assert remaining == ["backups/db.tar"]


def test_job_does_nothing_without_a_bucket(app):
    app.config["S3_BUCKET"] = ""
    with app.app_context():
        assert expire_unfinished_uploads() == 0
