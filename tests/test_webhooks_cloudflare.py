"""The Cloudflare Stream webhook: signature, stale times, replays, idempotence, signals once."""
from __future__ import annotations

import json
import time

import pytest
import responses

from lti_tool import signals
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Video
from lti_tool.settings import set_setting
from lti_tool.statuses import VideoStatus
from lti_tool.storage.cloudflare.webhooks import BadSignature, verify_signature
from lti_tool.storage.jobs import poll_stuck_videos
from tests.factories import Classroom

from . import cloudflare_fake as cf

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

URL = "/webhooks/cloudflare-stream"
UID = "dd5d531a12de0c724bd1275a3b2bc9c6"


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings(CLOUDFLARE_POLL_AFTER_SECONDS=0))
    return app_config


@pytest.fixture
def student(app):
    with app.app_context():
        room = Classroom()
        room.assignment.max_duration_seconds = 300
        db.session.commit()
        return Classroom.headers(room.launch(room.student))


@pytest.fixture
def video_id(client, student):
    """Start an attempt through the API, Cloudflare faked; return its id."""
    with responses.RequestsMock() as api:
        api.add(responses.POST, cf.STREAM, status=201, headers={
            "Location": f"https://upload.videodelivery.net/tus/{UID}", "stream-media-id": UID})
        resp = client.post("/api/uploads", json={"filename": "pitch.mp4",
                                                 "size_bytes": 5_000_000}, headers=student)
    assert resp.status_code == 201, resp.get_json()
    ticket = resp.get_json()
    assert ticket["method"] == "tus" and ticket["endpoint"].endswith(UID)
    return ticket["video_id"]


@pytest.fixture
def fired():
    """Collect the video_ready / video_failed signals sent during a test."""
    seen = {"ready": [], "failed": []}

    def on_ready(video):
        seen["ready"].append(video.id)

    def on_failed(video):
        seen["failed"].append(video.id)

    signals.video_ready.connect(on_ready, weak=False)
    signals.video_failed.connect(on_failed, weak=False)
    yield seen
    signals.video_ready.disconnect(on_ready)
    signals.video_failed.disconnect(on_failed)


def post(client, payload: dict, *, secret=cf.WEBHOOK_SECRET, at=None, header=None):
    body = json.dumps(payload).encode()
    header = header if header is not None else cf.sign_webhook(body, secret, at)
    return client.post(URL, data=body, headers={"Webhook-Signature": header,
                                                "Content-Type": "application/json"})


def video(app, vid) -> Video:
    with app.app_context():
        found = db.session.get(Video, vid)
        db.session.expunge(found)
        return found


def test_ready_webhook_makes_the_attempt_ready_once(app, client, video_id, fired):
    resp = post(client, cf.video_body(UID, "ready"))
    assert resp.status_code == 200 and resp.get_json()["status"] == VideoStatus.READY
    v = video(app, video_id)
    assert v.status == VideoStatus.READY
    assert (v.duration_seconds, v.width, v.height) == (5.5, 560, 320)
    assert v.has_thumbnail and v.ready_at is not None and v.uploaded_at is not None
    # Cloudflare retries a delivery with a new signature: handled, nothing fires twice.
    assert post(client, cf.video_body(UID, "ready"), at=int(time.time()) + 1).status_code == 200
    assert fired == {"ready": [video_id], "failed": []}
    with app.app_context():
        events = [e.event_type for e in db.session.scalars(
            db.select(AuditEvent).filter_by(target_id=str(video_id)))]
    assert events.count("video_ready") == 1 and "webhook_received" in events


def test_error_webhook_tells_the_student_why(app, client, video_id, fired):
    body = cf.video_body(UID, "error")
    body["status"]["errorReasonCode"] = "ERR_DURATION_EXCEED_CONSTRAINT"
    assert post(client, body).status_code == 200
    v = video(app, video_id)
    assert v.status == VideoStatus.ERROR
    assert v.error_code == "ERR_DURATION_EXCEED_CONSTRAINT"
    assert "longer than this assignment allows (at most 5 minutes)" in v.error_message
    assert fired == {"ready": [], "failed": [video_id]}


def test_a_replayed_delivery_is_refused(client, video_id, fired):
    body = json.dumps(cf.video_body(UID)).encode()
    header = cf.sign_webhook(body)
    first = client.post(URL, data=body, headers={"Webhook-Signature": header})
    second = client.post(URL, data=body, headers={"Webhook-Signature": header})
    assert first.status_code == 200
    assert second.status_code == 409
    assert fired["ready"] == [video_id]


# 310, not 301: clear of the 300 s window at any fraction of a second.
@pytest.mark.parametrize("shift", [-310, 310])
def test_stale_or_future_times_are_refused(client, video_id, shift, fired):
    resp = post(client, cf.video_body(UID), at=int(time.time()) + shift)
    assert resp.status_code == 401
    assert fired["ready"] == []


@pytest.mark.parametrize("header", ["", "time=abc,sig1=00", "sig1=00", "time=1",
                                    "garbage"])
def test_malformed_signatures_are_refused(client, video_id, header):
    assert post(client, cf.video_body(UID), header=header).status_code == 401


def test_wrong_secret_and_tampered_body_are_refused(app, client, video_id):
    assert post(client, cf.video_body(UID), secret="not-the-secret").status_code == 401
    body = json.dumps(cf.video_body(UID)).encode()
    header = cf.sign_webhook(body)
    tampered = body.replace(b'"ready"', b'"error"', 1)
    resp = client.post(URL, data=tampered, headers={"Webhook-Signature": header})
    assert resp.status_code == 401
    assert video(app, video_id).status != VideoStatus.READY


def test_verify_signature_uses_the_documented_source_string():
    body = b'{"uid":"x"}\n'
    import hashlib
    import hmac
    sig = hmac.new(b"k", b"1230811200." + body, hashlib.sha256).hexdigest()
    assert verify_signature(f"time=1230811200,sig1={sig}", body, "k", now=1230811200) == sig
    with pytest.raises(BadSignature):
        verify_signature(f"time=1230811200,sig1={sig}", body + b" ", "k", now=1230811200)


def test_unknown_video_is_acknowledged_and_ignored(client, video_id):
    resp = post(client, cf.video_body("f" * 32))
    assert resp.status_code == 200 and resp.get_json()["ignored"] == "unknown video"


def test_signed_body_that_is_not_a_video_is_a_clear_error(client, video_id):
    body = b"[1, 2]"
    resp = client.post(URL, data=body, headers={"Webhook-Signature": cf.sign_webhook(body)})
    assert resp.status_code == 400


def test_without_a_secret_webhooks_are_refused(app, client, video_id):
    app.config["CLOUDFLARE_WEBHOOK_SECRET"] = ""
    assert post(client, cf.video_body(UID)).status_code == 503


def test_admin_set_secret_is_used(app, client, video_id):
    with app.app_context():
        set_setting("CLOUDFLARE_WEBHOOK_SECRET", "rotated-secret", secret=True)
        db.session.commit()
    assert post(client, cf.video_body(UID)).status_code == 401
    assert post(client, cf.video_body(UID), secret="rotated-secret").status_code == 200


def test_webhook_then_poll_fires_once(app, client, video_id, fired):
    assert post(client, cf.video_body(UID)).status_code == 200
    with app.app_context(), responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add(responses.GET, f"{cf.STREAM}/{UID}", json=cf.envelope(cf.video_body(UID)))
        assert poll_stuck_videos() == 0
    assert fired["ready"] == [video_id]


def test_student_page_status_follows_the_webhook(client, student, video_id):
    """The browser finished (complete), Cloudflare still encodes; the webhook settles it."""
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/{UID}",
                json=cf.envelope(cf.video_body(UID, "inprogress")))
        done = client.post(f"/api/uploads/{video_id}/complete", headers=student)
    assert done.get_json()["status"] == VideoStatus.PROCESSING
    assert post(client, cf.video_body(UID)).status_code == 200
    status = client.get(f"/api/videos/{video_id}/status", headers=student).get_json()
    assert status["status"] == VideoStatus.READY and status["final"]


def test_status_polls_ask_cloudflare_at_most_once_per_interval(app, client, student, video_id):
    """Polling a processing video costs one Stream API request per interval, not per poll."""
    from datetime import timedelta

    from lti_tool.models import KeyValue, utcnow
    from lti_tool.uploads.attempts import PROVIDER_CHECK_KEY

    def expire_check():
        with app.app_context():
            row = db.session.get(KeyValue, PROVIDER_CHECK_KEY.format(video_id=video_id))
            row.expires_at = utcnow() - timedelta(seconds=1)
            db.session.commit()

    stream_url = f"{cf.STREAM}/{UID}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add(responses.GET, stream_url, json=cf.envelope(cf.video_body(UID, "inprogress")))
        done = client.post(f"/api/uploads/{video_id}/complete", headers=student)
        assert done.get_json()["status"] == VideoStatus.PROCESSING
        assert len(api.calls) == 1  # the browser's "finished" is always checked
        for _ in range(5):  # the page polls right away and keeps polling: no new request
            body = client.get(f"/api/videos/{video_id}/status", headers=student).get_json()
            assert body["status"] == VideoStatus.PROCESSING and not body["final"]
        assert len(api.calls) == 1

        expire_check()  # the interval has passed: the next poll asks once more
        for _ in range(3):
            client.get(f"/api/videos/{video_id}/status", headers=student)
        assert len(api.calls) == 2

        expire_check()
        api.replace(responses.GET, stream_url, json=cf.envelope(cf.video_body(UID)))
        body = client.get(f"/api/videos/{video_id}/status", headers=student).get_json()
        assert body["status"] == VideoStatus.READY and body["final"]
        assert len(api.calls) == 3


def test_a_throttled_poll_answers_from_the_database(app, client, student, video_id):
    """Between checks, what the webhook wrote is what the page sees."""
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/{UID}",
                json=cf.envelope(cf.video_body(UID, "inprogress")))
        client.post(f"/api/uploads/{video_id}/complete", headers=student)
        first = client.get(f"/api/videos/{video_id}/status", headers=student).get_json()
        assert first["status"] == VideoStatus.PROCESSING
        assert post(client, cf.video_body(UID)).status_code == 200
        then = client.get(f"/api/videos/{video_id}/status", headers=student).get_json()
        assert then["status"] == VideoStatus.READY
        assert len(api.calls) == 1
