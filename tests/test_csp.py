"""The Content-Security-Policy of the tool's pages, HSTS, and the /csp-report endpoint.

The policy names exactly the storage backend's origins (from settings: the tests' fake
Stream and moto run on loopback) and, for framing and form posts, the LMS registrations'.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.extensions import db
from lti_tool.storage import current_storage
from lti_tool.web import csp
from tests import cloudflare_fake as cf
from tests.factories import Classroom, make_platform
from tests.platform_kit import TestPlatform, browser, platform  # noqa: F401  (fixtures)
from tests.s3_server import moto_server, s3_bucket, s3_settings  # noqa: F401


@pytest.fixture
def app_config(app_config, request):
    """Settings for the test's app; `indirect` parametrization adds some."""
    app_config.update(getattr(request, "param", {}))
    return app_config


def policy_of(resp) -> dict[str, str]:
    """Return the response's CSP as {directive: sources}."""
    header = resp.headers.get("Content-Security-Policy")
    assert header, f"{resp.request.path} has no Content-Security-Policy"
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_pages_get_a_strict_policy_and_data_gets_none(client):
    for path in ("/", "/lti/config", "/assignment", "/demo-lms/"):
        policy = policy_of(client.get(path))
        assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert policy["style-src"] == "'self'" and policy["default-src"] == "'self'"
        assert policy["base-uri"] == "'none'" and policy["object-src"] == "'none'"
        assert policy["worker-src"] == "'self'"  # our own worker scripts, no blob:
        assert policy["report-uri"] == "/csp-report" and policy["report-to"] == "csp"
    resp = client.get("/lti/config")
    assert resp.headers["Reporting-Endpoints"] == 'csp="http://localhost/csp-report"'
    assert "Content-Security-Policy" not in client.get("/lti/jwks").headers


LOCAL = {"script-src": "'self'", "img-src": "'self' data:", "media-src": "'self' blob:",
         "connect-src": "'self'", "frame-src": "'self'", "worker-src": "'self'"}
STREAM_SUBDOMAIN = f"https://{cf.SUBDOMAIN}"


@pytest.mark.parametrize("settings,expected", [
    ({}, LOCAL),
    (cf.settings(CLOUDFLARE_UPLOAD_ORIGINS="http://127.0.0.1:4567"), {
        "script-src": "'self' https://embed.cloudflarestream.com",
        "img-src": f"'self' data: {STREAM_SUBDOMAIN}", "media-src": "'self' blob:",
        "connect-src": "'self' http://127.0.0.1:4567",
        "frame-src": f"'self' {STREAM_SUBDOMAIN}", "worker-src": "'self'"}),
    (cf.settings(), {  # the default tus upload hosts
        "script-src": "'self' https://embed.cloudflarestream.com",
        "img-src": f"'self' data: {STREAM_SUBDOMAIN}", "media-src": "'self' blob:",
        "connect-src": "'self' https://upload.videodelivery.net https://upload.cloudflarestream.com",
        "frame-src": f"'self' {STREAM_SUBDOMAIN}", "worker-src": "'self'"}),
], ids=["local", "cloudflare", "cloudflare-default-upload-hosts"])
def test_the_policy_names_exactly_the_storage_providers_origins(app, settings, expected):
    app.config.update(settings)
    policy = policy_of(app.test_client().get("/"))
    assert {k: policy[k] for k in expected} == expected


def test_s3_origins_are_those_of_its_presigned_urls(app, moto_server, s3_bucket):
    app.config.update(s3_settings(moto_server, s3_bucket))
    policy = policy_of(app.test_client().get("/"))
    assert policy["connect-src"] == f"'self' {moto_server}"
    assert policy["media-src"] == f"'self' blob: {moto_server}"
    assert policy["script-src"] == "'self'" and policy["frame-src"] == "'self'"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_s3_on_aws_and_cloudfront(app):
    app.config.update({"STORAGE_BACKEND": "s3", "S3_BUCKET": "va-videos",
                       "S3_REGION": "eu-west-1", "S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
                       "S3_SECRET_ACCESS_KEY": "example-secret"})
    with app.test_request_context():
        backend = current_storage()
        played = backend.playback("videos/a.mp4", viewer_id=1, video_id=1, ttl_seconds=60)
    bucket = _origin(played.url)
    assert bucket.startswith("https://va-videos.s3")
    policy = policy_of(app.test_client().get("/"))
    assert policy["connect-src"] == f"'self' {bucket}"
    assert policy["media-src"] == f"'self' blob: {bucket}"

    app.config.update({"CLOUDFRONT_DOMAIN": "d111.cloudfront.net",
                       "CLOUDFRONT_KEY_PAIR_ID": "K2JCJMDEHXQW5F",
                       "CLOUDFRONT_PRIVATE_KEY_PEM": cf.private_pem()})
    app.extensions.pop("lti_tool.web.csp")  # the policy's parts are cached for a minute
    policy = policy_of(app.test_client().get("/"))
    assert policy["media-src"] == f"'self' blob: {bucket} https://d111.cloudfront.net"


def test_after_an_admin_switches_storage_old_videos_keep_their_origins(app):
    """The active backend's origins show at once after a switch on the settings page, and a
    backend that still holds videos keeps its own, so those videos play on."""
    from lti_tool.settings import set_setting
    from tests.housekeeping_fixtures import make_video
    app.config.update(cf.settings(STORAGE_BACKEND="local"), S3_ACCESS_KEY_ID="AKIAEXAMPLE",
                      S3_SECRET_ACCESS_KEY="example-secret")
    client = app.test_client()
    assert policy_of(client.get("/"))["frame-src"] == "'self'"
    with app.app_context():
        room = Classroom()
        make_video(room.assignment, room.student, backend="cloudflare", storage_uid="cf-1")
        set_setting("STORAGE_BACKEND", "s3")
        set_setting("S3_BUCKET", "va-videos")
        db.session.commit()
    policy = policy_of(client.get("/"))  # no minute's wait: the active backend changed
    assert "https://va-videos.s3" in policy["connect-src"]
    assert policy["frame-src"] == f"'self' {STREAM_SUBDOMAIN}"  # the old Stream videos
    assert "https://embed.cloudflarestream.com" in policy["script-src"]


def test_a_broken_storage_setting_leaves_the_page_with_a_policy(app, caplog):
    app.config.update(cf.settings(CLOUDFLARE_UPLOAD_ORIGINS="https://up.example; script-src *"))
    policy = policy_of(app.test_client().get("/"))
    assert policy["connect-src"] == "'self'" and "script-src *" not in str(policy)
    assert "not an origin" in caplog.text


# ---- frame-ancestors and form-action: the LMS registrations ----
def test_a_page_with_a_launch_may_be_framed_by_its_platform_only(app, client):
    with app.app_context():
        other = make_platform(issuer="https://other.example.edu")
        room = Classroom()
        launch = room.launch(room.student)
        issuer, launch_id = room.platform.issuer, launch.id
        db.session.commit()
        assert other.issuer not in issuer
    policy = policy_of(client.get(f"/assignment?launch={launch_id}"))
    assert policy["frame-ancestors"] == f"'self' {issuer}"
    assert policy["form-action"] == f"'self' {issuer}"


def test_the_policy_is_worked_out_once_and_follows_a_changed_registration(app, client,
                                                                          monkeypatch):
    with app.app_context():
        room = Classroom()
        launch = room.launch(room.student)
        platform_id, issuer, launch_id = room.platform.id, room.platform.issuer, launch.id
        db.session.commit()
    computed = []
    real = csp.build_policy
    monkeypatch.setattr(csp, "build_policy",
                        lambda *a, **kw: computed.append(a) or real(*a, **kw))
    first = client.get(f"/assignment?launch={launch_id}").headers[csp.CSP_HEADER]
    again = client.get(f"/assignment?launch={launch_id}").headers[csp.CSP_HEADER]
    assert again == first and len(computed) == 1  # remembered, not rebuilt per page
    with app.app_context():
        platform = db.session.get(type(room.platform), platform_id)
        platform.extra_origins = ["https://school.example.org"]
        db.session.commit()
    policy = policy_of(client.get(f"/assignment?launch={launch_id}"))
    assert policy["frame-ancestors"] == f"'self' {issuer} https://school.example.org"
    assert len(computed) == 2


def test_without_a_launch_every_active_registration_may_frame(app, client):
    with app.app_context():
        make_platform(issuer="https://moodle.example.edu")
        make_platform(issuer="https://canvas.instructure.com")
        make_platform(issuer="https://gone.example.edu", active=False)
        db.session.commit()
    policy = policy_of(client.get("/lti/config"))
    assert policy["frame-ancestors"] == ("'self' https://moodle.example.edu "
                                         "https://canvas.instructure.com "
                                         "https://*.instructure.com")


def test_the_login_page_may_be_framed_by_the_logging_in_platform_only(app, browser):
    with app.app_context():
        make_platform(issuer="https://other.example.edu")
        db.session.commit()
    resp = browser.session.get(browser.tool_url + "/lti/login", params=browser.login_params(),
                               headers={"Sec-Fetch-Dest": "iframe"}, allow_redirects=False)
    assert resp.status_code == 200  # the cookie check page
    assert policy_of(resp)["frame-ancestors"] == f"'self' {browser.platform.url}"


def test_the_registration_page_may_be_framed_by_the_registering_lms(app, live_server):
    lms = TestPlatform()
    lms.registration_mode = "config_500"  # the error page too must show inside the LMS
    try:
        resp = requests.get(f"{live_server.url}/lti/register", params={
            "openid_configuration": f"{lms.url}/.well-known/openid-configuration"}, timeout=20)
    finally:
        lms.stop()
    assert resp.status_code == 502
    assert policy_of(resp)["frame-ancestors"] == f"'self' {lms.url}"


# ---- HSTS ----
def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# ---- /csp-report ----
CSP2_REPORT = {"csp-report": {
    "document-uri": "https://video.example.edu/assignment?launch=SECRET-LAUNCH-ID",
    "blocked-uri": "https://evil.example/x.js?token=abc", "effective-directive": "script-src-elem",
    "violated-directive": "script-src-elem", "source-file": "https://video.example.edu/x.js",
    "line-number": 12}}
REPORTING_API = [
    {"type": "csp-violation", "age": 10, "url": "https://video.example.edu/review/assignment",
     "body": {"documentURL": "https://video.example.edu/review/assignment?launch=SECRET",
              "blockedURL": "inline", "effectiveDirective": "style-src-attr",
              "disposition": "enforce", "statusCode": 200}},
    {"type": "deprecation", "body": {"id": "Something", "message": "old"}},
]


def post_report(client, body, content_type):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/csp-report", data=data, content_type=content_type)


def violation_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("CSP violation")]


def test_a_report_uri_report_is_logged_in_one_line_without_query_strings(client, caplog):
    caplog.set_level(logging.INFO)
    resp = post_report(client, CSP2_REPORT, "application/csp-report")
    assert resp.status_code == 204 and resp.data == b""
    assert "Content-Security-Policy" not in resp.headers  # no page, no policy
    (line,) = violation_lines(caplog)
    assert line == ("CSP violation: script-src-elem blocked https://evil.example/x.js on "
                    "https://video.example.edu/assignment (https://video.example.edu/x.js:12)")
    assert "SECRET" not in caplog.text and "token=abc" not in caplog.text


def test_a_reporting_api_batch_logs_each_violation(client, caplog):
    resp = post_report(client, REPORTING_API, "application/reports+json")
    assert resp.status_code == 204
    assert violation_lines(caplog) == [
        "CSP violation: style-src-attr blocked inline on "
        "https://video.example.edu/review/assignment (-:-)"]


@pytest.mark.parametrize("body", [
    [], {}, "null", '"text"', {"csp-report": 5}, [{"type": "csp-violation", "body": None}],
    [1, "two"], {"csp-report": {"blocked-uri": "x" * 5000, "document-uri": "\x1b[31mred"}},
])
def test_odd_but_well_formed_reports_are_answered_without_error(client, caplog, body):
    for content_type in ("application/csp-report", "application/reports+json"):
        resp = post_report(client, body, content_type)
        assert resp.status_code == 204
    for line in violation_lines(caplog):
        assert len(line) < 700 and "\x1b" not in line


@pytest.mark.parametrize("body,content_type,status,code", [
    ("{not json", "application/csp-report", 400, "bad_report"),
    (b"\xff\xfe\x00", "application/reports+json", 400, "bad_report"),
    ("x" * (csp.REPORT_MAX_BYTES + 1), "application/csp-report", 413, "report_too_large"),
    (json.dumps(CSP2_REPORT), "text/plain", 415, "unsupported_report_type"),
])
def test_junk_is_refused_clearly(client, body, content_type, status, code):
    resp = post_report(client, body, content_type)
    assert resp.status_code == status
    assert resp.get_json()["error"]["code"] == code


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True,
                                         "RATELIMIT_CSP_REPORT": "3 per minute"}],
                         indirect=True)
def test_reports_are_rate_limited_per_address(client):
    statuses = [post_report(client, CSP2_REPORT, "application/csp-report").status_code
                for _ in range(4)]
    assert statuses == [204, 204, 204, 429]
    other = client.post("/csp-report", data=json.dumps(CSP2_REPORT),
                        content_type="application/csp-report",
                        environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 204


def test_a_launchs_redirects_carry_the_policy_as_the_page_they_lead_to(browser):
    """A redirect's stub body is never shown, but it is HTML: it carries the policy, as a
    scanner expects of every HTML response (the landing page has it too)."""
    login = browser.login()
    assert login.status_code == 302 and policy_of(login)["default-src"] == "'self'"
    launched = browser.post_launch(*browser.authorize(login.headers["Location"]))
    assert launched.status_code == 303 and policy_of(launched)["default-src"] == "'self'"
    page = browser.session.get(browser.tool_url + launched.headers["Location"])
    assert policy_of(page)["frame-ancestors"] == f"'self' {browser.platform.url}"
