"""Only the student who created an upload may write to it, inspect it or end it.

A PATCH has two doors, the Flask view and the WSGI fast path (lti_tool/tus/fast.py), which
share one ownership function (`tus.uploads.owned_upload`); every PATCH case below marked
`both_doors` runs through each, and checks which door served it.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from lti_tool.extensions import db
from lti_tool.models import LaunchRecord, Upload, utcnow
from lti_tool.tus.protocol import (OFFSET_OCTET_STREAM, STATUS_CHECKSUM_MISMATCH,
                                   TUS_RESUMABLE, TUS_VERSION, UPLOAD_CHECKSUM, UPLOAD_OFFSET)
from tests.tus_doors import app_config, both_doors, doors, tus_fast_patch  # noqa: F401
from tests.uploading import PEOPLE, TusClient, _path, room  # noqa: F401

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


@both_doors
def test_the_owner_writes_a_chunk(client, room, open_upload, doors):
    _, location = open_upload
    owner = TusClient(client, room.launch(room.student))
    with doors.fast_path():
        resp = owner.patch(location, b"y" * 10, 10)
    assert resp.status_code == 204 and resp.headers[UPLOAD_OFFSET] == "20"
    assert "Upload-Expires" in resp.headers
    assert owner.head(location).headers[UPLOAD_OFFSET] == "20"


@both_doors
def test_the_owners_final_patch_finishes_the_upload_in_the_view(client, room, open_upload,
                                                                 doors):
    _, location = open_upload
    owner = TusClient(client, room.launch(room.student))
    with doors.flask_view():  # completion (video checks, signals, audit) is the view's
        resp = owner.patch(location, b"y" * 90, 10)
    assert resp.status_code == 204 and resp.headers[UPLOAD_OFFSET] == "100"
    assert "Upload-Expires" not in resp.headers


@both_doors
@pytest.mark.parametrize("who", STRANGERS)
def test_nobody_else_can_write_inspect_or_end_the_upload(client, room, open_upload, who,
                                                         doors):
    _, location = open_upload
    other = TusClient(client, room.launch_as(who))
    with doors.flask_view():
        assert other.patch(location, b"y" * 10, 10).status_code == 404
    assert other.head(location).status_code == 404
    assert other.delete(location).status_code == 404
    owner = TusClient(client, room.launch(room.student))
    assert owner.head(location).headers[UPLOAD_OFFSET] == "10"


def _expire_launch(app, launch) -> None:
    with app.app_context():
        db.session.get(LaunchRecord, launch.id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


@both_doors
@pytest.mark.parametrize("launch", ["none", "unknown", "expired", "cookie only"])
def test_a_patch_without_a_live_launch_is_refused_and_writes_nothing(app, client, room,
                                                                     open_upload, doors,
                                                                     launch):
    _, location = open_upload
    with doors.flask_view():
        if launch == "cookie only":  # whatever session cookie the client holds
            resp = client.patch(_path(location), data=b"y" * 10, headers={
                TUS_RESUMABLE: TUS_VERSION, UPLOAD_OFFSET: "10",
                "Content-Type": OFFSET_OCTET_STREAM})
        else:
            caller = {"none": "", "unknown": "no-such-launch"}.get(launch)
            if caller is None:
                caller = room.launch(room.student)
                _expire_launch(app, caller)
            resp = TusClient(client, caller).patch(location, b"y" * 10, 10)
    assert resp.status_code in ((401, 403) if launch == "cookie only" else (401,))
    assert TusClient(client, room.launch(room.student)).head(location) \
        .headers[UPLOAD_OFFSET] == "10"


def _finish(app, client, room, location) -> int:
    owner = TusClient(client, room.launch(room.student))
    assert owner.patch(location, b"x" * 90, 10).status_code == 204
    return 100


def _expire_upload(app, client, room, location) -> None:
    with app.app_context():
        upload = db.session.get(Upload, _path(location).rsplit("/", 1)[1])
        upload.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


# case: (headers and offset of the owner's 10-byte PATCH, or a change first; status; code)
BAD_PATCHES = {
    "wrong offset": ({}, 5, None, 409, "tus_offset_mismatch"),
    "offset not a number": ({}, "ten", None, 400, None),
    "other tus version": ({TUS_RESUMABLE: "0.2.2"}, 10, None, 412, None),
    "wrong content type": ({"Content-Type": "text/plain"}, 10, None, 415, None),
    "bad checksum": ({UPLOAD_CHECKSUM: "sha1 " + "A" * 27 + "="}, 10, None,
                     STATUS_CHECKSUM_MISMATCH, "tus_checksum_mismatch"),
    "expired upload": ({}, 10, _expire_upload, 410, "tus_upload_expired"),
    "finished upload": ({}, 100, _finish, 409, "tus_upload_finished"),
}


@both_doors
@pytest.mark.parametrize("case", list(BAD_PATCHES))
def test_the_owners_bad_patch_is_refused_and_writes_nothing(app, client, room, open_upload,
                                                            doors, case):
    headers, offset, change, status, code = BAD_PATCHES[case]
    _, location = open_upload
    held = (change(app, client, room, location) if change else None) or 10
    owner = TusClient(client, room.launch(room.student))
    with doors.flask_view():  # a refusal found under the lock is not counted as served
        resp = owner.patch(location, b"y" * 10, offset, **headers)
    assert resp.status_code == status
    if code:
        assert resp.get_json()["error"]["code"] == code
    if case != "expired upload":
        assert owner.head(location).headers[UPLOAD_OFFSET] == str(held)


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
