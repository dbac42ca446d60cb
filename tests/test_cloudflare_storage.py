"""CloudflareStorage against Cloudflare's HTTP API faked by `responses` at a non-default base."""
from __future__ import annotations

import base64
import logging
import time

import jwt
import pytest
import responses
from responses import matchers

from lti_tool.errors import StorageError, ToolError
from lti_tool.extensions import db
from lti_tool.settings import set_setting
from lti_tool.statuses import VideoStatus
from lti_tool.storage import current_storage
from lti_tool.storage.base import (BackendUnavailable, Capability, PlaybackKind, QuotaExceeded,
                                   UploadMethod, UploadNotFound, UploadRequest)
from lti_tool.storage.cloudflare.backend import chunk_size_for, error_message, video_info_from

from . import cloudflare_fake as cf

MIB = 1024 * 1024


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings())
    return app_config


@pytest.fixture
def storage(app):
    with app.app_context():
        yield current_storage()


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def upload_request(**kw) -> UploadRequest:
    values = dict(video_id=42, owner_id=7, filename="pitch.mp4", size_bytes=300 * MIB,
                  content_type="video/mp4")
    values.update(kw)
    return UploadRequest(**values)


def tus_created(api, uid="f65014bc6ff5419ea86e7972a047ba22", **headers):
    api.add(responses.POST, cf.STREAM, status=201, headers={
        "Location": f"https://upload.videodelivery.net/tus/{uid}?tusv2=true",
        "stream-media-id": uid, **headers})


def metadata_of(header: str) -> dict:
    pairs = {}
    for item in header.split(","):
        key, _, value = item.partition(" ")
        pairs[key] = base64.b64decode(value).decode() if value else None
    return pairs


# --- upload -------------------------------------------------------------------------------

def test_backend_declares_tus_signed_playback_captions_and_webhooks(storage):
    assert storage.name == "cloudflare"
    for capability in (Capability.TUS, Capability.SIGNED_PLAYBACK, Capability.THUMBNAILS,
                       Capability.CAPTIONS, Capability.WEBHOOKS):
        assert storage.supports(capability)
    assert not storage.supports(Capability.MULTIPART)


def test_create_upload_asks_for_a_direct_user_tus_url(storage, api):
    tus_created(api)
    ticket = storage.create_upload(upload_request(max_duration_seconds=600))

    sent = api.calls[0].request
    assert sent.url == f"{cf.STREAM}?direct_user=true"
    assert sent.headers["Authorization"] == f"Bearer {cf.TOKEN}"
    assert sent.headers["Tus-Resumable"] == "1.0.0"
    assert sent.headers["Upload-Length"] == str(300 * MIB)
    assert sent.headers["Upload-Creator"] == "7"
    meta = metadata_of(sent.headers["Upload-Metadata"])
    assert meta["maxDurationSeconds"] == "600"
    assert "requiresignedurls" in meta and meta["requiresignedurls"] is None
    assert "pitch.mp4" in meta["name"]
    assert meta["lti_video_id"] == "42"
    assert meta["expiry"].endswith("Z")

    assert ticket.method == UploadMethod.TUS
    assert ticket.storage_uid == "f65014bc6ff5419ea86e7972a047ba22"
    assert ticket.endpoint.startswith("https://upload.videodelivery.net/tus/")
    assert ticket.headers == {}  # the browser never sees our API token
    assert ticket.chunk_size % (256 * 1024) == 0 and ticket.chunk_size >= 5 * MIB
    assert ticket.backend_data["tus_url"] == ticket.endpoint
    assert ticket.backend_data["max_duration_seconds"] == 600
    assert ticket.expires_at is not None


def test_received_bytes_asks_stream_for_the_real_offset(storage, api):
    """A resumed upload is offered with what Stream holds, not "0 % arrived"."""
    url = "https://upload.videodelivery.net/tus/f65014bc?tusv2=true"
    api.add(responses.HEAD, url, status=200, headers={"Upload-Offset": str(42 * MIB),
                                                      "Tus-Resumable": "1.0.0"})
    assert storage.received_bytes("f65014bc", {"tus_url": url}) == 42 * MIB
    sent = api.calls[0].request
    assert sent.headers["Tus-Resumable"] == "1.0.0"
    assert "Authorization" not in sent.headers  # the one-time URL needs no API token


def test_received_bytes_is_unknown_when_stream_cannot_say(storage, api):
    url = "https://upload.videodelivery.net/tus/gone"
    api.add(responses.HEAD, url, status=404)
    assert storage.received_bytes("gone", {"tus_url": url}) is None
    assert storage.received_bytes("gone", {}) is None


def test_create_upload_uses_the_site_duration_limit_when_the_assignment_has_none(storage, api):
    tus_created(api)
    storage.create_upload(upload_request(max_duration_seconds=None))
    meta = metadata_of(api.calls[0].request.headers["Upload-Metadata"])
    assert meta["maxDurationSeconds"] == "7200"


def test_create_upload_without_media_id_is_a_clear_error(storage, api):
    api.add(responses.POST, cf.STREAM, status=201, headers={"Location": "https://x/y"})
    with pytest.raises(BackendUnavailable):
        storage.create_upload(upload_request())


@pytest.mark.parametrize("setting, expected", [
    (50 * MIB, 50 * MIB), (1 * MIB, 5 * MIB), (500 * MIB, 200 * MIB),
    (10 * MIB + 1000, 10 * MIB)])
def test_chunk_size_is_one_cloudflare_accepts(setting, expected):
    assert chunk_size_for(setting) == expected


# --- retries and refusals -------------------------------------------------------------------

def test_rate_limited_request_waits_retry_after_then_succeeds(storage, api, monkeypatch,
                                                             caplog):
    waits = []
    monkeypatch.setattr("lti_tool.storage.cloudflare.api.time.sleep", waits.append)
    api.add(responses.POST, cf.STREAM, status=429, headers={"Retry-After": "3"},
            json=cf.envelope(None, False, [{"code": 10000, "message": "rate limited"}]))
    tus_created(api)
    ticket = storage.create_upload(upload_request())
    assert ticket.storage_uid
    assert waits == [3.0]
    assert len(api.calls) == 2
    assert f"POST /client/v4/accounts/{cf.ACCOUNT}/stream -> 429; retrying" in caplog.text


def test_server_errors_are_retried_a_bounded_number_of_times(app, storage, api, monkeypatch):
    waits = []
    monkeypatch.setattr("lti_tool.storage.cloudflare.api.time.sleep", waits.append)
    app.config["CLOUDFLARE_API_MAX_RETRIES"] = 2
    api.add(responses.GET, f"{cf.STREAM}/abc", status=502, body="bad gateway")
    with pytest.raises(BackendUnavailable) as err:
        storage.inspect("abc")
    assert len(api.calls) == 3
    assert len(waits) == 2 and all(w <= 30 for w in waits)
    assert "try again" in err.value.message


def test_retry_after_is_capped(storage, api, monkeypatch):
    waits = []
    monkeypatch.setattr("lti_tool.storage.cloudflare.api.time.sleep", waits.append)
    api.add(responses.GET, f"{cf.STREAM}/abc", status=503, headers={"Retry-After": "86400"})
    api.add(responses.GET, f"{cf.STREAM}/abc", json=cf.envelope(cf.video_body("abc")))
    storage.inspect("abc")
    assert waits == [30.0]


def test_storage_capacity_exceeded_becomes_quota_error_and_admin_log(storage, api, caplog):
    api.add(responses.POST, cf.STREAM, status=413, json=cf.envelope(None, False, [
        {"code": 10011, "message": "Storage capacity exceeded: allocated 1000 minutes"}]))
    with caplog.at_level(logging.INFO):
        with pytest.raises(QuotaExceeded) as err:
            storage.create_upload(upload_request())
    assert err.value.http_status == 507
    assert "full" in err.value.message
    assert any(r.levelno == logging.ERROR and "10011" in r.getMessage() for r in caplog.records)
    assert cf.TOKEN not in caplog.text


def test_refused_token_is_a_setup_error_without_leaking_the_token(storage, api, caplog):
    api.add(responses.GET, f"{cf.STREAM}/abc", status=403, json=cf.envelope(None, False, [
        {"code": 10000, "message": "Authentication error"}]))
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(BackendUnavailable) as err:
            storage.inspect("abc")
    assert "administrator" in err.value.message
    assert "CLOUDFLARE_API_TOKEN" in caplog.text  # tells the admin what to check
    assert cf.TOKEN not in caplog.text


def test_other_refusals_are_storage_errors_with_a_code(storage, api):
    api.add(responses.POST, cf.STREAM, status=400, json=cf.envelope(None, False, [
        {"code": 10005, "message": "bad metadata"}]))
    with pytest.raises(StorageError) as err:
        storage.create_upload(upload_request())
    assert err.value.code == "storage_refused"


def test_unknown_video_is_upload_not_found(storage, api):
    api.add(responses.GET, f"{cf.STREAM}/gone", status=404, json=cf.envelope(None, False, [
        {"code": 10003, "message": "not found"}]))
    with pytest.raises(UploadNotFound):
        storage.inspect("gone")


def test_a_missing_endpoint_is_a_setup_error_not_a_lost_video(storage, api, caplog):
    api.add(responses.GET, f"{cf.STREAM}/abc", status=404, json=cf.envelope(None, False, [
        {"code": 7003, "message": "Could not route to /client/v4/accounts/x/stream/abc"}]))
    with pytest.raises(BackendUnavailable) as caught:
        storage.inspect("abc")
    assert "no longer held" not in caught.value.message
    assert "/abc" in caplog.text and "CLOUDFLARE_API_BASE" in caplog.text  # names the path


def test_missing_credentials_refuse_clearly(app, storage):
    app.config["CLOUDFLARE_API_TOKEN"] = ""
    with pytest.raises(BackendUnavailable):
        storage.inspect("abc")


def test_admin_set_value_overrides_the_environment(app, storage, api):
    set_setting("CLOUDFLARE_ACCOUNT_ID", "acct999")
    set_setting("CLOUDFLARE_API_TOKEN", "admin-token", secret=True)
    db.session.commit()
    api.add(responses.GET, f"{cf.API_BASE}/accounts/acct999/stream/abc",
            json=cf.envelope(cf.video_body("abc")),
            match=[matchers.header_matcher({"Authorization": "Bearer admin-token"})])
    assert storage.inspect("abc").status == VideoStatus.READY


# --- processing state -----------------------------------------------------------------------

def test_ready_video_reports_duration_dimensions_and_thumbnail(storage, api):
    api.add(responses.GET, f"{cf.STREAM}/abc", json=cf.envelope(cf.video_body("abc")))
    info = storage.inspect("abc")
    assert info.status == VideoStatus.READY
    assert info.duration_seconds == 5.5
    assert (info.width, info.height) == (560, 320)
    assert info.size_bytes == 383631
    assert info.has_thumbnail


@pytest.mark.parametrize("state, status", [
    ("pendingupload", VideoStatus.UPLOADING), ("downloading", VideoStatus.PROCESSING),
    ("queued", VideoStatus.PROCESSING), ("inprogress", VideoStatus.PROCESSING),
    ("ready", VideoStatus.READY), ("error", VideoStatus.ERROR)])
def test_stream_states_map_to_ours(state, status):
    body = cf.video_body("abc", state, uploadExpiry="2999-01-01T00:00:00Z")
    assert video_info_from(body).status == status


def test_ready_but_not_streamable_is_still_processing():
    body = cf.video_body("abc", "ready", readyToStream=False)
    assert video_info_from(body).status == VideoStatus.PROCESSING


@pytest.mark.parametrize("code, words", [
    ("ERR_NON_VIDEO", "not a video"), ("ERR_MALFORMED_VIDEO", "damaged"),
    ("ERR_DURATION_TOO_SHORT", "too short"), ("ERR_SOMETHING_NEW", "could not process")])
def test_error_reasons_become_words_a_student_understands(code, words):
    body = cf.video_body("abc", "error")
    body["status"]["errorReasonCode"] = code
    info = video_info_from(body)
    assert info.status == VideoStatus.ERROR
    assert info.error_code == code
    assert words in info.error_message


def test_too_long_names_the_assignment_limit():
    body = cf.video_body("abc", "error")
    body["status"] = {"state": "error", "errReasonCode": "ERR_DURATION_EXCEED_CONSTRAINT"}
    info = video_info_from(body, max_duration_seconds=300)
    assert "at most 5 minutes" in info.error_message
    assert "longer than this assignment allows" in error_message(
        "ERR_DURATION_EXCEED_CONSTRAINT")


def test_expired_unused_upload_is_an_error():
    body = cf.video_body("abc", "pendingupload", uploadExpiry="2020-01-01T00:00:00Z")
    info = video_info_from(body)
    assert info.status == VideoStatus.ERROR and info.error_code == "upload_expired"


# --- playback -------------------------------------------------------------------------------

def test_playback_token_is_signed_locally_without_calling_the_api(storage, api):
    before = int(time.time())
    playback = storage.playback("abc123", viewer_id=1, video_id=2, ttl_seconds=300)
    assert len(api.calls) == 0
    assert playback.kind == PlaybackKind.IFRAME
    prefix = f"https://{cf.SUBDOMAIN}/"
    assert playback.url.startswith(prefix) and playback.url.endswith("/iframe")
    token = playback.url[len(prefix):-len("/iframe")]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == "key-1"
    claims = jwt.decode(token, cf.rsa_key().public_key(), algorithms=["RS256"])
    assert claims["sub"] == "abc123" and claims["kid"] == "key-1"
    assert before + 300 <= claims["exp"] <= int(time.time()) + 300
    assert claims["nbf"] <= before
    assert playback.expires_at.timestamp() == claims["exp"]
    assert playback.thumbnail_url == f"{prefix}{token}/thumbnails/thumbnail.jpg"


def test_playback_accepts_a_plain_pem_key(app, storage):
    app.config["CLOUDFLARE_SIGNING_KEY_PEM"] = cf.private_pem()
    url = storage.playback("abc", viewer_id=1, video_id=2, ttl_seconds=60).url
    token = url.split("/")[3]
    assert jwt.decode(token, cf.rsa_key().public_key(), algorithms=["RS256"])["sub"] == "abc"


def test_token_from_another_key_does_not_verify(storage):
    from cryptography.hazmat.primitives.asymmetric import rsa
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = storage.playback("abc", viewer_id=1, video_id=2, ttl_seconds=60).url.split("/")[3]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other.public_key(), algorithms=["RS256"])


def test_without_signing_key_the_token_endpoint_is_used(app, storage, api):
    app.config["CLOUDFLARE_SIGNING_KEY_ID"] = ""
    api.add(responses.POST, f"{cf.STREAM}/abc/token", json=cf.envelope({"token": "tok.en.sig"}))
    playback = storage.playback("abc", viewer_id=1, video_id=2, ttl_seconds=120)
    assert playback.url == f"https://{cf.SUBDOMAIN}/tok.en.sig/iframe"
    import json
    body = json.loads(api.calls[0].request.body)
    assert abs(body["exp"] - (time.time() + 120)) < 5


def test_unreadable_signing_key_falls_back_to_the_token_endpoint(app, storage, api, caplog):
    app.config["CLOUDFLARE_SIGNING_KEY_PEM"] = "not a key"
    api.add(responses.POST, f"{cf.STREAM}/abc/token", json=cf.envelope({"token": "t"}))
    with caplog.at_level(logging.ERROR):
        storage.playback("abc", viewer_id=1, video_id=2, ttl_seconds=60)
    assert "signing key unusable" in caplog.text


def test_playback_without_customer_subdomain_is_a_setup_error(app, storage):
    app.config["CLOUDFLARE_CUSTOMER_SUBDOMAIN"] = ""
    with pytest.raises(BackendUnavailable):
        storage.playback("abc", viewer_id=1, video_id=2, ttl_seconds=60)


def test_thumbnail_url_is_signed(storage):
    url = storage.thumbnail_url("abc", viewer_id=1, video_id=2, ttl_seconds=60)
    token = url.split("/")[3]
    assert url.endswith("/thumbnails/thumbnail.jpg")
    assert jwt.decode(token, cf.rsa_key().public_key(), algorithms=["RS256"])["sub"] == "abc"


# --- management -----------------------------------------------------------------------------

def test_delete_twice_is_fine(storage, api):
    api.add(responses.DELETE, f"{cf.STREAM}/abc", json=cf.envelope(""))
    api.add(responses.DELETE, f"{cf.STREAM}/abc", status=404,
            json=cf.envelope(None, False, [{"code": 10003, "message": "not found"}]))
    storage.delete("abc")
    storage.delete("abc")
    assert len(api.calls) == 2


def test_list_objects_pages_by_creation_time_and_keeps_only_ours(storage, api):
    ours = [cf.video_body(f"v{i}", created=f"2026-01-0{i}T00:00:00Z") for i in range(1, 4)]
    foreign = cf.video_body("x9", created="2026-01-02T12:00:00Z", meta={"name": "other app"})
    api.add(responses.GET, cf.STREAM, json=cf.envelope([ours[0], foreign]),
            match=[matchers.query_param_matcher({"asc": "true"})])
    api.add(responses.GET, cf.STREAM, json=cf.envelope([foreign, ours[1], ours[2]]),
            match=[matchers.query_param_matcher({"asc": "true",
                                                 "start": "2026-01-02T12:00:00Z"})])
    api.add(responses.GET, cf.STREAM, json=cf.envelope([ours[2]]),
            match=[matchers.query_param_matcher({"asc": "true",
                                                 "start": "2026-01-03T00:00:00Z"})])
    listed = list(storage.list_objects())
    assert [o.storage_uid for o in listed] == ["v1", "v2", "v3"]
    assert listed[0].created_at.year == 2026 and listed[0].size_bytes == 383631


def test_health_reports_storage_minutes(storage, api):
    api.add(responses.GET, f"{cf.STREAM}/storage-usage", json=cf.envelope(
        {"totalStorageMinutes": 120.5, "totalStorageMinutesLimit": 1000, "videoCount": 4}))
    health = storage.health()
    assert health.ok and "120 of 1000 storage minutes" in health.detail


def test_health_is_not_ok_when_storage_is_full_or_settings_missing(app, storage, api):
    api.add(responses.GET, f"{cf.STREAM}/storage-usage", json=cf.envelope(
        {"totalStorageMinutes": 1000, "totalStorageMinutesLimit": 1000}))
    assert not storage.health().ok
    app.config["CLOUDFLARE_CUSTOMER_SUBDOMAIN"] = ""
    health = storage.health()
    assert not health.ok and "CLOUDFLARE_CUSTOMER_SUBDOMAIN" in health.detail


# --- captions -------------------------------------------------------------------------------

def test_captions_upload_generate_list_delete(storage, api):
    api.add(responses.PUT, f"{cf.STREAM}/abc/captions/en",
            json=cf.envelope({"language": "en", "label": "English", "generated": False,
                              "status": "ready"}))
    api.add(responses.POST, f"{cf.STREAM}/abc/captions/fr/generate",
            json=cf.envelope({"language": "fr", "label": "Français (auto-generated)",
                              "generated": True, "status": "inprogress"}))
    api.add(responses.GET, f"{cf.STREAM}/abc/captions", json=cf.envelope([
        {"language": "en", "label": "English", "generated": False, "status": "ready"},
        {"language": "fr", "label": "Français (auto-generated)", "generated": True,
         "status": "inprogress"}]))
    api.add(responses.DELETE, f"{cf.STREAM}/abc/captions/fr", json=cf.envelope(""))

    storage.upload_captions("abc", "en", b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n")
    sent = api.calls[0].request
    assert b"WEBVTT" in sent.body and b'name="file"' in sent.body
    storage.generate_captions("abc", "fr")
    captions = storage.list_captions("abc")
    assert captions[1] == {"language": "fr", "label": "Français (auto-generated)",
                           "generated": True, "status": "inprogress"}
    storage.delete_captions("abc", "fr")


@pytest.mark.parametrize("tag", ["", "en/../../keys", "e n", "x" * 40])
def test_caption_language_must_be_a_language_tag(storage, tag):
    with pytest.raises(ToolError):
        storage.generate_captions("abc", tag)


@pytest.mark.parametrize("given", ["customer-abc123.cloudflarestream.com",
                                   "https://customer-abc123.cloudflarestream.com/",
                                   "http://customer-abc123.cloudflarestream.com",
                                   "HTTPS://customer-abc123.cloudflarestream.com"])
def test_customer_subdomain_is_one_https_origin_however_given(app, storage, given):
    app.config["CLOUDFLARE_CUSTOMER_SUBDOMAIN"] = given
    assert storage._delivery_origin() == "https://customer-abc123.cloudflarestream.com"

