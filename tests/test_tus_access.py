"""Only the student who created an upload may write to it, inspect it or end it."""
from __future__ import annotations

import pytest

from lti_tool.tus.protocol import UPLOAD_OFFSET
from tests.uploading import PEOPLE, TusClient, room  # noqa: F401

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

STRANGERS = [p for p in PEOPLE if p != "student"]


@pytest.fixture
def open_upload(client, room):
    """The student's upload with 10 of 100 bytes in; returns (video id, location)."""
    tus = TusClient(client, room.launch(room.student))
    ticket = tus.start(size=100)
    location = tus.create(ticket["video_id"], 100).headers["Location"]
    assert tus.patch(location, b"x" * 10, 0).status_code == 204
    return ticket["video_id"], location


@pytest.mark.parametrize("who", STRANGERS)
def test_nobody_else_can_create_an_upload_for_the_students_video(client, room, open_upload,
                                                                 who):
    video_id, _ = open_upload
    other = TusClient(client, room.launch_as(who))
    assert other.create(video_id, 100).status_code == 404


@pytest.mark.parametrize("who", STRANGERS)
def test_nobody_else_can_write_inspect_or_end_the_upload(client, room, open_upload, who):
    _, location = open_upload
    other = TusClient(client, room.launch_as(who))
    assert other.patch(location, b"y" * 10, 10).status_code == 404
    assert other.head(location).status_code == 404
    assert other.delete(location).status_code == 404
    owner = TusClient(client, room.launch(room.student))
    assert owner.head(location).headers[UPLOAD_OFFSET] == "10"


def test_without_a_launch_every_tus_request_is_401(client, open_upload):
    _, location = open_upload
    anonymous = TusClient(client, None)
    anonymous.launch = type("NoLaunch", (), {"id": ""})()
    assert anonymous.create(1, 100).status_code == 401
    assert anonymous.patch(location, b"y", 10).status_code == 401
    assert anonymous.head(location).status_code == 401
    assert anonymous.delete(location).status_code == 401


@pytest.mark.parametrize("who", ["instructor", "ta", "admin"])
def test_only_learners_start_attempts(client, room, who):
    resp = client.post("/api/uploads", json={"filename": "a.mp4", "size_bytes": 10},
                       headers={"X-LTI-Launch": room.launch_as(who).id})
    assert resp.status_code == 403


@pytest.mark.parametrize("who", STRANGERS)
def test_nobody_else_can_complete_the_students_attempt(client, room, open_upload, who):
    video_id, _ = open_upload
    resp = client.post(f"/api/uploads/{video_id}/complete",
                       headers={"X-LTI-Launch": room.launch_as(who).id})
    assert resp.status_code in (403, 404)
