"""The phone hand-off: a link's life (create, claim, second claim, expiry, wrong student,
attempt limit), the phone's scoped launch, the upload through it, cleanup and rate limits."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lti_tool.extensions import db
from lti_tool.handoff import service
from lti_tool.handoff.codes import CODE_LENGTH, hash_code, normalize_code
from lti_tool.models import AuditEvent, HandoffLink, LaunchRecord, Video, utcnow
from lti_tool.statuses import VideoStatus
from tests.uploading import TusClient, room  # noqa: F401

pytestmark = pytest.mark.postgres  # the claim's atomic UPDATE must hold on PostgreSQL too


def _h(launch) -> dict:
    return {"X-LTI-Launch": launch.id}


def _create(client, launch):
    resp = client.post("/api/handoff", json={}, headers=_h(launch))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _claim(client, code, **kw):
    return client.post("/api/handoff/claim", json={"code": code}, **kw)


def _events(app, kind) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)
                                 .filter_by(event_type=kind))


@pytest.fixture
def student(room):
    return room.launch(room.student)


def test_a_link_has_a_qr_code_a_short_code_and_a_few_minutes(app, client, student):
    made = _create(client, student)
    assert made["qr"].startswith("data:image/svg+xml")
    assert "style" not in made["qr"].lower()  # nothing a strict CSP would refuse
    assert normalize_code(made["code"]) and made["url"].endswith("/h/" + made["code"])
    with app.app_context():
        link = db.session.get(HandoffLink, made["id"])
        ttl = (link.expires_at - link.created_at).total_seconds()
        assert ttl == app.config["HANDOFF_LINK_TTL_SECONDS"] == 600
        # Only the keyed hash is stored, never the code.
        assert link.code_hash == hash_code(normalize_code(made["code"]), app.config["SECRET_KEY"])
        assert normalize_code(made["code"]) not in link.code_hash
    assert _events(app, "handoff_created") == 1


def test_codes_are_read_as_people_type_them():
    assert normalize_code("7kq2m xw9pd") == "7KQ2MXW9PD"
    assert normalize_code("OIL23-45678") == "01123" + "45678"
    assert normalize_code("7KQ2M-XW9P") is None  # too short
    assert normalize_code("7KQ2M-XW9PU") is None  # U is not in the alphabet
    assert CODE_LENGTH * 5 >= 50  # bits of entropy


def test_the_first_phone_claims_and_a_second_is_refused(app, client, student):
    made = _create(client, student)
    first = _claim(client, made["code"].lower())
    assert first.status_code == 201
    body = first.get_json()
    assert body["claim"].startswith(service.PHONE_LAUNCH_PREFIX)
    assert body["limits"]["formats"] and body["chunk_size"] == app.config["HANDOFF_CHUNK_BYTES"]
    assert "Set-Cookie" not in first.headers  # the phone needs no cookie
    second = _claim(client, made["code"])
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "handoff_claimed"
    assert _events(app, "handoff_claimed") == 1
    follow = client.get(made["status_url"], headers=_h(student)).get_json()
    assert follow["state"] == "claimed"


def test_an_expired_link_is_refused(app, client, student):
    made = _create(client, student)
    with app.app_context():
        link = db.session.get(HandoffLink, made["id"])
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    resp = _claim(client, made["code"])
    assert resp.status_code == 410 and resp.get_json()["error"]["code"] == "handoff_expired"
    page = client.get("/h/" + made["code"], headers={"Accept": "text/html"})
    assert page.status_code == 410 and b"expired" in page.data
    assert client.get(made["status_url"], headers=_h(student)).get_json()["state"] == "expired"


def test_a_new_link_retires_the_unclaimed_one(client, student):
    old = _create(client, student)
    _create(client, student)
    assert _claim(client, old["code"]).status_code == 410


def test_an_unknown_code_is_refused_for_people_and_scripts(client):
    assert _claim(client, "00000-00000").get_json()["error"]["code"] == "handoff_unknown"
    page = client.get("/h/not-a-code", headers={"Accept": "text/html"})
    assert page.status_code == 404 and b"not valid" in page.data


def test_a_link_is_refused_for_another_students_session(client, room, student):
    made = _create(client, student)
    other = room.launch(room.other_student)
    # The other student's browser (their launch in its session or a header) may not claim it.
    resp = client.post("/api/handoff/claim", json={"code": made["code"]},
                       query_string={"launch": other.id})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "handoff_other_student"
    # Nor follow it.
    assert client.get(made["status_url"], headers=_h(other)).status_code == 404
    # The owner's phone still can.
    assert _claim(client, made["code"]).status_code == 201


def test_only_students_make_links(client, room):
    teacher = room.launch(room.instructor)
    assert client.post("/api/handoff", json={}, headers=_h(teacher)).status_code == 403
    assert client.post("/api/handoff", json={}).status_code == 401


def test_no_link_once_the_attempts_are_used_up(app, client, room, student):
    room.update_assignment(max_attempts=1)
    tus = TusClient(client, student)
    _, location, resp = tus.upload(b"x" * 1000)
    with app.app_context():
        video = db.session.scalar(db.select(Video))
        video.status = VideoStatus.READY
        video.submission.current_video_id = video.id
        video.submission.submitted_at = utcnow()
        db.session.commit()
    resp = client.post("/api/handoff", json={}, headers=_h(student))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "no_attempts_left"


def test_a_claimed_link_refuses_the_upload_once_the_attempts_are_used_up(app, client, room,
                                                                          student):
    room.update_assignment(max_attempts=1)
    made = _create(client, student)
    phone = {"X-LTI-Launch": _claim(client, made["code"]).get_json()["claim"]}
    TusClient(client, student).upload(b"x" * 1000)  # the desktop hands one in meanwhile
    with app.app_context():
        video = db.session.scalar(db.select(Video))
        video.status = VideoStatus.READY
        video.submission.current_video_id = video.id
        db.session.commit()
    resp = client.post("/api/handoff/phone/uploads", headers=phone,
                       json={"filename": "clip.mp4", "size_bytes": 10})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "no_attempts_left"


def _phone_upload(client, made, data: bytes, before_bytes=lambda: None):
    claim = _claim(client, made["code"]).get_json()
    phone = SimpleLaunch(claim["claim"])
    start = client.post("/api/handoff/phone/uploads", headers=_h(phone),
                        json={"filename": "phone.mp4", "size_bytes": len(data),
                              "content_type": "video/mp4"})
    assert start.status_code == 201, start.get_json()
    ticket = start.get_json()
    tus = TusClient(client, phone)
    created = tus.create(ticket["video_id"], len(data))
    assert created.status_code == 201, created.get_json()
    before_bytes()
    assert tus.patch(created.headers["Location"], data, 0).status_code == 204
    return phone, ticket


class SimpleLaunch:
    def __init__(self, launch_id):
        self.id = launch_id


def test_the_phone_uploads_one_attempt_for_the_student(app, client, room, student):
    made = _create(client, student)
    seen = []
    phone, ticket = _phone_upload(client, made, b"v" * 2000, lambda: seen.append(
        client.get(made["status_url"], headers=_h(student)).get_json()["state"]))
    assert seen == ["uploading"]
    assert ticket["chunk_size"] <= app.config["HANDOFF_CHUNK_BYTES"]
    done = client.post(ticket["finish_url"], headers=_h(phone))
    assert done.status_code == 200, done.get_json()
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.submission.user_id == room.student.id
        assert video.submission.assignment_id == room.assignment_id
        assert video.status != VideoStatus.PENDING
    follow = client.get(made["status_url"], headers=_h(student)).get_json()
    assert follow["state"] == "done" and follow["video"]["id"] == ticket["video_id"]
    assert _events(app, "handoff_completed") == 1
    # One attempt only: a second start through the same link is refused.
    again = client.post("/api/handoff/phone/uploads", headers=_h(phone),
                        json={"filename": "b.mp4", "size_bytes": 10})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "handoff_used"


@pytest.mark.parametrize("method,path", [
    ("get", "/assignment"), ("get", "/api/uploads"), ("post", "/api/uploads"),
    ("post", "/api/handoff"), ("get", "/assignment/receipt"),
])
def test_the_phones_launch_reaches_only_the_upload(client, student, method, path):
    made = _create(client, student)
    phone = _claim(client, made["code"]).get_json()["claim"]
    resp = getattr(client, method)(path, headers={"X-LTI-Launch": phone},
                                   **({"json": {}} if method == "post" else {}))
    assert resp.status_code == 403
    resp = getattr(client, method)(path, query_string={"launch": phone})
    assert resp.status_code == 403


def test_a_students_launch_is_no_phone(client, student):
    resp = client.post("/api/handoff/phone/uploads", headers=_h(student),
                       json={"filename": "a.mp4", "size_bytes": 10})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "handoff_not_a_phone"


def test_the_phone_page_works_without_cookies_and_in_no_frame(client, student):
    made = _create(client, student)
    page = client.get("/h/" + made["code"])
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert b'capture="environment"' in page.data and b'accept="video/*"' in page.data


def test_typing_the_code_leads_to_the_upload_page(client):
    resp = client.get("/h", query_string={"code": "7kq2m xw9pd"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/h/7KQ2M-XW9PD")
    bad = client.get("/h", query_string={"code": "nope"})
    assert bad.status_code == 400 and b"not valid" in bad.data


def test_the_short_address_with_a_trailing_slash_shows_the_code_form_too(client):
    for path in ("/h", "/h/"):
        resp = client.get(path)
        assert resp.status_code == 200 and b"Type the code from your computer" in resp.data
        assert b'action="/h"' in resp.data  # the form, and url_for, keep the short address


def test_old_links_are_cleaned_up(app, client, student):
    made = _create(client, student)
    with app.app_context():
        assert service.purge_expired_links() == {"deleted": 0}
        link = db.session.get(HandoffLink, made["id"])
        link.expires_at = utcnow() - service.KEEP_AFTER_EXPIRY - timedelta(seconds=1)
        db.session.commit()
        assert service.purge_expired_links() == {"deleted": 1}
        assert service.purge_expired_links() == {"deleted": 0}


def test_a_phone_launch_lasts_as_a_launch(app, client, student):
    made = _create(client, student)
    claim = _claim(client, made["code"]).get_json()["claim"]
    with app.app_context():
        phone = db.session.get(LaunchRecord, claim)
        assert phone.message_type == service.PHONE_MESSAGE_TYPE
        assert phone.expires_at > utcnow() + timedelta(hours=1)


def test_the_phone_reaches_only_its_own_attempt(app, client, student):
    desktop = TusClient(client, student)
    mine = desktop.start()  # the student's own upload from the computer, still open
    made = _create(client, student)
    phone = SimpleLaunch(_claim(client, made["code"]).get_json()["claim"])
    assert client.get(f"/api/videos/{mine['video_id']}/status",
                      headers=_h(phone)).status_code == 404
    assert TusClient(client, phone).create(mine["video_id"], 1000).status_code == 404
    assert client.post(f"/api/uploads/{mine['video_id']}/multipart/abort",
                       headers=_h(phone)).status_code == 404
    # Its own attempt it may follow.
    start = client.post("/api/handoff/phone/uploads", headers=_h(phone),
                        json={"filename": "phone.mp4", "size_bytes": 10})
    own = start.get_json()["video_id"]
    assert client.get(f"/api/videos/{own}/status", headers=_h(phone)).status_code == 200


def test_phones_claiming_at_the_same_moment_get_one_claim(app, student):
    """Several devices send the code at once: one atomic UPDATE lets exactly one win."""
    import threading
    made = _create(app.test_client(), student)
    devices = 6
    ready = threading.Barrier(devices)
    answers: list[tuple[int, str | None]] = []

    def claim_from_a_device():
        client = app.test_client()  # a device of its own: no cookies shared
        ready.wait()
        resp = _claim(client, made["code"])
        body = resp.get_json() or {}
        answers.append((resp.status_code, (body.get("error") or {}).get("code")))

    threads = [threading.Thread(target=claim_from_a_device) for _ in range(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(s for s, _ in answers).count(201) == 1, answers
    assert sorted(answers)[1:] == [(409, "handoff_claimed")] * (devices - 1), answers
    assert _events(app, "handoff_claimed") == 1
    with app.app_context():
        link = db.session.get(HandoffLink, made["id"])
        phones = db.session.scalars(db.select(LaunchRecord).where(
            LaunchRecord.id.startswith(service.PHONE_LAUNCH_PREFIX))).all()
        assert [p.id for p in phones] == [link.phone_launch_id]
