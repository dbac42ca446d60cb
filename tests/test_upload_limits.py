"""The site's upload limits as an admin set them on the settings page, below the
environment's: every door refuses above them and advertises them (tus OPTIONS and creation,
the upload API, each storage backend's own check, the phone hand-off, the student's page)."""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.settings import set_setting
from lti_tool.storage import backend_class
from lti_tool.storage.base import UploadRequest, UploadTooLarge
from lti_tool.tus.protocol import TUS_MAX_SIZE
from lti_tool.uploads.limits import (ACCEPTED_FORMATS, DEFAULT_UPLOAD_BYTES, KNOWN_FORMATS,
                                     MAX_UPLOAD_BYTES, site_limits)
from tests.uploading import TusClient, room  # noqa: F401  (fixtures)

MIB = 1024**2
ADMIN_MAX = 3 * MIB  # far below the environment's 5 GB
UPLOAD = "/api/uploads"


def _set(app, **values) -> None:
    """Store settings as the settings page does (lti_tool.admin.site_settings.save)."""
    with app.app_context():
        for name, value in values.items():
            set_setting(name, value)
        db.session.commit()


@pytest.fixture
def admin_max(app):
    """The admin's largest upload, set below the environment's."""
    assert app.config[MAX_UPLOAD_BYTES] > ADMIN_MAX
    _set(app, **{MAX_UPLOAD_BYTES: str(ADMIN_MAX)})
    return ADMIN_MAX


@pytest.fixture
def student(room):
    return room.launch(room.student)


def _start(client, launch, size, url=UPLOAD, filename="clip.mp4"):
    return client.post(url, json={"filename": filename, "size_bytes": size,
                                  "content_type": "video/mp4"},
                       headers={"X-LTI-Launch": launch.id})


def test_the_admins_values_override_the_environments(app):
    _set(app, **{MAX_UPLOAD_BYTES: str(ADMIN_MAX), DEFAULT_UPLOAD_BYTES: str(2 * MIB),
                 ACCEPTED_FORMATS: "webm,mp4"})
    with app.app_context():
        assert site_limits() == site_limits(app.config)
        limits = site_limits()
    assert (limits.max_bytes, limits.default_bytes) == (ADMIN_MAX, 2 * MIB)
    assert limits.formats == ("mp4", "webm")  # in the known order
    _set(app, **{DEFAULT_UPLOAD_BYTES: str(9 * MIB), ACCEPTED_FORMATS: None})
    with app.app_context():
        limits = site_limits()
    assert limits.default_bytes == ADMIN_MAX and limits.formats == KNOWN_FORMATS


def test_another_mapping_is_read_as_it_is(app, admin_max):
    """A Test connection's trial settings are not the app's: the admin's value is not
    slipped under them."""
    with app.app_context():
        trial = dict(app.config, **{MAX_UPLOAD_BYTES: 7 * MIB})
        assert site_limits(trial).max_bytes == 7 * MIB


def test_tus_options_advertises_the_admins_largest_upload(client, admin_max):
    resp = client.options("/tus/")
    assert resp.status_code == 204
    assert resp.headers[TUS_MAX_SIZE] == str(ADMIN_MAX)


def test_tus_creation_refuses_a_length_over_the_admins_limit(client, student, admin_max):
    tus = TusClient(client, student)
    ticket = tus.start(size=1000)
    resp = tus.create(ticket["video_id"], ADMIN_MAX + 1)
    assert resp.status_code == 413
    assert "3 MB" in resp.get_json()["error"]["message"]
    assert tus.create(ticket["video_id"], ADMIN_MAX).status_code == 201


def test_the_upload_api_refuses_a_file_over_the_admins_limit(client, student, admin_max):
    resp = _start(client, student, ADMIN_MAX + 1)
    assert resp.status_code == 413
    assert "3 MB this assignment accepts" in resp.get_json()["error"]["message"]
    assert _start(client, student, ADMIN_MAX).status_code == 201


def test_the_upload_api_refuses_a_format_the_admin_turned_off(client, student, app):
    _set(app, **{ACCEPTED_FORMATS: "mp4"})
    resp = _start(client, student, 1000, filename="clip.mov")
    assert resp.status_code == 415 and "Accepted: MP4." in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("name", ["local", "s3", "cloudflare"])
def test_each_backend_refuses_over_the_admins_limit_by_itself(app, admin_max, name):
    """Each backend's own check (behind the upload API's): S3 multipart creation and
    Cloudflare's direct upload refuse before any call to the provider."""
    with app.app_context():
        backend = backend_class(name)(app.config)
        with pytest.raises(UploadTooLarge) as refused:
            backend.create_upload(UploadRequest(video_id=1, owner_id=1, filename="clip.mp4",
                                                size_bytes=ADMIN_MAX + 1))
    assert "3 MB" in refused.value.message or str(ADMIN_MAX) in refused.value.message


def test_the_phone_is_told_the_admins_limit_and_held_to_it(client, student, admin_max):
    made = client.post("/api/handoff", json={}, headers={"X-LTI-Launch": student.id})
    assert made.status_code == 201
    claim = client.post("/api/handoff/claim", json={"code": made.get_json()["code"]})
    assert claim.status_code == 201
    assert claim.get_json()["limits"]["max_bytes"] == ADMIN_MAX

    class Phone:
        id = claim.get_json()["claim"]

    over = _start(client, Phone, ADMIN_MAX + 1, url="/api/handoff/phone/uploads")
    assert over.status_code == 413
    assert _start(client, Phone, ADMIN_MAX, url="/api/handoff/phone/uploads").status_code == 201


def test_the_students_page_shows_the_admins_limits(client, student, app, admin_max):
    _set(app, **{ACCEPTED_FORMATS: "mp4,webm"})
    page = client.get("/assignment", headers={"X-LTI-Launch": student.id})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<strong>Largest file:</strong> 3 MB" in html
    assert "<strong>Formats:</strong> MP4, WEBM" in html
    state = client.get(UPLOAD, headers={"X-LTI-Launch": student.id}).get_json()
    assert state["limits"]["max_bytes"] == ADMIN_MAX
    assert state["limits"]["formats"] == ["mp4", "webm"]


def test_settings_without_a_largest_upload_get_the_default(app):
    """A backend built from bare settings (a script's, a test's) still has a limit."""
    with app.app_context():
        assert site_limits({}).max_bytes == 5 * 1024**3
        assert site_limits({}).formats == KNOWN_FORMATS
