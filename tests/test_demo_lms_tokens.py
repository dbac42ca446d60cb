"""The demo LMS's OAuth2 token endpoint: client_credentials with a JWT client assertion."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from demo_lms.control import control
from demo_lms.models import DemoAccessToken
from demo_lms.vocab import Scope
from lti_tool.extensions import db

SCORE = Scope.SCORE
LINEITEM = Scope.LINEITEM


def test_good_assertion_gets_a_bearer_token_with_the_requested_scopes(demo_platform):
    resp = demo_platform.request_token([SCORE, LINEITEM])
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {SCORE, LINEITEM}
    assert body["expires_in"] == 3600
    assert resp.headers["Cache-Control"] == "no-store"


def test_the_tool_key_set_is_fetched_over_http_from_the_registered_jwks_uri(demo_platform):
    before = demo_platform.keys.fetches
    demo_platform.token(SCORE)
    assert demo_platform.keys.fetches == before + 1


def test_only_requested_scopes_are_granted(demo_platform):
    body = demo_platform.request_token([SCORE]).get_json()
    assert body["scope"] == SCORE


def test_unknown_scopes_alone_are_refused(demo_platform):
    resp = demo_platform.request_token(["https://example.com/scope/everything"])
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_scope"


def test_bad_signature_is_refused(demo_platform):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    resp = demo_platform.request_token([SCORE], demo_platform.assertion(_key=other_key))
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_client"


def test_unknown_kid_is_refused(demo_platform):
    resp = demo_platform.request_token([SCORE], demo_platform.assertion(_kid="not-ours"))
    assert resp.status_code == 401
    assert "kid" in resp.get_json()["error_description"]


def test_replayed_jti_is_refused(demo_platform):
    assertion = demo_platform.assertion()
    assert demo_platform.request_token([SCORE], assertion).status_code == 200
    again = demo_platform.request_token([SCORE], assertion)
    assert again.status_code == 401
    assert "already used" in again.get_json()["error_description"]


def test_wrong_audience_is_refused(demo_platform):
    resp = demo_platform.request_token(
        [SCORE], demo_platform.assertion(aud="https://elsewhere.example/token"))
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_client"


def test_audience_as_a_list_containing_the_token_url_is_accepted(demo_platform):
    resp = demo_platform.request_token(
        [SCORE], demo_platform.assertion(aud=[demo_platform.token_url, "other"]))
    assert resp.status_code == 200


def test_expired_assertion_is_refused(demo_platform):
    past = int(time.time()) - 600
    resp = demo_platform.request_token([SCORE], demo_platform.assertion(iat=past, exp=past + 60))
    assert resp.status_code == 401
    assert "expired" in resp.get_json()["error_description"].lower()


@pytest.mark.parametrize("claim", ["jti", "exp", "sub"])
def test_assertion_without_a_required_claim_is_refused(demo_platform, claim):
    resp = demo_platform.request_token([SCORE], demo_platform.assertion(**{claim: None}))
    assert resp.status_code == 401


def test_sub_other_than_the_client_id_is_refused(demo_platform):
    resp = demo_platform.request_token([SCORE], demo_platform.assertion(sub="someone-else"))
    assert resp.status_code == 401


def test_unknown_client_is_refused(demo_platform):
    resp = demo_platform.request_token(
        [SCORE], demo_platform.assertion(iss="nobody", sub="nobody"))
    assert resp.status_code == 401
    assert "Unknown client" in resp.get_json()["error_description"]


def test_wrong_grant_type_and_assertion_type_are_refused(demo_platform):
    assert demo_platform.request_token([SCORE], grant_type="password").get_json()["error"] == \
        "unsupported_grant_type"
    resp = demo_platform.request_token([SCORE], client_assertion_type="basic")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_garbage_assertion_is_refused_without_a_server_error(demo_platform):
    resp = demo_platform.request_token([SCORE], assertion="not-a-jwt")
    assert resp.status_code == 401


def test_granted_scopes_can_be_restricted_like_moodles_grade_sync_only(app, demo_platform):
    control(app).set_granted_scopes([SCORE])
    body = demo_platform.request_token([SCORE, LINEITEM]).get_json()
    assert body["scope"] == SCORE
    assert demo_platform.request_token([LINEITEM]).status_code == 400


def test_token_ttl_is_configurable_and_tokens_expire(app, demo_platform):
    control(app).set_token_ttl(1)
    resp = demo_platform.request_token([Scope.MEMBERSHIPS])
    assert resp.get_json()["expires_in"] == 1
    token = resp.get_json()["access_token"]
    members = f"/demo-lms/services/CourseSection/1/bindings/{demo_platform.tool_id}/memberships"
    assert demo_platform.client.get(
        members, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with app.app_context():  # a second later, on the platform's clock
        db.session.execute(db.update(DemoAccessToken).values(
            expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    expired = demo_platform.client.get(members, headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401
    assert "expired" in expired.get_json()["error"]["message"]


def test_token_requests_are_recorded_without_secrets(app, demo_platform):
    demo_platform.token(SCORE)
    demo_platform.request_token([SCORE], demo_platform.assertion(aud="wrong"))
    seen = control(app).token_requests()
    assert [e["status"] for e in seen] == [200, 401]
    assert seen[0]["client_id"] == demo_platform.client_id
    assert seen[0]["scopes_granted"] == [SCORE]
    assert all("access_token" not in e and "client_assertion" not in e for e in seen)


def test_injected_token_failure_answers_the_status_then_recovers(app, demo_platform):
    control(app).fail_next("token", 503, times=1, retry_after=7)
    failed = demo_platform.request_token([SCORE])
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "7"
    assert demo_platform.request_token([SCORE]).status_code == 200
    assert [e["status"] for e in control(app).token_requests()] == [503, 200]


@pytest.fixture
def quick_busy_timeout(app_config):
    """Make SQLite give up waiting for a lock after 0.2 s instead of 5 s."""
    if not app_config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite locks the whole database file; PostgreSQL locks rows")
    app_config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 0.2}}


def test_a_locked_sqlite_database_answers_503_retryable_not_500(quick_busy_timeout, app,
                                                                demo_platform):
    import sqlite3
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path)
    other.execute("BEGIN IMMEDIATE")  # a tool request holding a write transaction
    try:
        resp = demo_platform.request_token([SCORE])
    finally:
        other.rollback()
        other.close()
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.get_json()["error"] == "temporarily_unavailable"
    assert demo_platform.request_token([SCORE]).status_code == 200
