"""Operator commands (platforms, keys), the tool configuration page and the JWKS endpoints."""
from __future__ import annotations

import jwt
import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Platform

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

ADD = ["platforms", "add", "--issuer", "https://moodle.example.edu",
       "--client-id", "AbCdEf123456789", "--auth-login-url",
       "https://moodle.example.edu/mod/lti/auth.php", "--auth-token-url",
       "https://moodle.example.edu/mod/lti/token.php", "--key-set-url",
       "https://moodle.example.edu/mod/lti/certs.php", "--deployment-id", "1",
       "--deployment-id", "2", "--name", "Moodle"]


def test_platforms_add_list_policy_deployments_remove(runner, app):
    result = runner.invoke(args=ADD)
    assert result.exit_code == 0, result.output
    assert "Registered platform" in result.output and "/lti/login/" in result.output
    with app.app_context():
        platform = db.session.scalar(db.select(Platform))
        assert platform.deployment_policy == "refuse"
        assert sorted(d.deployment_id for d in platform.deployments) == ["1", "2"]
        pid, login_key = platform.id, platform.login_key

    again = runner.invoke(args=ADD)
    assert again.exit_code != 0 and "already registered" in again.output

    listed = runner.invoke(args=["platforms", "list"])
    assert "https://moodle.example.edu" in listed.output and "AbCdEf123456789" in listed.output
    assert login_key in listed.output and "deployments: 1, 2" in listed.output
    # Without PUBLIC_BASE_URL: the path, and one plain note (never a placeholder URL).
    assert f"login URL: /lti/login/{login_key}" in listed.output
    assert "<PUBLIC_BASE_URL>" not in listed.output and "PUBLIC_BASE_URL is not set" in \
        listed.output
    app.config["PUBLIC_BASE_URL"] = "https://video.example.edu/"
    listed = runner.invoke(args=["platforms", "list"])
    assert f"login URL: https://video.example.edu/lti/login/{login_key}" in listed.output
    assert "not set" not in listed.output
    app.config["PUBLIC_BASE_URL"] = None

    assert runner.invoke(args=["platforms", "policy", str(pid), "allow"]).exit_code == 0
    added = runner.invoke(args=["platforms", "deployments", "add", str(pid), "course-copy"])
    assert added.exit_code == 0, added.output
    with app.app_context():
        platform = db.session.get(Platform, pid)
        assert platform.deployment_policy == "allow"
        assert "course-copy" in [d.deployment_id for d in platform.deployments]

    removed = runner.invoke(args=["platforms", "remove", str(pid), "--yes"])
    assert removed.exit_code == 0
    with app.app_context():
        assert db.session.scalar(db.select(Platform)) is None
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.PLATFORM_REMOVED))


def test_platforms_add_refuses_bad_urls_and_policies(runner):
    bad = list(ADD)
    bad[bad.index("--auth-login-url") + 1] = "moodle.example.edu/auth"
    result = runner.invoke(args=bad)
    assert result.exit_code != 0 and "not an http(s) URL" in result.output
    result = runner.invoke(args=ADD + ["--policy", "maybe"])
    assert result.exit_code != 0


def test_unknown_platform_id_is_a_clear_error(runner):
    result = runner.invoke(args=["platforms", "remove", "999", "--yes"])
    assert result.exit_code != 0 and "No platform with id 999" in result.output


def test_keys_list_and_rotate_keep_the_old_key_published(runner, client, app):
    first = runner.invoke(args=["keys", "list"])
    assert first.exit_code == 0 and "signing" in first.output
    old_kid = first.output.split()[0]
    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0 and "New signing key" in rotated.output
    new_kid = rotated.output.split("New signing key ")[1].split(".")[0]
    listed = runner.invoke(args=["keys", "list"]).output
    assert f"{new_kid}" in listed and "published" in listed
    kids = [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]]
    assert kids == [new_kid, old_kid]
    with app.app_context():
        from lti_tool.lti.keys import signing_key
        kid, pem = signing_key()
        assert kid == new_kid
        token = jwt.encode({"a": 1}, pem, algorithm="RS256", headers={"kid": kid})
        jwk = next(k for k in client.get("/.well-known/jwks.json").get_json()["keys"]
                   if k["kid"] == kid)
        assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"a": 1}
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.KEY_ROTATED))


def test_jwks_is_public_json_without_private_parts(client):
    resp = client.get("/lti/jwks")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    (key,) = resp.get_json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and "d" not in key
    assert client.get("/.well-known/jwks.json").get_json() == resp.get_json()


def test_tool_configuration_page_lists_the_urls_and_key(client):
    page = client.get("/lti/config", base_url="https://tool.example.org")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for url in ("https://tool.example.org/lti/login", "https://tool.example.org/lti/launch",
                "https://tool.example.org/lti/jwks", "https://tool.example.org/lti/register"):
        assert url in text
    assert "contextmembership.readonly" in text and '"kty": "RSA"' in text
    assert "HTTP security" in text


def test_tool_configuration_as_json(client):
    resp = client.get("/lti/config", headers={"Accept": "application/json"},
                      base_url="https://tool.example.org")
    body = resp.get_json()
    assert body["urls"]["launch_url"] == "https://tool.example.org/lti/launch"
    assert body["urls"]["redirect_uris"] == "https://tool.example.org/lti/launch"
    assert body["urls"]["deep_linking_url"] == "https://tool.example.org/lti/launch"
    assert body["registration_url"] == "https://tool.example.org/lti/register"
    assert body["jwks"]["keys"][0]["kty"] == "RSA"


def test_public_base_url_wins_over_the_request(app_config, tmp_path):
    from lti_tool import create_app
    app = create_app(dict(app_config, PUBLIC_BASE_URL="https://videos.example.edu/"))
    with app.app_context():
        db.create_all()
    body = app.test_client().get("/lti/config", headers={"Accept": "application/json"}).get_json()
    assert body["urls"]["login_url"] == "https://videos.example.edu/lti/login"
    with app.app_context():
        db.drop_all()
