"""tus creation-defer-length on our endpoint: the browser recorder's upload learns its length
at its end (https://tus.io/protocols/resumable-upload#upload-defer-length)."""
from __future__ import annotations

import io

import pytest

from lti_tool.extensions import db
from lti_tool.models import Upload, Video
from lti_tool.statuses import VideoStatus
from lti_tool.tus.protocol import (OFFSET_OCTET_STREAM, UPLOAD_DEFER_LENGTH, UPLOAD_LENGTH,
                                   UPLOAD_OFFSET)
from tests.uploading import (TusClient, _path, b64, room, sample_webm,  # noqa: F401
                             tus_headers)

pytestmark = pytest.mark.postgres

DEFER = {UPLOAD_DEFER_LENGTH: "1"}


@pytest.fixture
def student_tus(client, room):
    return TusClient(client, room.launch(room.student))


def _start_recording(tus: TusClient) -> dict:
    resp = tus.client.post("/api/uploads", json={
        "filename": "recording.webm", "size_bytes": None, "content_type": "video/webm"},
        headers={"X-LTI-Launch": tus.launch.id})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _create_deferred(tus: TusClient, video_id: int):
    meta = f"video_id {b64(str(video_id))},filename {b64('recording.webm')}"
    return tus.client.post("/tus/", headers=tus_headers(tus.launch, **DEFER,
                                                         **{"Upload-Metadata": meta}))


def test_recording_uploads_in_pieces_and_finishes_when_its_length_is_told(app, student_tus,
                                                                          sample_webm):
    data = sample_webm.read_bytes()
    ticket = _start_recording(student_tus)
    created = _create_deferred(student_tus, ticket["video_id"])
    assert created.status_code == 201, created.get_json()
    location = created.headers["Location"]
    head = student_tus.head(location)
    assert head.headers[UPLOAD_DEFER_LENGTH] == "1" and UPLOAD_LENGTH not in head.headers

    third = len(data) // 3
    assert student_tus.patch(location, data[:third], 0).headers[UPLOAD_OFFSET] == str(third)
    middle = student_tus.patch(location, data[third:2 * third], third)
    assert middle.status_code == 204 and middle.headers[UPLOAD_OFFSET] == str(2 * third)
    with app.app_context():
        assert db.session.get(Video, ticket["video_id"]).status == VideoStatus.UPLOADING
    last = student_tus.patch(location, data[2 * third:], 2 * third,
                             **{UPLOAD_LENGTH: str(len(data))})
    assert last.status_code == 204, last.get_json()
    assert last.headers[UPLOAD_OFFSET] == str(len(data))
    head = student_tus.head(location)
    assert head.headers[UPLOAD_LENGTH] == str(len(data)) and UPLOAD_DEFER_LENGTH not in head.headers
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.size_bytes == len(data)
        assert video.status not in (VideoStatus.PENDING, VideoStatus.UPLOADING)


def test_length_told_in_an_empty_last_patch_finishes_the_upload(app, student_tus, sample_webm):
    data = sample_webm.read_bytes()
    ticket = _start_recording(student_tus)
    location = _create_deferred(student_tus, ticket["video_id"]).headers["Location"]
    student_tus.patch(location, data, 0)
    last = student_tus.patch(location, b"", len(data), **{UPLOAD_LENGTH: str(len(data))})
    assert last.status_code == 204 and last.headers[UPLOAD_OFFSET] == str(len(data))
    with app.app_context():
        assert db.session.get(Upload, location.rsplit("/", 1)[1]).completed_at is not None


def test_a_length_once_told_cannot_change_nor_be_less_than_what_arrived(student_tus):
    ticket = _start_recording(student_tus)
    location = _create_deferred(student_tus, ticket["video_id"]).headers["Location"]
    student_tus.patch(location, b"x" * 100, 0)
    too_short = student_tus.patch(location, b"", 100, **{UPLOAD_LENGTH: "50"})
    assert too_short.status_code == 400
    told = student_tus.patch(location, b"y" * 10, 100, **{UPLOAD_LENGTH: "200"})
    assert told.status_code == 204
    changed = student_tus.patch(location, b"z" * 10, 110, **{UPLOAD_LENGTH: "300"})
    assert changed.status_code == 400


def test_a_deferred_upload_cannot_grow_past_the_assignment_limit(app, student_tus):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    ticket = _start_recording(student_tus)
    location = _create_deferred(student_tus, ticket["video_id"]).headers["Location"]
    assert student_tus.patch(location, b"x" * 900, 0).status_code == 204
    refused = student_tus.patch(location, b"x" * 200, 900)
    assert refused.status_code == 413
    # Said with the assignment's limit (what the student can act on), not with an
    # Upload-Length the recording never declared.
    assert "larger than the 1000 bytes this assignment accepts" in refused.get_data(as_text=True)
    assert "Upload-Length" not in refused.get_data(as_text=True)
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == "900"
    assert student_tus.patch(location, b"", 900, **{UPLOAD_LENGTH: "2000"}).status_code == 413


def test_a_recording_of_unknown_size_is_refused_where_storage_needs_it(app, student_tus):
    from lti_tool.storage.local.backend import LocalStorage
    from lti_tool.storage.base import Capability
    original = LocalStorage.capabilities
    LocalStorage.capabilities = original - {Capability.DEFERRED_LENGTH}
    try:
        resp = student_tus.client.post("/api/uploads", json={
            "filename": "recording.webm", "size_bytes": None, "content_type": "video/webm"},
            headers={"X-LTI-Launch": student_tus.launch.id})
    finally:
        LocalStorage.capabilities = original
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "length_required"


def test_a_deferred_upload_sent_without_a_length_stops_at_the_assignment_limit(app, student_tus):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    ticket = _start_recording(student_tus)
    location = _create_deferred(student_tus, ticket["video_id"]).headers["Location"]
    assert student_tus.patch(location, b"x" * 900, 0).status_code == 204
    # A chunked body (no Content-Length) that runs past the limit.
    headers = tus_headers(student_tus.launch, **{UPLOAD_OFFSET: "900",
                                                 "Content-Type": OFFSET_OCTET_STREAM})
    refused = student_tus.client.patch(
        _path(location),
        input_stream=io.BytesIO(b"x" * 200), headers=headers,
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": "",
                           "HTTP_TRANSFER_ENCODING": "chunked"})
    assert refused.status_code == 413
    assert "larger than the 1000 bytes this assignment accepts" in refused.get_data(as_text=True)
    assert student_tus.head(location).headers[UPLOAD_OFFSET] == "900"
