"""The tus 1.0.0 endpoint through the Flask test client: the protocol and each of its errors."""
from __future__ import annotations

import base64
import hashlib
import os
from datetime import timedelta

import pytest
from werkzeug.http import parse_date

from lti_tool.extensions import db
from lti_tool.models import Upload, Video, utcnow
from lti_tool.statuses import VideoStatus
from lti_tool.storage import current_storage
from lti_tool.storage.jobs import expire_unfinished_uploads
from lti_tool.tus.protocol import (OFFSET_OCTET_STREAM, TUS_CHECKSUM_ALGORITHM, TUS_EXTENSION,
                                   TUS_MAX_SIZE, TUS_RESUMABLE, TUS_VERSION, TUS_VERSION_HEADER,
                                   UPLOAD_CHECKSUM, UPLOAD_EXPIRES, UPLOAD_LENGTH, UPLOAD_METADATA,
                                   UPLOAD_OFFSET)
from tests.uploading import TusClient, b64, room, sample_mp4, tus_headers  # noqa: F401

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


@pytest.fixture
def student_tus(client, room):
    return TusClient(client, room.launch(room.student))


def _sha1(data: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()


def test_options_advertises_version_extensions_size_and_checksum(client, app):
    resp = client.options("/tus/")
    assert resp.status_code == 204
    assert resp.headers[TUS_VERSION_HEADER] == TUS_VERSION
    assert resp.headers[TUS_RESUMABLE] == TUS_VERSION
    assert set(resp.headers[TUS_EXTENSION].split(",")) == {
        "creation", "creation-with-upload", "creation-defer-length", "termination",
        "expiration", "checksum"}
    assert resp.headers[TUS_MAX_SIZE] == str(app.config["MAX_UPLOAD_BYTES"])
    assert resp.headers[TUS_CHECKSUM_ALGORITHM] == "sha1"


def test_wrong_or_missing_version_is_412(client, room):
    launch = room.launch(room.student)
    for version in ("0.2.2", None):
        headers = {"X-LTI-Launch": launch.id, UPLOAD_LENGTH: "10"}
        if version:
            headers[TUS_RESUMABLE] = version
        resp = client.post("/tus/", headers=headers)
        assert resp.status_code == 412
        assert resp.headers[TUS_VERSION_HEADER] == TUS_VERSION


def test_create_patch_head_round_trip(app, student_tus, sample_mp4):
    data = sample_mp4.read_bytes()
    ticket = student_tus.start(size=len(data))
    created = student_tus.create(ticket["video_id"], len(data))
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location.startswith("http://localhost/tus/")
    expires = parse_date(created.headers[UPLOAD_EXPIRES])
    assert timedelta(hours=47) < expires - utcnow() <= timedelta(hours=48)

    head = student_tus.head(location)
    assert head.status_code == 200
    assert head.headers[UPLOAD_OFFSET] == "0"
    assert head.headers[UPLOAD_LENGTH] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert "video_id" in head.headers[UPLOAD_METADATA]

    half = len(data) // 2
    first = student_tus.patch(location, data[:half], 0)
    assert first.status_code == 204
    assert first.headers[UPLOAD_OFFSET] == str(half)
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == str(half)
    with app.app_context():
        assert db.session.get(Video, ticket["video_id"]).status == VideoStatus.UPLOADING

    last = student_tus.patch(location, data[half:], half)
    assert last.status_code == 204
    assert last.headers[UPLOAD_OFFSET] == str(len(data))
    assert "Upload-Offset" in last.headers["Access-Control-Expose-Headers"]
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.status == VideoStatus.READY
        assert video.submission.current_video_id == video.id
        assert video.submission.submitted_at is not None
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == str(len(data))


def test_creation_with_upload_takes_the_first_bytes(student_tus, sample_mp4):
    data = sample_mp4.read_bytes()
    ticket = student_tus.start(size=len(data))
    created = student_tus.create(ticket["video_id"], len(data), body=data[:1000])
    assert created.status_code == 201
    assert created.headers[UPLOAD_OFFSET] == "1000"
    resp = student_tus.patch(created.headers["Location"], data[1000:], 1000)
    assert resp.headers[UPLOAD_OFFSET] == str(len(data))


def test_offset_mismatch_is_409_and_writes_nothing(student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    assert student_tus.patch(location, b"x" * 10, 0).status_code == 204
    resp = student_tus.patch(location, b"y" * 10, 0)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "tus_offset_mismatch"
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == "10"


def test_patch_needs_the_offset_octet_stream_type(student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    resp = student_tus.patch(location, b"x" * 10, 0, **{"Content-Type": "application/json"})
    assert resp.status_code == 415
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == "0"


@pytest.mark.parametrize("headers", [
    {UPLOAD_LENGTH: "-5"}, {UPLOAD_LENGTH: "ten"}, {UPLOAD_LENGTH: ""},
    {UPLOAD_METADATA: "video_id !!notbase64!!"}, {UPLOAD_METADATA: "filename eA=="},
    {UPLOAD_METADATA: "video_id MQ==,video_id Mg=="},
])
def test_bad_creation_headers_are_400(client, room, headers):
    launch = room.launch(room.student)
    h = tus_headers(launch, **{UPLOAD_LENGTH: "10", UPLOAD_METADATA: f"video_id {b64('1')}"})
    h.update(headers)
    resp = client.post("/tus/", headers=h)
    assert resp.status_code == 400, resp.get_json()


def test_deferred_length_together_with_a_length_or_not_1_is_400(client, room):
    launch = room.launch(room.student)
    for extra in ({"Upload-Defer-Length": "1", UPLOAD_LENGTH: "10"},
                  {"Upload-Defer-Length": "2"}):
        resp = client.post("/tus/", headers=tus_headers(launch, **extra))
        assert resp.status_code == 400


def test_bad_patch_offset_header_is_400(student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    resp = student_tus.client.patch(location.replace("http://localhost", ""), data=b"x",
                                    headers=tus_headers(student_tus.launch, **{
                                        "Content-Type": OFFSET_OCTET_STREAM,
                                        UPLOAD_OFFSET: "abc"}))
    assert resp.status_code == 400


def test_length_over_the_site_limit_is_413_before_any_byte(app, student_tus):
    ticket = student_tus.start(size=100)
    resp = student_tus.create(ticket["video_id"], app.config["MAX_UPLOAD_BYTES"] + 1)
    assert resp.status_code == 413
    with app.app_context():
        assert db.session.scalar(db.select(Upload)) is None


def test_length_over_the_assignment_limit_is_413(app, student_tus, room):
    room.update_assignment(max_file_bytes=500)
    ticket = student_tus.start(size=400)
    assert student_tus.create(ticket["video_id"], 501).status_code == 413
    assert student_tus.create(ticket["video_id"], 500).status_code == 201


def test_body_beyond_upload_length_is_413(student_tus):
    ticket = student_tus.start(size=10)
    location = student_tus.create(ticket["video_id"], 10).headers["Location"]
    resp = student_tus.patch(location, b"x" * 11, 0)
    assert resp.status_code == 413
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == "0"


def test_checksum_match_is_kept_and_mismatch_is_460_and_discarded(student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    ok = student_tus.patch(location, b"a" * 40, 0, **{UPLOAD_CHECKSUM: _sha1(b"a" * 40)})
    assert ok.status_code == 204 and ok.headers[UPLOAD_OFFSET] == "40"
    bad = student_tus.patch(location, b"b" * 40, 40, **{UPLOAD_CHECKSUM: _sha1(b"c" * 40)})
    assert bad.status_code == 460
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == "40"


@pytest.mark.parametrize("value", ["md5 " + base64.b64encode(b"0" * 16).decode(),
                                   "sha1 ***", "sha1"])
def test_unsupported_or_malformed_checksum_is_400(student_tus, value):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    resp = student_tus.patch(location, b"a" * 10, 0, **{UPLOAD_CHECKSUM: value})
    assert resp.status_code == 400
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == "0"


def test_unknown_upload_is_404(student_tus):
    assert student_tus.head("/tus/no-such-upload").status_code == 404
    assert student_tus.patch("/tus/no-such-upload", b"x", 0).status_code == 404


def test_a_patch_racing_the_completing_one_sees_it_complete_not_gone(app, student_tus,
                                                                     sample_mp4):
    """The completing PATCH moves the file into place before the database records it; a
    PATCH arriving in between gets 409 (not 410), and HEAD says the upload is complete."""
    data = sample_mp4.read_bytes()
    ticket = student_tus.start(size=len(data))
    location = student_tus.create(ticket["video_id"], len(data)).headers["Location"]
    assert student_tus.patch(location, data, 0).status_code == 204
    with app.app_context():  # back to the moment between the move and the record
        upload = db.session.scalar(db.select(Upload))
        upload.completed_at = None
        db.session.commit()
    racing = student_tus.patch(location, data[-10:], len(data) - 10)
    assert racing.status_code == 409, racing.get_data(as_text=True)
    head = student_tus.head(location)
    assert head.status_code == 200 and head.headers[UPLOAD_OFFSET] == str(len(data))


def test_expired_upload_is_410_and_the_job_removes_it(app, student_tus):
    from lti_tool.storage.jobs import expire_unfinished_uploads
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    student_tus.patch(location, b"x" * 10, 0)
    with app.app_context():
        upload = db.session.scalar(db.select(Upload))
        upload.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        part = app.extensions["lti_tool.storage"].tus_store().path(upload.id)
        assert part.exists()
    assert student_tus.head(location).status_code == 410
    assert student_tus.patch(location, b"x", 10).status_code == 410
    with app.app_context():
        assert expire_unfinished_uploads() == 1
        assert not part.exists()
        video = db.session.get(Video, ticket["video_id"])
        assert video.status == VideoStatus.ERROR and video.error_code == "upload_expired"
        assert list(app.extensions["lti_tool.storage"].list_objects()) == []
        assert expire_unfinished_uploads() == 0  # safe to run twice
    assert student_tus.head(location).status_code == 404


def test_finished_uploads_are_forgotten_after_the_expiry_window(app, student_tus,
                                                                sample_mp4):
    from lti_tool.storage.jobs import expire_unfinished_uploads
    _, location, _ = student_tus.upload(sample_mp4.read_bytes())
    with app.app_context():
        expire_unfinished_uploads()
        upload = db.session.scalar(db.select(Upload))
        assert upload is not None  # still answers HEAD for now
        upload.completed_at = utcnow() - timedelta(hours=49)
        db.session.commit()
        expire_unfinished_uploads()
        assert db.session.scalar(db.select(Upload)) is None
    assert student_tus.head(location).status_code == 404


def test_patch_extends_the_expiry(app, student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    with app.app_context():
        upload = db.session.scalar(db.select(Upload))
        upload.expires_at = utcnow() + timedelta(minutes=5)
        db.session.commit()
    resp = student_tus.patch(location, b"x" * 10, 0)
    assert parse_date(resp.headers[UPLOAD_EXPIRES]) - utcnow() > timedelta(hours=47)


def test_termination_frees_the_upload(app, student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    student_tus.patch(location, b"x" * 10, 0)
    assert student_tus.delete(location).status_code == 204
    assert student_tus.head(location).status_code == 404
    with app.app_context():
        assert db.session.get(Video, ticket["video_id"]).status == VideoStatus.DELETED
        store = app.extensions["lti_tool.storage"].tus_store()
        assert list(store.names()) == []


def test_finished_upload_cannot_be_terminated(student_tus, sample_mp4):
    _, location, resp = student_tus.upload(sample_mp4.read_bytes())
    assert resp.status_code == 204
    assert student_tus.delete(location).status_code == 409


def test_a_second_writer_gets_423_while_the_first_holds_the_lock(app, student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    with app.app_context():
        upload = db.session.scalar(db.select(Upload))
        store = app.extensions["lti_tool.storage"].tus_store()
        with store.locked(upload.id):
            resp = student_tus.patch(location, b"x" * 10, 0)
    assert resp.status_code == 423
    assert student_tus.patch(location, b"x" * 10, 0).status_code == 204


def test_upload_files_are_named_by_hash_never_by_id(app, student_tus):
    ticket = student_tus.start(size=100)
    location = student_tus.create(ticket["video_id"], 100).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    with app.app_context():
        store = app.extensions["lti_tool.storage"].tus_store()
        names = [n for n, _ in store.names()]
    assert names == [hashlib.sha256(upload_id.encode()).hexdigest()]
    assert len(upload_id) >= 32


def test_a_dropped_connection_keeps_the_bytes_already_written(app, student_tus):
    """The body ends early (client gone): what arrived stays, HEAD reports it."""
    ticket = student_tus.start(size=3 * 1024 * 1024)
    location = student_tus.create(ticket["video_id"], 3 * 1024 * 1024).headers["Location"]

    class Dropping:
        def __init__(self):
            self.sent = 0

        def read(self, n=-1):
            if self.sent >= 1024 * 1024 + 5:
                raise ConnectionResetError("client went away")
            chunk = b"z" * min(n if n > 0 else 1 << 20, 1024 * 1024 + 5 - self.sent)
            self.sent += len(chunk)
            return chunk

    path = location.replace("http://localhost", "")
    resp = student_tus.client.patch(
        path, headers=tus_headers(student_tus.launch, **{"Content-Type": OFFSET_OCTET_STREAM,
                                                         UPLOAD_OFFSET: "0"}),
        environ_overrides={"wsgi.input": Dropping(), "CONTENT_LENGTH": str(3 * 1024 * 1024)})
    assert resp.status_code < 500
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == str(1024 * 1024 + 5)


def test_cleanup_keeps_a_fresh_partial_file_whose_row_is_not_written_yet(app):
    """A PATCH may have created the file an instant before its row commits: keep it."""
    with app.app_context():
        store = current_storage().tus_store()
        store.directory.mkdir(parents=True, exist_ok=True)
        fresh = store.directory / hashlib.sha256(b"fresh").hexdigest()
        stale = store.directory / hashlib.sha256(b"stale").hexdigest()
        fresh.write_bytes(b"x" * 10)
        stale.write_bytes(b"x" * 10)
        old = (utcnow() - timedelta(hours=app.config["UPLOAD_EXPIRY_HOURS"] + 1)).timestamp()
        os.utime(stale, (old, old))
        expire_unfinished_uploads()
        assert fresh.exists()
        assert not stale.exists()
