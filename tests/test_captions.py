"""The captions API against Cloudflare Stream faked by `responses`: list, upload, generate,
delete; who may do what; bad files and languages; Cloudflare's refusals made clear."""
from __future__ import annotations

import pytest
import responses

from lti_tool.access.roles import Role
from lti_tool.audit import EventType
from lti_tool.captions.service import MAX_CAPTION_BYTES
from lti_tool.extensions import db
from lti_tool.models import AuditEvent
from lti_tool.statuses import VideoStatus
from tests import cloudflare_fake as cf
from tests.factories import (Classroom, make_assignment, make_course, make_launch, make_platform,
                             make_user)
from tests.review_fixtures import ready_video

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

UID = "ea95132c15732412d22c1476fa83f27a"
CAPTIONS = f"{cf.STREAM}/{UID}/captions"
VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nHello, class.\n"
LISTED = [{"language": "en", "label": "English", "generated": False, "status": "ready"},
          {"language": "fr", "label": "Fran\u00e7ais (auto-generated)", "generated": True,
           "status": "inprogress"}]


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings())
    return app_config


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


class Room:
    """A classroom with a student's ready Cloudflare video and launches for everyone."""

    def __init__(self):
        self.room = Classroom()
        room = self.room
        video = ready_video(room)
        video.backend, video.storage_uid = "cloudflare", UID
        db.session.commit()
        self.video_id = video.id
        other_course = make_course(room.platform)
        other_teacher = make_user(room.platform, other_course, Role.INSTRUCTOR)
        foreign = make_platform()
        foreign_admin = make_user(foreign, role=Role.ADMIN)
        foreign_course = make_course(foreign)
        self.launches = {
            "owner": room.launch(room.student).id,
            "other_student": room.launch(room.other_student).id,
            "instructor": room.launch(room.instructor).id,
            "ta": room.launch(room.ta).id,
            "other_course_instructor": make_launch(
                other_teacher, other_course, make_assignment(other_course),
                Role.INSTRUCTOR).id,
            "foreign_admin": make_launch(foreign_admin, foreign_course,
                                         make_assignment(foreign_course), Role.ADMIN).id,
        }

    def url(self, language: str | None = None, generate: bool = False) -> str:
        url = f"/api/videos/{self.video_id}/captions"
        if language:
            url += f"/{language}"
        return url + ("/generate" if generate else "")

    def headers(self, who: str = "instructor") -> dict:
        return {"X-LTI-Launch": self.launches[who]}


@pytest.fixture
def room(app):
    with app.app_context():
        yield Room()


def vtt_form(data: bytes = VTT, name: str = "talk.vtt") -> dict:
    from io import BytesIO
    return {"file": (BytesIO(data), name)}


def listed(api, captions=LISTED):
    api.add(responses.GET, CAPTIONS, json=cf.envelope(captions))


def events(kind: EventType) -> list[AuditEvent]:
    return list(db.session.scalars(db.select(AuditEvent).filter_by(event_type=str(kind))))


# --- the four calls ---------------------------------------------------------------------

def test_lists_captions_with_status_and_names(client, room, api):
    listed(api)
    resp = client.get(room.url(), headers=room.headers("ta"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["can_edit"] is True
    assert body["captions"] == [
        {"language": "en", "name": "English", "label": "English", "generated": False,
         "status": "ready"},
        {"language": "fr", "name": "French", "label": "Fran\u00e7ais (auto-generated)",
         "generated": True, "status": "inprogress"}]
    assert api.calls[0].request.headers["Authorization"] == f"Bearer {cf.TOKEN}"


def test_uploads_a_webvtt_file_for_a_language(client, room, api):
    api.add(responses.PUT, f"{CAPTIONS}/pt-BR", json=cf.envelope(
        {"language": "pt-BR", "label": "Portugu\u00eas", "generated": False, "status": "ready"}))
    listed(api, [{"language": "pt-BR", "label": "Portugu\u00eas", "status": "ready"}])
    resp = client.post(room.url("pt-br"), data=vtt_form(), headers=room.headers("owner"),
                       content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["message"] == "Portuguese (Brazil) captions uploaded."
    assert body["captions"][0]["language"] == "pt-BR"
    sent = api.calls[0].request
    assert VTT in sent.body and b'name="file"' in sent.body
    (event,) = events(EventType.CAPTIONS_ADDED)
    assert event.target_id == str(room.video_id) and event.actor_id is not None
    assert event.data == {"language": "pt-BR", "generated": False, "size_bytes": len(VTT)}


def test_asks_cloudflare_to_generate_captions(client, room, api):
    api.add(responses.POST, f"{CAPTIONS}/fr/generate", json=cf.envelope(
        {"language": "fr", "generated": True, "status": "inprogress"}))
    listed(api)
    resp = client.post(room.url("fr", generate=True), headers=room.headers("instructor"))
    assert resp.status_code == 202
    assert "Generating French captions" in resp.get_json()["message"]
    (event,) = events(EventType.CAPTIONS_ADDED)
    assert event.data == {"language": "fr", "generated": True}


def test_deletes_one_language(client, room, api):
    api.add(responses.DELETE, f"{CAPTIONS}/fr", json=cf.envelope(""))
    listed(api, LISTED[:1])
    resp = client.delete(room.url("fr"), headers=room.headers("ta"))
    assert resp.status_code == 200
    assert [c["language"] for c in resp.get_json()["captions"]] == ["en"]
    (event,) = events(EventType.CAPTIONS_DELETED)
    assert event.data == {"language": "fr"}


# --- who may do what --------------------------------------------------------------------

@pytest.mark.parametrize("who, may_list, may_change", [
    ("owner", True, True),
    ("instructor", True, True),
    ("ta", True, True),
    ("other_student", False, False),
    ("other_course_instructor", False, False),
    ("foreign_admin", False, False),
])
def test_permission_matrix(client, room, who, may_list, may_change):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        listed(api)
        api.add(responses.POST, f"{CAPTIONS}/en/generate", json=cf.envelope({}))
        api.add(responses.DELETE, f"{CAPTIONS}/en", json=cf.envelope(""))
        got = client.get(room.url(), headers=room.headers(who))
        generated = client.post(room.url("en", generate=True), headers=room.headers(who))
        deleted = client.delete(room.url("en"), headers=room.headers(who))
        changes = [c for c in api.calls if c.request.method != "GET"]
    assert got.status_code == (200 if may_list else 404)
    assert generated.status_code == (202 if may_change else 404)
    assert deleted.status_code == (200 if may_change else 404)
    assert bool(changes) == may_change  # nobody else reaches Cloudflare
    if not may_list:
        assert got.get_json()["error"]["code"] == "not_found"


def test_a_read_only_staff_member_may_list_but_not_change(client, room, app):
    ro = make_user(room.room.platform, room.room.course, Role.READONLY)
    launch = room.room.launch(ro)
    with responses.RequestsMock() as api:
        listed(api)
        assert client.get(room.url(), headers={"X-LTI-Launch": launch.id}).get_json()[
            "can_edit"] is False
    resp = client.post(room.url("en", generate=True), headers={"X-LTI-Launch": launch.id})
    assert resp.status_code == 403


def test_a_change_must_carry_the_launch_explicitly(client, room):
    # The launch id only in the URL (as a cookie would carry it) is not enough for a change.
    resp = client.post(room.url("en", generate=True) + f"?launch={room.launches['instructor']}")
    assert resp.status_code == 403
    assert "tool's own page" in resp.get_json()["error"]["message"]


def test_no_launch_at_all_is_refused(client, room):
    assert client.get(room.url()).status_code == 401


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("data, code", [
    (b"1\n00:00:01,000 --> 00:00:04,000\nHello\n", "captions_not_vtt"),  # SRT
    (b"WEBVTTX\n", "captions_not_vtt"),
    (b"\xff\xfeW\x00E\x00", "captions_not_vtt"),  # UTF-16
    (b"WEBVTT\n" + b"a" * MAX_CAPTION_BYTES, "captions_too_large"),
])
def test_refuses_a_file_that_is_not_webvtt_or_too_large(client, room, data, code):
    resp = client.post(room.url("en"), data=vtt_form(data), headers=room.headers(),
                       content_type="multipart/form-data")
    assert resp.status_code == (413 if code == "captions_too_large" else 400)
    error = resp.get_json()["error"]
    assert error["code"] == code and error["message"]


def test_accepts_a_bom_and_a_header_text(client, room, api):
    api.add(responses.PUT, f"{CAPTIONS}/en", json=cf.envelope({}))
    listed(api)
    resp = client.post(room.url("en"), data=vtt_form(b"\xef\xbb\xbfWEBVTT - lecture\n\n"),
                       headers=room.headers(), content_type="multipart/form-data")
    assert resp.status_code == 201


def test_refuses_an_upload_without_a_file(client, room):
    resp = client.post(room.url("en"), data={}, headers=room.headers(),
                       content_type="multipart/form-data")
    assert resp.get_json()["error"]["code"] == "captions_file_missing"


@pytest.mark.parametrize("language", ["xx", "en-ZZ", "klingon", "en%2F..%2Fkeys"])
def test_refuses_a_language_not_in_the_list(client, room, language):
    resp = client.post(room.url(language), data=vtt_form(), headers=room.headers(),
                       content_type="multipart/form-data")
    assert resp.status_code in (400, 404)
    if resp.status_code == 400:
        assert resp.get_json()["error"]["code"] == "bad_language"


def test_generating_needs_a_language_cloudflare_can_transcribe(client, room):
    resp = client.post(room.url("sv", generate=True), headers=room.headers())
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "bad_language" and "Swedish" in error["message"]


def test_generating_needs_a_ready_video(client, room):
    from lti_tool.models import Video
    db.session.get(Video, room.video_id).status = VideoStatus.PROCESSING
    db.session.commit()
    resp = client.post(room.url("en", generate=True), headers=room.headers())
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "video_not_ready"


# --- Cloudflare's refusals --------------------------------------------------------------

def refusal(status: int, code: int, message: str) -> dict:
    return {"status": status, "json": cf.envelope(None, False, [{"code": code,
                                                                  "message": message}])}


def test_an_upload_cloudflare_refuses_explains_the_file(client, room, api):
    api.add(responses.PUT, f"{CAPTIONS}/en", **refusal(400, 10005, "invalid caption file"))
    resp = client.post(room.url("en"), data=vtt_form(), headers=room.headers(),
                       content_type="multipart/form-data")
    assert resp.status_code == 502
    error = resp.get_json()["error"]
    assert error["code"] == "captions_refused" and "valid WebVTT" in error["message"]
    assert not events(EventType.CAPTIONS_ADDED)


def test_a_generation_cloudflare_refuses_explains_why(client, room, api):
    api.add(responses.POST, f"{CAPTIONS}/en/generate",
            **refusal(409, 10002, "caption already exists"))
    resp = client.post(room.url("en", generate=True), headers=room.headers())
    assert resp.status_code == 502
    assert "delete them first" in resp.get_json()["error"]["message"]


def test_a_video_cloudflare_no_longer_holds(client, room, api):
    api.add(responses.GET, CAPTIONS, **refusal(404, 10003, "Not found"))
    resp = client.get(room.url(), headers=room.headers())
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "video_not_stored"


def test_a_bad_api_token_is_reported_as_misconfiguration(client, room, api, caplog):
    api.add(responses.DELETE, f"{CAPTIONS}/en", **refusal(403, 10000, "Authentication error"))
    resp = client.delete(room.url("en"), headers=room.headers())
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "storage_unavailable"
    assert cf.TOKEN not in caplog.text and cf.TOKEN not in resp.get_data(as_text=True)


def test_cloudflare_down_is_retried_then_reported_busy(client, room, api):
    for _ in range(5):
        api.add(responses.GET, CAPTIONS, status=503)
    resp = client.get(room.url(), headers=room.headers())
    assert resp.status_code == 503
    assert "busy" in resp.get_json()["error"]["message"]
    assert len(api.calls) == 5


# --- a storage without captions ---------------------------------------------------------

def on_s3(video):
    """Move a ready video to S3, which keeps no captions."""
    video.backend = "s3"
    db.session.commit()
    return video


def test_a_storage_without_captions_answers_501(client, room):
    s3 = on_s3(ready_video(room.room, room.room.other_student))
    launch = room.room.launch(room.room.instructor)
    for method, url in (("get", f"/api/videos/{s3.id}/captions"),
                        ("post", f"/api/videos/{s3.id}/captions/en/generate"),
                        ("delete", f"/api/videos/{s3.id}/captions/en")):
        resp = getattr(client, method)(url, headers={"X-LTI-Launch": launch.id})
        assert resp.status_code == 501
        assert resp.get_json()["error"]["code"] == "captions_not_supported"


# --- the review page --------------------------------------------------------------------

def test_review_page_shows_the_panel_for_cloudflare_and_hides_it_for_s3(client, room):
    launch = room.launches["instructor"]
    page = client.get(f"/review/students/{room.room.student.id}?launch={launch}")
    html = page.get_data(as_text=True)
    assert 'id="captions-panel"' in html and 'id="captions-upload"' in html
    assert 'id="captions-generate-language"' in html and "js/captions.js" in html

    on_s3(ready_video(room.room, room.room.other_student))
    page = client.get(f"/review/students/{room.room.other_student.id}?launch={launch}")
    assert 'id="captions-panel"' not in page.get_data(as_text=True)
