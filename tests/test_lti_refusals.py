"""Every refused login and launch: a 4xx page that says why, a log line, an audit event."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, LaunchRecord
from tests.platform_kit import (LTI, TestPlatform, browser, new_rsa_key,  # noqa: F401  (fixtures)
                                platform)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict, signer=lambda msg: b"") -> str:
    msg = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{msg}.{_b64(signer(msg.encode()))}"


def hs256_with_public_key(platform: TestPlatform):
    """The classic key-confusion attack: HMAC keyed with the platform's public key PEM."""
    pem = platform.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return lambda claims, headers: _unsigned(
        {"alg": "HS256", "typ": "JWT", "kid": platform.kid}, claims,
        lambda msg: hmac.new(pem, msg, hashlib.sha256).digest())


def alg_none(platform: TestPlatform):
    return lambda claims, headers: _unsigned({"alg": "none", "typ": "JWT", "kid": platform.kid},
                                             claims)


def flipped_signature(platform: TestPlatform):
    def encode(claims, headers):
        token = platform.mint(claims, headers)
        head, body, sig = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        raw[10] ^= 0xFF
        return f"{head}.{body}.{_b64(bytes(raw))}"
    return encode


NOW = lambda: int(time.time())  # noqa: E731

# (name, how to spoil the next id_token, expected status, words the page must contain)
SPOILED_TOKENS = [
    ("bad_signature", lambda p: setattr(p, "encoder", flipped_signature(p)), 400,
     "signature does not match"),
    ("wrong_key_same_kid", lambda p: setattr(p, "signing_key", new_rsa_key()), 400,
     "signature does not match"),
    ("unknown_kid", lambda p: p.next_headers.update(kid="not-a-key"), 400,
     "not in the LMS's public key set"),
    ("expired", lambda p: p.next_claims.update(iat=NOW() - 300, exp=NOW() - 120), 400,
     "has expired"),
    ("iat_in_future", lambda p: p.next_claims.update(iat=NOW() + 600, exp=NOW() + 660), 400,
     "issued in the future"),
    ("unknown_issuer", lambda p: p.next_claims.update(iss="https://other-lms.example"), 403,
     "is not registered with the tool"),
    ("unknown_client", lambda p: p.next_claims.update(aud="someone-else"), 403,
     "client id someone-else) is not registered"),
    ("unknown_deployment", lambda p: p.next_claims.update({LTI + "deployment_id": "99"}), 403,
     "Deployment id '99'"),
    ("several_audiences_no_azp",
     lambda p: p.next_claims.update(aud=[p.client_id, "another"]), 400,
     "several audiences but no authorized party"),
    ("azp_mismatch", lambda p: p.next_claims.update(azp="another"), 400,
     "authorized party (azp 'another') is not one of its audiences"),
    ("wrong_version", lambda p: p.next_claims.update({LTI + "version": "1.1"}), 400,
     "LTI version '1.1'"),
    ("missing_sub", lambda p: p.next_claims.update(sub=None), 400, "Must have a user (sub)"),
    ("missing_roles", lambda p: p.next_claims.update({LTI + "roles": None}), 400,
     "Missing Roles Claim"),
    ("missing_resource_link_id", lambda p: p.next_claims.update({LTI + "resource_link": {}}),
     400, "Missing Resource Link Id"),
    ("missing_deployment_id", lambda p: p.next_claims.update({LTI + "deployment_id": None}),
     400, "no deployment id"),
    ("missing_nonce", lambda p: p.next_claims.update(nonce=None), 400,
     "lacks the required `nonce` claim"),
    ("nonce_not_from_login", lambda p: p.next_claims.update(nonce="made-up"), 400,
     "nonce does not match the login"),
    ("wrong_message_type",
     lambda p: p.next_claims.update({LTI + "message_type": "LtiStartProctoring"}), 400,
     "does not handle LTI messages of type 'LtiStartProctoring'"),
    ("hs256_signed_with_public_key", lambda p: setattr(p, "encoder", hs256_with_public_key(p)),
     400, "signed with algorithm 'HS256'"),
    ("alg_none", lambda p: setattr(p, "encoder", alg_none(p)), 400,
     "signed with algorithm 'none'"),
]


def assert_refused(resp, status: int, words: str, app):
    assert resp.status_code == status, resp.text[:2000]
    assert words in resp.text.replace("&#39;", "'").replace("&#x27;", "'")
    with app.app_context():
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.LAUNCH_REFUSED)) is not None
        assert db.session.scalar(db.select(db.func.count()).select_from(LaunchRecord)) == 0


@pytest.mark.parametrize("name,spoil,status,words", SPOILED_TOKENS,
                         ids=[s[0] for s in SPOILED_TOKENS])
def test_spoiled_id_token_is_refused_with_a_clear_page(browser, app, name, spoil, status, words):
    spoil(browser.platform)
    resp = browser.launch()
    assert_refused(resp, status, words, app)


def test_replayed_launch_is_refused(browser, app):
    login = browser.login()
    action, fields = browser.authorize(login.headers["Location"])
    assert browser.post_launch(action, fields).status_code == 303
    again = browser.post_launch(action, fields)
    assert again.status_code == 400
    assert "already used once" in again.text


def test_replayed_nonce_with_a_fresh_state_is_refused(browser, app):
    """A nonce seen once is refused even when a new login's state comes with it."""
    first = browser.login()
    action, fields = browser.authorize(first.headers["Location"])
    assert browser.post_launch(action, fields).status_code == 303
    from urllib.parse import parse_qs, urlsplit
    used_nonce = parse_qs(urlsplit(first.headers["Location"]).query)["nonce"][0]
    second = browser.login()
    state = parse_qs(urlsplit(second.headers["Location"]).query)["state"][0]
    # Make the new login's record expect the old nonce, as if the platform reused it.
    from lti_tool.lti.launch_store import kv_get, kv_put
    with app.app_context():
        record = kv_get("oidc-state:" + state)
        record["nonce"] = used_nonce
        kv_put("oidc-state:" + state, record, 600)
        db.session.commit()
    browser.platform.next_claims = {"nonce": used_nonce}
    action, fields = browser.authorize(second.headers["Location"])
    resp = browser.post_launch(action, fields)
    assert resp.status_code == 400 and "nonce was already used" in resp.text


def test_missing_state_is_refused(browser, app):
    login = browser.login()
    action, fields = browser.authorize(login.headers["Location"])
    del fields["state"]
    assert_refused(browser.post_launch(action, fields), 400, "has no `state`", app)


def test_forged_state_is_refused(browser, app):
    login = browser.login()
    action, fields = browser.authorize(login.headers["Location"])
    fields["state"] = "state-forged"
    assert_refused(browser.post_launch(action, fields), 400, "login for this launch was not "
                   "found", app)


def test_launch_from_another_browser_without_the_state_cookie_is_refused(browser, app):
    login = browser.login()
    action, fields = browser.authorize(login.headers["Location"])
    browser.session.cookies.clear()
    resp = browser.post_launch(action, fields)
    assert_refused(resp, 401, "did not send back the tool", app)
    assert "Open the activity in a new window" in resp.text
    assert "lti1p3_new_window=1" in resp.text


def test_storage_fields_posted_cross_site_do_not_replace_the_cookie(browser, app):
    """A cross-site page could post lti_storage_* itself: only our own origin counts."""
    login = browser.login()
    action, fields = browser.authorize(login.headers["Location"])
    browser.session.cookies.clear()
    from urllib.parse import parse_qs, urlsplit
    q = parse_qs(urlsplit(login.headers["Location"]).query)
    fields.update(lti_storage_state=q["state"][0], lti_storage_nonce=q["nonce"][0])
    resp = browser.post_launch(action, fields, headers={"Origin": "https://attacker.example"})
    assert resp.status_code == 401


def test_storage_fields_from_our_own_origin_bind_the_state(browser, app):
    login = browser.login(lti_storage_target="post_message_forwarding")
    assert login.status_code == 200 and "lti-storage-login" in login.text
    from urllib.parse import parse_qs, urlsplit

    from tests.platform_kit import parse_form
    auth_url = login.text.split('data-auth-url="')[1].split('"')[0].replace("&amp;", "&")
    q = parse_qs(urlsplit(auth_url).query)
    action, fields = browser.authorize(auth_url)
    browser.session.cookies.clear()
    page = browser.post_launch(action, fields)
    assert page.status_code == 200 and "lti-storage-launch" in page.text
    repost_action, repost = parse_form(page.text)
    repost.update(lti_storage_state=q["state"][0], lti_storage_nonce=q["nonce"][0])
    resp = browser.post_launch(browser.tool_url + repost_action, repost,
                               headers={"Origin": browser.tool_url})
    assert resp.status_code == 303
    wrong = dict(repost, lti_storage_nonce="not-it")
    assert browser.post_launch(browser.tool_url + repost_action, wrong,
                               headers={"Origin": browser.tool_url}).status_code == 400


def test_login_from_an_unregistered_lms_says_where_to_register(browser, app):
    resp = browser.login(iss="https://unknown-lms.example", client_id="abc")
    assert resp.status_code == 403
    assert "This LMS (issuer https://unknown-lms.example, client id abc) is not registered" \
        in resp.text
    assert "/lti/config" in resp.text
    with app.app_context():
        event = db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.LAUNCH_REFUSED))
        assert event.data["stage"] == "login"


def test_login_without_login_hint_is_refused(browser):
    resp = browser.login(login_hint=None)
    assert resp.status_code == 400 and "login_hint" in resp.text


def test_unknown_per_registration_login_url_is_refused(browser):
    resp = browser.login("/lti/login/not-a-key")
    assert resp.status_code == 404 and "does not belong to any registration" in resp.text


def test_login_url_of_one_registration_refuses_another_issuer(browser, app):
    from lti_tool.models import Platform
    with app.app_context():
        key = db.session.scalar(db.select(Platform)).login_key
    resp = browser.login(f"/lti/login/{key}", iss="https://other.example")
    assert resp.status_code == 400 and "belongs to the registration of" in resp.text


def test_launch_without_id_token_is_refused(browser, app):
    resp = browser.session.post(browser.tool_url + "/lti/launch", data={"state": "x"})
    assert_refused(resp, 400, "did not send a valid id_token", app)


def test_unreachable_platform_jwks_is_a_clear_refusal(browser, app):
    from lti_tool.models import Platform
    with app.app_context():
        db.session.scalar(db.select(Platform)).key_set_url = "http://127.0.0.1:9/jwks"
        db.session.commit()
    resp = browser.launch()
    assert_refused(resp, 400, "could not download the LMS's public keys", app)


def test_json_refusal_for_scripts(browser):
    resp = browser.session.post(browser.tool_url + "/lti/launch", data={},
                                headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "launch_refused"
