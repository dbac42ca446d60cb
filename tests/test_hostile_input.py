"""Hostile input, case by case (security issue, finding 5): each gets a clear 4xx, a log
line, and changes no row; file names and redirect targets are made safe.

Run on PostgreSQL as well: NUL bytes only break there.
"""
from __future__ import annotations

import base64
import json
import logging
import time
from types import SimpleNamespace

import pytest

from lti_tool.extensions import db
from lti_tool.lti.claims import CONTEXT, CUSTOM, RESOURCE_LINK, ROLES
from lti_tool.models import Video
from lti_tool.storage.s3.backend import _attachment
from lti_tool.web.request_input import clean_filename, safe_next
from tests.platform_kit import browser, platform  # noqa: F401  (fixtures)
from tests.review_fixtures import reviewed_classroom, store_local_file
from tests.test_lti_refusals import assert_refused

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

JSON = {"Accept": "application/json", "X-Requested-With": "fetch"}
UNCHANGING_EXCEPT = {"audit_event", "key_value"}  # refusals are audited; logins keep state


@pytest.fixture
def app_config(app_config):
    app_config["CLOUDFLARE_WEBHOOK_SECRET"] = "hostile-secret"
    return app_config


@pytest.fixture
def people(app):
    """A classroom with a ready video and a comment: ids and launch headers only."""
    with app.app_context():
        made = reviewed_classroom()
        return SimpleNamespace(
            student_id=made.room.student.id, video_id=made.video.id,
            comment_id=made.comment.id, submission_id=made.video.submission_id,
            student={"X-LTI-Launch": made.student_launch, **JSON},
            instructor={"X-LTI-Launch": made.instructor_launch, **JSON})


def snapshot(app) -> dict:
    """Return every row of every table but the audit log and the key-value store."""
    with app.app_context():
        return {table.name: sorted(map(tuple, db.session.execute(table.select()).all()), key=repr)
                for table in db.metadata.sorted_tables if table.name not in UNCHANGING_EXCEPT}


def logged(caplog, *words: str) -> bool:
    """Tell whether one log line of the tool (or of the demo LMS) holds all these words."""
    return any(r.name.startswith(("lti_tool", "demo_lms"))
               and all(w in r.getMessage() for w in words)
               for r in caplog.records)


def error_code(resp) -> str:
    return resp.get_json()["error"]["code"]


# ---- ids beyond the database's integers --------------------------------------------------------

ID_ROUTES = [
    ("GET", "/review/students/{id}", "instructor"),
    ("POST", "/review/students/{id}/grade", "instructor"),
    ("PATCH", "/review/comments/{id}", "instructor"),
    ("GET", "/review/videos/{id}/download", "instructor"),
    ("GET", "/api/videos/{id}/status", "student"),
    ("GET", "/api/videos/{id}/media", None),
    ("POST", "/api/uploads/{id}/complete", "student"),
    ("POST", "/api/uploads/{id}/multipart/sign", "student"),
    ("GET", "/api/videos/{id}/captions", "student"),
    ("GET", "/demo-lms/course/{id}/add-activity", None),
]


@pytest.mark.parametrize("huge", [str(2**64), str(2**31), "1" * 5000],
                         ids=["2**64", "2**31", "5000_digits"])
@pytest.mark.parametrize("method,path,who", ID_ROUTES, ids=[r[1] for r in ID_ROUTES])
def test_an_id_beyond_the_database_is_an_unknown_id(app, client, people, caplog, method, path,
                                                   who, huge):
    caplog.set_level(logging.INFO)
    before = snapshot(app)
    headers = getattr(people, who) if who else JSON
    resp = client.open(path.format(id=huge), method=method, headers=headers, json={})
    assert resp.status_code == 404
    assert error_code(resp) == "not_found"
    assert logged(caplog, "-> 404")
    assert snapshot(app) == before


@pytest.mark.parametrize("video_id", [str(2**64), str(2**31), "²", "1" * 5000, "-1", "0"])
def test_tus_metadata_with_an_impossible_video_id_is_refused(app, client, people, caplog,
                                                             video_id):
    before = snapshot(app)
    meta = "video_id " + base64.b64encode(video_id.encode()).decode()
    resp = client.post("/tus/", headers={**people.student, "Tus-Resumable": "1.0.0",
                                         "Upload-Length": "10", "Upload-Metadata": meta})
    assert resp.status_code == 400
    assert error_code(resp) == "tus_bad_request"
    assert logged(caplog, "/tus/", "400")
    assert snapshot(app) == before


# ---- JSON bodies ------------------------------------------------------------------------------

HOSTILE_JSON = {
    "list": b"[1,2]",
    "string": b'"x"',
    "overflow": b'{"score": 1e999, "at_seconds": 1e999, "body": "x", "filename": "a.mp4"}',
    "top_level_overflow": b"1e999",
    "nested_5000": b"[" * 5000 + b"]" * 5000,
    "nested_object_5000": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "lone_surrogate": b'{"body": "\\udfff", "feedback": "\\udfff", "filename": "\\udfff.mp4",'
                      b' "size_bytes": 10}',
    "surrogate_key": b'{"\\ud800": 1}',
    "nan": b'{"score": NaN, "at_seconds": NaN, "size_bytes": 1, "filename": "a.mp4"}',
    "infinity": b'{"score": -Infinity, "at_seconds": Infinity}',
    "nul": b'{"body": "a\\u0000b", "feedback": "\\u0000", "filename": "a\\u0000.mp4",'
           b' "size_bytes": 10}',
    "huge_integer": b'{"size_bytes": 1' + b"0" * 40 + b', "filename": "a.mp4"}',
    "not_utf8": b'{"body": "\xff\xfe"}',
}
JSON_ENDPOINTS = {
    "grade": ("POST", "/review/students/{student_id}/grade", "instructor"),
    "release": ("POST", "/review/students/{student_id}/release", "instructor"),
    "retry": ("POST", "/review/students/{student_id}/retry", "instructor"),
    "comments": ("POST", "/review/students/{student_id}/comments", "instructor"),
    "patch_comment": ("PATCH", "/review/comments/{comment_id}", "instructor"),
    "start_upload": ("POST", "/api/uploads", "student"),
}


@pytest.mark.parametrize("body", HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS.keys())
def test_hostile_json_is_refused_with_400_and_changes_nothing(app, client, people, caplog,
                                                              endpoint, body):
    method, path, who = JSON_ENDPOINTS[endpoint]
    before = snapshot(app)
    resp = client.open(path.format(**vars(people)), method=method, data=body,
                       headers={**getattr(people, who), "Content-Type": "application/json"})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert error_code(resp) == "bad_json"
    assert resp.get_json()["error"]["message"]
    assert logged(caplog, "-> 400 bad_json")
    assert snapshot(app) == before


def test_a_json_body_of_another_type_or_size_is_refused(app, client, people, caplog):
    before = snapshot(app)
    url = f"/review/comments/{people.comment_id}"
    wrong_type = client.patch(url, data=b"body=x", headers={
        **people.instructor, "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and error_code(wrong_type) == "unsupported_media_type"
    too_big = client.patch(url, data=json.dumps({"body": "x" * 70_000}), headers={
        **people.instructor, "Content-Type": "application/json"})
    assert too_big.status_code == 413 and error_code(too_big) == "too_large"
    assert logged(caplog, "-> 413 too_large")
    assert snapshot(app) == before


@pytest.mark.parametrize("body", [b'"' + b'\\"' * 30_000, b'"' * 60_000, b'"[' * 30_000],
                         ids=["escaped_quotes", "quotes", "quoted_brackets"])
def test_a_body_made_to_slow_the_depth_scan_is_refused_at_once(client, people, body):
    started = time.monotonic()
    resp = client.patch(f"/review/comments/{people.comment_id}", data=body, headers={
        **people.instructor, "Content-Type": "application/json"})
    assert resp.status_code == 400 and error_code(resp) == "bad_json"
    assert time.monotonic() - started < 1.0


def test_a_comment_or_grade_still_works_as_json_and_as_a_form(app, client, people):
    url = f"/review/students/{people.student_id}"
    as_json = client.post(url + "/comments", json={"at_seconds": 2, "body": "Good pacing",
                                                   "video_id": people.video_id},
                          headers=people.instructor)
    assert as_json.status_code == 201
    as_form = client.post(url + "/grade", data={"score": "7", "feedback": "Fine"},
                          headers={"X-LTI-Launch": people.instructor["X-LTI-Launch"]})
    assert as_form.status_code == 302


# ---- the Cloudflare webhook's signature header ------------------------------------------------

@pytest.mark.parametrize("stamp", ["²", "9" * 5000, "١٢٣", "-1", "1e9", ""])
def test_a_webhook_with_a_malformed_time_is_refused_before_anything(app, client, caplog, stamp):
    before = snapshot(app)
    resp = client.post("/webhooks/cloudflare-stream", data=b'{"uid": "x"}', headers={
        "Webhook-Signature": f"time={stamp},sig1=abc", "Content-Type": "application/json"})
    assert resp.status_code == 401
    assert error_code(resp) == "bad_signature"
    assert logged(caplog, "-> 401 bad_signature")
    assert snapshot(app) == before


@pytest.mark.parametrize("body", [b"[1]", b'{"uid": [1]}', b'{"uid": "x", "a": 1e999}',
                                  b"[" * 5000 + b"]" * 5000])
def test_a_signed_webhook_that_is_not_a_stream_video_is_refused(app, client, caplog, body):
    import hashlib
    import hmac
    at = int(time.time())
    sig = hmac.new(b"hostile-secret", f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    resp = client.post("/webhooks/cloudflare-stream", data=body, headers={
        "Webhook-Signature": f"time={at},sig1={sig}", "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert error_code(resp) == "bad_request"
    assert logged(caplog, "-> 400 bad_request")


def test_a_webhook_body_without_length_is_read_only_up_to_the_limit(app, caplog):
    from werkzeug.test import EnvironBuilder, run_wsgi_app
    body = b'{"uid": "' + b"x" * (300 * 1024) + b'"}'
    environ = EnvironBuilder(path="/webhooks/cloudflare-stream", method="POST", data=body,
                             headers={"Webhook-Signature": "time=1,sig1=ab"}).get_environ()
    del environ["CONTENT_LENGTH"]  # chunked: the server only marks the input as terminated
    environ["wsgi.input_terminated"] = True
    stream = environ["wsgi.input"]
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413")
    assert stream.tell() <= 256 * 1024 + 1
    assert logged(caplog, "-> 413 too_large")


@pytest.mark.parametrize("hint", ["[" * 5000 + "]" * 5000, '{"launch_id": "\\udfff"}',
                                  '{"launch_id": [1]}', "[1]", "1e999"],
                         ids=["nested", "surrogate", "list_id", "list", "overflow"])
def test_the_demo_lms_refuses_a_hostile_message_hint_as_a_bad_login(app, client, hint):
    from demo_lms.models import DemoTool
    assert client.get("/demo-lms/").status_code == 200  # registers the tool with the demo LMS
    with app.app_context():
        tool = db.session.scalar(db.select(DemoTool))
        client_id, redirect_uri = tool.client_id, tool.redirect_uris[0]
    resp = client.get("/demo-lms/auth", query_string={
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post",
        "prompt": "none", "client_id": client_id, "redirect_uri": redirect_uri, "nonce": "n",
        "login_hint": "2", "lti_message_hint": hint})
    assert resp.status_code == 200
    assert b'name="error" value="login_required"' in resp.get_data()


# ---- file names -------------------------------------------------------------------------------

@pytest.mark.parametrize("sent,stored", [
    ("pitch\r\nX-Evil: 1.mp4", "pitch X-Evil: 1.mp4"),
    ("clip\u202egpj.mp4", "clipgpj.mp4"),
    ("\u2066clip\u2069.mp4", "clip.mp4"),
    ("../../etc/passwd.mp4", "passwd.mp4"),
    ("C:\\Users\\me\\pitch.mp4", "pitch.mp4"),
    ("  many   spaces\t.mp4 ", "many spaces .mp4"),
    ("x" * 400 + ".mp4", "x" * 251 + ".mp4"),
])
def test_a_file_name_is_cleaned_on_the_way_in(app, client, people, sent, stored):
    resp = client.post("/api/uploads", json={"filename": sent, "size_bytes": 1000,
                                             "content_type": "video/mp4"},
                       headers=people.student)
    assert resp.status_code == 201, resp.get_json()
    with app.app_context():
        assert db.session.get(Video, resp.get_json()["video_id"]).filename == stored


def test_a_file_name_in_tus_metadata_is_cleaned_and_nul_refused(app, client, people):
    start = client.post("/api/uploads", json={"filename": "a.mp4", "size_bytes": 10},
                        headers=people.student).get_json()

    def meta(**values):
        return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())
    tus = {**people.student, "Tus-Resumable": "1.0.0", "Upload-Length": "10"}
    refused = client.post("/tus/", headers={**tus, "Upload-Metadata": meta(
        video_id=str(start["video_id"]), filename="a\x00.mp4")})
    assert refused.status_code == 400 and error_code(refused) == "tus_bad_request"
    created = client.post("/tus/", headers={**tus, "Upload-Metadata": meta(
        video_id=str(start["video_id"]), filename="a\r\n.mp4")})
    assert created.status_code == 201
    head = client.head(created.headers["Location"], headers=tus)
    assert "YQ==" not in head.headers["Upload-Metadata"]  # not the raw name
    assert base64.b64encode(b"a .mp4").decode() in head.headers["Upload-Metadata"]


@pytest.mark.parametrize("stored", ["evil\r\nSet-Cookie: a=b.mp4", "a\x00b.mp4",
                                    "\u202ekcod.mp4", "", None])
def test_an_old_bad_file_name_never_breaks_the_download(app, client, people, tmp_path,
                                                        stored):
    source = tmp_path / "pitch.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    with app.app_context():
        if stored and "\x00" in stored and db.engine.dialect.name == "postgresql":
            pytest.skip("PostgreSQL cannot hold NUL in text, so no old row has one")
        video = db.session.get(Video, people.video_id)
        video.storage_uid = store_local_file(source)
        video.filename = stored
        db.session.commit()
    grant = client.get(f"/review/videos/{people.video_id}/download", headers=people.instructor)
    assert grant.status_code == 302
    resp = client.get(grant.headers["Location"])
    assert resp.status_code == 200
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert not any(ch in disposition for ch in "\r\n\x00\u202e")


def test_s3_content_disposition_of_a_bad_name_is_one_clean_header_value():
    value = _attachment("evil\r\nSet-Cookie: a=b\u202e.mp4")
    assert not any(ch in value for ch in "\r\n\x00\u202e")
    assert value.startswith('attachment; filename="evil Set-Cookie_ a_b.mp4"')


def test_clean_filename_keeps_the_extension_and_falls_back():
    assert clean_filename("\r\n\x00") == "video"
    assert clean_filename(None) == "video"
    assert clean_filename("é" * 300 + ".webm").endswith(".webm")
    assert len(clean_filename("é" * 300 + ".webm")) == 255


# ---- redirect targets -------------------------------------------------------------------------

@pytest.mark.parametrize("next_url", ["/%09/evil.example", "//evil.example", "/\\evil.example",
                                      "https://evil.example/", "/\r\nSet-Cookie: a=b",
                                      "/%2F/evil.example", " /review", "javascript:alert(1)"])
def test_the_grade_form_redirects_only_to_this_site(app, client, people, caplog, next_url):
    resp = client.post(f"/review/students/{people.student_id}/grade", data={
        "score": "7", "then": "next", "next_url": next_url,
        "launch": people.instructor["X-LTI-Launch"]})
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith(f"/review/students/{people.student_id}?")


def test_a_same_site_next_url_is_followed():
    assert safe_next("/review/students/3?launch=abc&status=all") == \
        "/review/students/3?launch=abc&status=all"
    assert safe_next("/review/students/3?q=a%20b") == "/review/students/3?q=a%20b"


# ---- NUL at the boundary (PostgreSQL refuses it in text) ----------------------------------------

@pytest.mark.parametrize("method,path,form", [
    ("GET", "/assignment?launch=a%00b", None),
    ("GET", "/review/assignment?launch=%00", None),
    ("GET", "/demo-lms/launch?user=instructor%00", None),
    ("GET", "/demo-lms/course/1/add-activity?user=%00", None),
    ("POST", "/lti/login", {"iss": "https://lms.example\x00", "login_hint": "2"}),
    ("GET", "/lti/login?iss=https://lms.example%00&login_hint=2", None),
    ("POST", "/lti/launch", {"id_token": "a.b.c", "state": "s\x00"}),
])
def test_nul_in_a_query_or_form_is_refused_with_400(app, client, caplog, method, path, form):
    before = snapshot(app)
    resp = client.open(path, method=method, data=form)
    assert resp.status_code == 400
    assert b"NUL" in resp.get_data()
    assert logged(caplog, "-> 400 nul_character")
    assert snapshot(app) == before


def test_nul_in_a_comment_form_or_the_launch_header_is_refused(app, client, people, caplog):
    before = snapshot(app)
    launch = people.instructor["X-LTI-Launch"]
    form = client.post(f"/review/students/{people.student_id}/comments",
                       data={"body": "a\x00b", "at_seconds": "1", "launch": launch}, headers=JSON)
    assert form.status_code == 400 and error_code(form) == "nul_character"
    header = client.get("/review/assignment", headers={**JSON, "X-LTI-Launch": launch + "\x00"})
    assert header.status_code == 400 and error_code(header) == "nul_character"
    assert logged(caplog, "-> 400 nul_character")
    assert snapshot(app) == before


# ---- launch claims and login parameters (real HTTP, signed JWTs) --------------------------------

LTI_CUSTOM = CUSTOM
MALFORMED_CLAIMS = [
    ("roles_a_number", {ROLES: 5}, "roles` claim must be a list"),
    ("roles_of_numbers", {ROLES: [1, 2]}, "roles` claim must be a list"),
    ("resource_link_a_list", {RESOURCE_LINK: ["7"]}, "resource_link` claim (resource_link)"),
    ("context_a_string", {CONTEXT: "3"}, "context` claim (context) must be a JSON object"),
    ("context_id_a_list", {CONTEXT: {"id": [3]}}, "has an `id` that is not a string"),
    ("context_id_too_long", {CONTEXT: {"id": "c" * 300}}, "at most 255 characters"),
    ("max_file_bytes_30_digits", {LTI_CUSTOM: {"max_file_bytes": "1" * 30}},
     "`max_file_bytes`"),
    ("max_duration_seconds_30_digits", {LTI_CUSTOM: {"max_duration_seconds": "9" * 30}},
     "`max_duration_seconds`"),
    ("max_duration_seconds_a_list", {LTI_CUSTOM: {"max_duration_seconds": [60]}},
     "`max_duration_seconds`"),
    ("max_score_nan", {LTI_CUSTOM: {"max_score": "nan"}}, "`max_score` 'nan'"),
    ("max_score_inf", {LTI_CUSTOM: {"max_score": "1e999"}}, "`max_score`"),
    ("max_score_zero", {LTI_CUSTOM: {"max_score": 0}}, "`max_score`"),
    ("custom_a_list", {LTI_CUSTOM: ["a"]}, "custom` claim (custom) must be a JSON object"),
    ("sub_with_nul", {"sub": "2\x00"}, "`sub` claim holds a NUL character"),
    ("sub_a_number", {"sub": 2}, "could not be verified (InvalidSubjectError)"),  # PyJWT
    ("sub_too_long", {"sub": "s" * 300}, "`sub` claim must be a non-empty string"),
    ("name_with_surrogate", {"name": "\udfff"}, "`name` claim holds a lone surrogate"),
    ("nested_nul", {CONTEXT: {"id": "3", "title": "a\x00"}}, "holds a NUL character"),
    ("issuer_with_nul", {"iss": "ISSUER\x00"}, "`iss` is not a text"),
]


@pytest.mark.parametrize("claims,words", [c[1:] for c in MALFORMED_CLAIMS],
                         ids=[c[0] for c in MALFORMED_CLAIMS])
def test_a_launch_with_a_malformed_claim_gets_the_refusal_page(browser, app, caplog, claims,
                                                               words):
    if claims.get("iss") == "ISSUER\x00":
        claims = {"iss": browser.platform.issuer + "\x00"}
    browser.platform.next_claims.update(claims)
    resp = browser.launch()
    assert_refused(resp, 400, words, app)
    assert logged(caplog, "POST /lti/launch -> 400")


@pytest.mark.parametrize("params,words", [
    ({"login_hint": "h" * 5000}, "`login_hint` is longer than 4096"),
    ({"lti_message_hint": "h" * 5000}, "`lti_message_hint` is longer than 4096"),
    ({"iss": "https://" + "i" * 600}, "`iss` is longer than 512"),
    ({"client_id": "c" * 300}, "`client_id` is longer than 255"),
    ({"target_link_uri": "https://x/" + "t" * 3000}, "`target_link_uri` is longer"),
])
def test_a_login_with_an_overlong_parameter_is_refused(browser, app, caplog, params, words):
    resp = browser.login(**params)
    assert resp.status_code == 400
    assert words in resp.text
    assert logged(caplog, "/lti/login -> 400 malformed_login")
