"""S3Storage against moto's S3 server over real HTTP: multipart parts PUT to presigned URLs,
range requests on playback URLs, CloudFront signing, cleanup and error translation."""
from __future__ import annotations

import base64
import json
import os
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lti_tool.errors import StorageError
from lti_tool.statuses import VideoStatus
from lti_tool.storage import current_storage
from lti_tool.storage.base import (BackendUnavailable, Capability, PlaybackKind, UploadMethod,
                                   UploadNotFound, UploadRequest, UploadTooLarge)
from lti_tool.storage.s3.backend import MAX_PARTS, MIB, part_count_for, part_size_for

from .s3_server import (admin_client, app_config, cors_rules, moto_server, put_parts,  # noqa: F401
                        s3_bucket)

GIB = 1024 * MIB


@pytest.fixture
def storage(app):
    with app.app_context():
        yield current_storage()


def make_file(size: int) -> bytes:
    return os.urandom(size)


def start(storage, data: bytes, **kw):
    values = dict(video_id=5, owner_id=9, filename="My Pitch.MP4", size_bytes=len(data),
                  content_type="video/mp4", key_hint="p1/c2/a3/s4")
    values.update(kw)
    return storage.create_upload(UploadRequest(**values))


def upload_whole(storage, data: bytes, **kw):
    ticket = start(storage, data, **kw)
    storage.complete_multipart(ticket.storage_uid, ticket.backend_data,
                               put_parts(storage, ticket, data))
    return ticket


# --- part sizes -----------------------------------------------------------------------------

@pytest.mark.parametrize("size, part", [
    (1, 8 * MIB), (100 * MIB, 8 * MIB), (5 * GIB, 8 * MIB), (100 * GIB, 11 * MIB)])
def test_part_size_is_8_mib_or_enough_for_10000_parts(size, part):
    assert part_size_for(size) == part


@pytest.mark.parametrize("size", [1, 5 * GIB, 80 * GIB, 5 * 1024 * GIB])
def test_any_size_fits_in_10000_parts_of_whole_mib(size):
    part = part_size_for(size)
    assert part % MIB == 0 and part >= 5 * MIB
    assert part_count_for(size, part) <= MAX_PARTS


# --- multipart upload -----------------------------------------------------------------------

def test_backend_declares_multipart_signed_playback_and_download(storage):
    assert storage.supports(Capability.MULTIPART)
    assert storage.supports(Capability.DOWNLOAD)
    assert not storage.supports(Capability.TUS)


def test_create_upload_starts_a_multipart_upload_under_the_prefix(storage, moto_server,
                                                                 s3_bucket):
    ticket = start(storage, b"x" * (20 * MIB))
    assert ticket.method == UploadMethod.MULTIPART
    assert ticket.endpoint is None
    assert ticket.chunk_size == 8 * MIB
    assert ticket.backend_data["part_count"] == 3
    assert ticket.backend_data["size"] == 20 * MIB
    assert ticket.storage_uid.startswith("videos/p1/c2/a3/s4/5-")
    assert ticket.storage_uid.endswith(".mp4")
    uploads = admin_client(moto_server).list_multipart_uploads(Bucket=s3_bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [ticket.backend_data["upload_id"]]


def test_parts_put_over_http_complete_into_the_exact_file(storage, moto_server, s3_bucket):
    data = make_file(17 * MIB + 12345)
    ticket = upload_whole(storage, data)
    stored = admin_client(moto_server).get_object(Bucket=s3_bucket, Key=ticket.storage_uid)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "video/mp4"
    info = storage.inspect(ticket.storage_uid, ticket.backend_data)
    assert info.status == VideoStatus.READY and info.size_bytes == len(data)


def test_list_parts_tells_a_reloaded_page_what_is_already_there(storage):
    data = make_file(17 * MIB)
    ticket = start(storage, data)
    sent = put_parts(storage, ticket, data, numbers=[1, 3])
    parts = storage.list_parts(ticket.storage_uid, ticket.backend_data)
    assert [(p["part_number"], p["size"]) for p in parts] == [(1, 8 * MIB), (3, 1 * MIB)]
    assert parts[0]["etag"] == sent[0]["etag"]
    info = storage.inspect(ticket.storage_uid, ticket.backend_data)
    assert info.status == VideoStatus.UPLOADING and info.size_bytes == 9 * MIB
    put_parts(storage, ticket, data, numbers=[2])
    storage.complete_multipart(ticket.storage_uid, ticket.backend_data, [])
    assert storage.inspect(ticket.storage_uid, ticket.backend_data).status == VideoStatus.READY


def test_complete_refuses_while_a_part_is_missing(storage):
    data = make_file(17 * MIB)
    ticket = start(storage, data)
    put_parts(storage, ticket, data, numbers=[1, 3])
    with pytest.raises(StorageError) as err:
        storage.complete_multipart(ticket.storage_uid, ticket.backend_data, [])
    assert err.value.code == "upload_incomplete" and err.value.http_status == 409


def test_complete_refuses_when_the_browser_saw_another_etag(storage):
    data = make_file(9 * MIB)
    ticket = start(storage, data)
    put_parts(storage, ticket, data)
    with pytest.raises(StorageError) as err:
        storage.complete_multipart(ticket.storage_uid, ticket.backend_data,
                                   [{"part_number": 1, "etag": '"0123456789abcdef"'}])
    assert err.value.code == "etag_mismatch"


@pytest.mark.parametrize("numbers", [[0], [4], [-1], [True], list(range(1, 102))])
def test_sign_parts_refuses_part_numbers_outside_the_file(storage, numbers):
    ticket = start(storage, b"x" * (17 * MIB))
    if numbers == list(range(1, 102)):
        ticket.backend_data["part_count"] = 200
    with pytest.raises(StorageError) as err:
        storage.sign_parts(ticket.storage_uid, ticket.backend_data, numbers)
    assert err.value.http_status == 400


def test_part_urls_are_short_lived_and_carry_no_credentials_beyond_a_signature(app, storage):
    app.config["S3_PART_URL_TTL_SECONDS"] = 900
    ticket = start(storage, b"x" * MIB)
    url = storage.sign_parts(ticket.storage_uid, ticket.backend_data, [1])[0].url
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"]
    assert "X-Amz-Signature" in query
    assert "testing-secret-key" not in url


def test_part_urls_bind_each_parts_exact_length(storage, monkeypatch):
    """S3 refuses a PUT whose Content-Length differs from the signed one (moto does not check)."""
    ticket = start(storage, b"x" * (17 * MIB + 5))
    lengths = {}
    real = storage.client().generate_presigned_url

    def spy(method, Params, **kw):
        lengths[Params["PartNumber"]] = Params["ContentLength"]
        return real(method, Params=Params, **kw)

    monkeypatch.setattr(storage.client(), "generate_presigned_url", spy)
    urls = storage.sign_parts(ticket.storage_uid, ticket.backend_data, [1, 2, 3])
    assert lengths == {1: 8 * MIB, 2: 8 * MIB, 3: MIB + 5}
    for part in urls:
        signed = parse_qs(urlsplit(part.url).query)["X-Amz-SignedHeaders"][0]
        assert signed.split(";") == ["content-length", "host"]


def test_abort_frees_the_upload_and_twice_is_fine(storage, moto_server, s3_bucket):
    data = make_file(9 * MIB)
    ticket = start(storage, data)
    put_parts(storage, ticket, data, numbers=[1])
    storage.abort_multipart(ticket.storage_uid, ticket.backend_data)
    storage.abort_multipart(ticket.storage_uid, ticket.backend_data)
    assert "Uploads" not in admin_client(moto_server).list_multipart_uploads(Bucket=s3_bucket)
    with pytest.raises(UploadNotFound):
        storage.list_parts(ticket.storage_uid, ticket.backend_data)
    with pytest.raises(UploadNotFound):
        storage.inspect(ticket.storage_uid, ticket.backend_data)


def test_empty_and_oversized_files_are_refused(app, storage):
    with pytest.raises(StorageError):
        start(storage, b"")
    app.config["MAX_UPLOAD_BYTES"] = 10 * MIB
    with pytest.raises(UploadTooLarge):
        start(storage, b"", size_bytes=11 * MIB)


# --- playback -------------------------------------------------------------------------------

def test_presigned_playback_serves_byte_ranges(storage):
    data = make_file(9 * MIB + 7)
    ticket = upload_whole(storage, data)
    playback = storage.playback(ticket.storage_uid, viewer_id=1, video_id=5, ttl_seconds=120)
    assert playback.kind == PlaybackKind.FILE
    assert parse_qs(urlsplit(playback.url).query)["X-Amz-Expires"] == ["120"]
    whole = requests.get(playback.url, timeout=30)
    assert whole.status_code == 200 and whole.content == data
    part = requests.get(playback.url, headers={"Range": "bytes=1000-1999"}, timeout=30)
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"


def test_download_url_names_the_file(storage):
    data = make_file(MIB)
    ticket = upload_whole(storage, data)
    url = storage.download_url(ticket.storage_uid, viewer_id=1, video_id=5, ttl_seconds=60,
                               filename="Ma vidéo.mp4")
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and resp.content == data
    # S3 answers with this header (moto ignores response-* overrides); it is signed in.
    disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
    assert disposition.startswith('attachment; filename="Ma vid_o.mp4"')
    assert "filename*=UTF-8''Ma%20vid%C3%A9o.mp4" in disposition


@pytest.fixture
def cloudfront_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cloudfront_settings(app, key, as_path=None):
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    if as_path is not None:
        as_path.write_text(pem)
        pem = str(as_path)
    app.config.update(CLOUDFRONT_DOMAIN="d111111abcdef8.cloudfront.net",
                      CLOUDFRONT_KEY_PAIR_ID="K2JCJMDEHXQW5F", CLOUDFRONT_PRIVATE_KEY_PEM=pem)


def _cloudfront_b64decode(value: str) -> bytes:
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))


@pytest.mark.parametrize("key_in_file", [False, True])
def test_cloudfront_signed_url_verifies_with_the_key_groups_public_key(
        app, storage, cloudfront_key, tmp_path, key_in_file):
    cloudfront_settings(app, cloudfront_key, tmp_path / "cf.pem" if key_in_file else None)
    playback = storage.playback("videos/a b/1.mp4", viewer_id=1, video_id=1, ttl_seconds=300)
    parts = urlsplit(playback.url)
    assert parts.netloc == "d111111abcdef8.cloudfront.net"
    assert parts.path == "/videos/a%20b/1.mp4"
    query = parse_qs(parts.query)
    assert query["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
    expires = int(query["Expires"][0])
    assert abs(expires - playback.expires_at.timestamp()) < 2
    resource = playback.url.split("?")[0]
    policy = json.dumps({"Statement": [{"Resource": resource, "Condition": {
        "DateLessThan": {"AWS:EpochTime": expires}}}]}, separators=(",", ":"))
    cloudfront_key.public_key().verify(_cloudfront_b64decode(query["Signature"][0]),
                                       policy.encode(), padding.PKCS1v15(), hashes.SHA1())


def test_unreadable_cloudfront_key_falls_back_to_s3_urls(app, storage, caplog):
    app.config.update(CLOUDFRONT_DOMAIN="d1.cloudfront.net", CLOUDFRONT_KEY_PAIR_ID="K1",
                      CLOUDFRONT_PRIVATE_KEY_PEM="/no/such/key.pem")
    playback = storage.playback("videos/x.mp4", viewer_id=1, video_id=1, ttl_seconds=60)
    assert "X-Amz-Signature" in playback.url
    assert "CloudFront private key unusable" in caplog.text


# --- management -----------------------------------------------------------------------------

def test_delete_removes_the_object_and_twice_is_fine(storage, moto_server, s3_bucket):
    ticket = upload_whole(storage, make_file(MIB))
    storage.delete(ticket.storage_uid, ticket.backend_data)
    storage.delete(ticket.storage_uid, ticket.backend_data)
    assert "Contents" not in admin_client(moto_server).list_objects_v2(Bucket=s3_bucket)
    with pytest.raises(UploadNotFound):
        storage.inspect(ticket.storage_uid)


def test_delete_of_an_unfinished_upload_aborts_it(storage, moto_server, s3_bucket):
    data = make_file(9 * MIB)
    ticket = start(storage, data)
    put_parts(storage, ticket, data, numbers=[1])
    storage.delete(ticket.storage_uid, ticket.backend_data)
    assert "Uploads" not in admin_client(moto_server).list_multipart_uploads(Bucket=s3_bucket)


def test_list_objects_yields_only_the_prefix(storage, moto_server, s3_bucket):
    admin_client(moto_server).put_object(Bucket=s3_bucket, Key="other-app/file", Body=b"x")
    ticket = upload_whole(storage, make_file(1000))
    listed = list(storage.list_objects())
    assert [(o.storage_uid, o.size_bytes) for o in listed] == [(ticket.storage_uid, 1000)]
    assert listed[0].created_at.tzinfo is not None


def test_stale_uploads_are_those_started_long_ago(storage):
    # moto reports every upload as initiated on 2010-11-10, so "long ago" is measured from it.
    ticket = start(storage, b"x" * MIB)
    assert list(storage.stale_uploads(timedelta(days=365 * 40))) == []
    assert list(storage.stale_uploads(timedelta(hours=48))) == [
        (ticket.storage_uid, ticket.backend_data["upload_id"])]


def test_cors_check_names_what_is_missing(storage, moto_server, s3_bucket):
    origin = "https://tool.example.edu"
    assert storage.cors_problems(origin) == [f"no CORS rule allows the origin {origin}"]
    rules = cors_rules(origin)
    admin_client(moto_server).put_bucket_cors(Bucket=s3_bucket, CORSConfiguration=rules)
    assert storage.cors_problems(origin) == []
    del rules["CORSRules"][0]["ExposeHeaders"]
    admin_client(moto_server).put_bucket_cors(Bucket=s3_bucket, CORSConfiguration=rules)
    assert any("ETag" in p for p in storage.cors_problems(origin))


def test_health_reports_a_reachable_bucket_and_a_missing_one(app, storage):
    assert storage.health().ok
    app.config["S3_BUCKET"] = "no-such-bucket-here"
    health = storage.health()
    assert not health.ok and "not set up correctly" in health.detail


def test_missing_bucket_is_a_setup_error_for_uploads(app, storage, caplog):
    app.config["S3_BUCKET"] = "no-such-bucket-here"
    with pytest.raises(BackendUnavailable):
        start(storage, b"x" * MIB)
    assert "NoSuchBucket" in caplog.text
    assert "testing-secret-key" not in caplog.text


def test_unreachable_endpoint_is_a_busy_error(app, storage):
    from .s3_server import free_port
    app.config["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    app.config["S3_MAX_ATTEMPTS"] = 2
    with pytest.raises(BackendUnavailable) as err:
        start(storage, b"x" * MIB)
    assert "try again" in err.value.message
