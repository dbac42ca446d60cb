""""Test connection" (Capability.CONNECTION_CHECK) of each backend, for real: the local disk
in a temporary folder, S3 against moto's server over HTTP, Cloudflare Stream's API faked by
`responses`. Each failure an admin can meet is said in words that name the cure."""
from __future__ import annotations

from contextlib import contextmanager

import boto3
import pytest
import requests
import responses

from lti_tool.storage.base import Capability, CheckStatus
from lti_tool.storage.cloudflare.backend import CloudflareStorage
from lti_tool.storage.local.backend import LocalStorage
from lti_tool.storage.s3.backend import S3Storage

from . import cloudflare_fake as cf
from .s3_server import REGION, admin_client, cors_rules, moto_server, s3_settings  # noqa: F401

ORIGIN = "https://video.example.edu"


def statuses(checks) -> dict[str, CheckStatus]:
    return {c.name: c.status for c in checks}


def message(checks, name: str) -> str:
    return next(c.message for c in checks if c.name == name)


@pytest.mark.parametrize("backend", [LocalStorage, S3Storage, CloudflareStorage])
def test_every_backend_declares_the_check(backend):
    assert Capability.CONNECTION_CHECK in backend.capabilities


# ---- local disk ----

def local(app, folder, **config):
    return LocalStorage(dict(app.config, LOCAL_STORAGE_DIR=str(folder), **config))


def test_local_folder_that_works(app, tmp_path):
    with app.app_context():
        checks = local(app, tmp_path / "media").check_connection(ORIGIN)
    assert statuses(checks)["Folder exists"] == CheckStatus.PASSED
    assert statuses(checks)["Folder is writable"] == CheckStatus.PASSED
    assert "free" in message(checks, "Free space")
    assert not list((tmp_path / "media").iterdir())  # the probe file is gone


def test_local_folder_that_cannot_be_created(app, tmp_path):
    (tmp_path / "a-file").write_text("x")
    with app.app_context():
        checks = local(app, tmp_path / "a-file" / "media").check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED]
    assert "cannot be created" in checks[0].message and "LOCAL_STORAGE_DIR" in checks[0].message


def test_local_path_that_is_a_file(app, tmp_path):
    (tmp_path / "media").write_text("x")
    with app.app_context():
        checks = local(app, tmp_path / "media").check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED] and "is a file" in checks[0].message


def test_local_disk_without_room_for_one_upload(app, tmp_path):
    with app.app_context():
        checks = local(app, tmp_path, MAX_UPLOAD_BYTES=10**18).check_connection(ORIGIN)
    assert statuses(checks)["Free space"] == CheckStatus.FAILED
    assert "less than one upload" in message(checks, "Free space")


# ---- S3 through moto's server ----

@pytest.fixture
def bucket(moto_server):
    name = "checks-videos"
    client = admin_client(moto_server)
    try:
        client.create_bucket(Bucket=name)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    client.put_bucket_cors(Bucket=name, CORSConfiguration=cors_rules(ORIGIN))
    return name


def s3(app, endpoint, bucket, **overrides):
    return S3Storage(dict(app.config, **s3_settings(endpoint, bucket, **overrides)))


@contextmanager
def moto_checks_credentials(endpoint):
    """Make moto check every request's credentials against its IAM (off by default)."""
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    try:
        yield
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)


def test_s3_that_works(app, moto_server, bucket):
    with app.test_request_context():
        checks = s3(app, moto_server, bucket).check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.PASSED] * 4, checks
    assert [c.name for c in checks] == ["Credentials", "Bucket exists and is reachable",
                                        "Videos can be written and deleted",
                                        "Browser uploads (CORS)"]
    keys = admin_client(moto_server).list_objects_v2(Bucket=bucket).get("Contents", [])
    assert not keys  # the test file was deleted


def test_s3_missing_bucket(app, moto_server):
    with app.test_request_context():
        checks = s3(app, moto_server, "no-such-bucket-here").check_connection(ORIGIN)
    assert statuses(checks) == {"Credentials": CheckStatus.PASSED,
                                "Bucket exists and is reachable": CheckStatus.FAILED}
    assert "no bucket named no-such-bucket-here" in checks[-1].message
    assert "Create it" in checks[-1].message


def test_s3_bucket_without_cors_for_the_tool(app, moto_server, bucket):
    admin_client(moto_server).delete_bucket_cors(Bucket=bucket)
    with app.test_request_context():
        checks = s3(app, moto_server, bucket).check_connection(ORIGIN)
    assert statuses(checks)["Browser uploads (CORS)"] == CheckStatus.FAILED
    assert f"no CORS rule allows the origin {ORIGIN}" in checks[-1].message
    assert "docs/storage-s3.md" in checks[-1].message


def test_s3_cors_that_hides_the_etag(app, moto_server, bucket):
    rules = cors_rules(ORIGIN)
    rules["CORSRules"][0]["ExposeHeaders"] = []
    admin_client(moto_server).put_bucket_cors(Bucket=bucket, CORSConfiguration=rules)
    with app.test_request_context():
        checks = s3(app, moto_server, bucket).check_connection(ORIGIN)
    assert statuses(checks)["Browser uploads (CORS)"] == CheckStatus.FAILED
    assert "ExposeHeaders lacks ETag" in checks[-1].message


def test_s3_unknown_access_key(app, moto_server, bucket):
    with app.test_request_context(), moto_checks_credentials(moto_server):
        checks = s3(app, moto_server, bucket, S3_ACCESS_KEY_ID="AKIANOTAREALKEY1",
                    S3_SECRET_ACCESS_KEY="nope").check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED]
    assert "does not know this access key id" in checks[0].message


def test_s3_wrong_secret_for_a_real_key(app, moto_server, bucket):
    iam = boto3.client("iam", endpoint_url=moto_server, region_name=REGION,
                       aws_access_key_id="a", aws_secret_access_key="b")
    try:
        iam.create_user(UserName="uploader")
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    key = iam.create_access_key(UserName="uploader")["AccessKey"]
    with app.test_request_context(), moto_checks_credentials(moto_server):
        checks = s3(app, moto_server, bucket, S3_ACCESS_KEY_ID=key["AccessKeyId"],
                    S3_SECRET_ACCESS_KEY="not-" + key["SecretAccessKey"]).check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED]
    assert "secret access key does not match" in checks[0].message
    assert key["SecretAccessKey"] not in checks[0].message


def test_s3_endpoint_that_does_not_answer(app):
    from .s3_server import free_port
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with app.test_request_context():
        checks = s3(app, closed, "checks-videos").check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED]
    assert f"could not reach {closed}" in checks[0].message


def test_s3_without_a_bucket_name(app, moto_server):
    with app.test_request_context():
        checks = s3(app, moto_server, "").check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED] and "No bucket" in checks[0].message


# ---- Cloudflare Stream through `responses` ----

@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def cloudflare(app, **overrides):
    return CloudflareStorage(dict(app.config, **cf.settings(**overrides)))


def answer(api, path, result=None, status=200, errors=None):
    api.get(f"{cf.STREAM}{path}", status=status,
            json=cf.envelope(result, success=status < 300, errors=errors))


def working(api, webhook_url="http://localhost/webhooks/cloudflare"):
    answer(api, "/storage-usage", {"totalStorageMinutes": 120, "totalStorageMinutesLimit": 1000})
    answer(api, "/keys", [{"id": "key-1", "created": "2026-01-01T00:00:00Z"}])
    answer(api, "/webhook", {"notificationUrl": webhook_url, "secret": cf.WEBHOOK_SECRET,
                             "modified": "2026-01-01T00:00:00Z"})


def test_cloudflare_that_works(app, api):
    from flask import url_for
    with app.test_request_context():
        working(api, "http://localhost" + url_for("webhooks.cloudflare_stream"))
        checks = cloudflare(app).check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.PASSED] * 3, checks
    assert "120 of 1,000 storage minutes used" in checks[0].message
    assert all(call.request.headers["Authorization"] == f"Bearer {cf.TOKEN}"
               for call in api.calls)
    assert not any(cf.TOKEN in c.message or cf.WEBHOOK_SECRET in c.message for c in checks)


def test_cloudflare_token_refused(app, api):
    answer(api, "/storage-usage", status=403,
           errors=[{"code": 10000, "message": "Authentication error"}])
    with app.test_request_context():
        checks = cloudflare(app).check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED]
    assert "refused the API token" in checks[0].message and "Stream:Edit" in checks[0].message
    assert len(api.calls) == 1  # once, no retries


def test_cloudflare_unknown_account(app, api):
    answer(api, "/storage-usage", status=404, errors=[{"code": 7003, "message": "No route"}])
    with app.test_request_context():
        checks = cloudflare(app).check_connection(ORIGIN)
    assert "no Stream account with the id acct123" in checks[0].message


def test_cloudflare_signing_key_that_cloudflare_does_not_have(app, api):
    working(api)
    api.replace(responses.GET, f"{cf.STREAM}/keys",
                json=cf.envelope([{"id": "another-key", "created": "2026-01-01T00:00:00Z"}]))
    with app.test_request_context():
        checks = cloudflare(app).check_connection(ORIGIN)
    assert statuses(checks)["Signing key"] == CheckStatus.FAILED
    assert "no signing key with the id key-1" in message(checks, "Signing key")
    assert "cloudflare-create-signing-key" in message(checks, "Signing key")


def test_cloudflare_without_a_signing_key_still_plays(app, api):
    working(api)
    with app.test_request_context():
        checks = cloudflare(app, CLOUDFLARE_SIGNING_KEY_ID="",
                            CLOUDFLARE_SIGNING_KEY_PEM="").check_connection(ORIGIN)
    assert statuses(checks)["Signing key"] == CheckStatus.WARNING
    assert "videos still play" in message(checks, "Signing key")


def test_cloudflare_unreadable_signing_key(app, api):
    working(api)
    with app.test_request_context():
        checks = cloudflare(app, CLOUDFLARE_SIGNING_KEY_PEM="bm90IGEga2V5").check_connection(
            ORIGIN)
    assert statuses(checks)["Signing key"] == CheckStatus.FAILED
    assert "cannot be read" in message(checks, "Signing key")


def test_cloudflare_webhook_missing_elsewhere_or_with_another_secret(app, api):
    from flask import url_for
    with app.test_request_context():
        ours = "http://localhost" + url_for("webhooks.cloudflare_stream")
        working(api, ours)
        api.replace(responses.GET, f"{cf.STREAM}/webhook", status=404,
                    json=cf.envelope(None, False, [{"code": 10002, "message": "not found"}]))
        assert statuses(cloudflare(app).check_connection(ORIGIN))["Webhook"] == \
            CheckStatus.WARNING
        api.replace(responses.GET, f"{cf.STREAM}/webhook", json=cf.envelope(
            {"notificationUrl": "https://old-tool.example.edu/hook", "secret": "x"}))
        checks = cloudflare(app).check_connection(ORIGIN)
        assert statuses(checks)["Webhook"] == CheckStatus.FAILED
        assert "not to this tool" in message(checks, "Webhook")
        api.replace(responses.GET, f"{cf.STREAM}/webhook", json=cf.envelope(
            {"notificationUrl": ours, "secret": "a-newer-secret"}))
        checks = cloudflare(app).check_connection(ORIGIN)
        assert statuses(checks)["Webhook"] == CheckStatus.FAILED
        assert "not the one Cloudflare signs with" in message(checks, "Webhook")
        assert "a-newer-secret" not in message(checks, "Webhook")


def test_cloudflare_without_account_settings_asks_for_them(app, api):
    with app.test_request_context():
        checks = cloudflare(app, CLOUDFLARE_API_TOKEN="").check_connection(ORIGIN)
    assert [c.status for c in checks] == [CheckStatus.FAILED]
    assert "Enter the API token" in checks[0].message and not api.calls
