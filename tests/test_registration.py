"""LTI Dynamic Registration against a fake platform over HTTP: success and every failure."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Platform
from tests.platform_kit import TOOL_CONFIGURATION, LtiBrowser, TestPlatform

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

SCOPES = {"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/score",
          "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"}


@pytest.fixture
def platform():
    plat = TestPlatform(client_id="dyn-client-7", deployment_id="12")
    yield plat
    plat.stop()


def register(live_server, platform, token: str | None = "reg-token-1"):
    params = {"openid_configuration": f"{platform.url}/.well-known/openid-configuration"}
    if token:
        params["registration_token"] = token
    return requests.get(f"{live_server.url}/lti/register", params=params)


def platforms(app) -> list[Platform]:
    with app.app_context():
        return list(db.session.scalars(db.select(Platform)))


def test_registration_sends_what_moodle_requires_and_stores_the_result(live_server, platform,
                                                                      app):
    resp = register(live_server, platform)
    assert resp.status_code == 200, resp.text
    assert 'data-close-subject="org.imsglobal.lti.close"' in resp.text
    close_js = requests.get(f"{live_server.url}/static/js/registration-close.js").text
    assert "window.opener || window.parent" in close_js and "<script>" not in resp.text
    assert "Pending" in resp.text and "Activate" in resp.text

    (sent,) = platform.captured.registration_requests
    assert sent["authorization"] == "Bearer reg-token-1"
    assert platform.captured.config_requests[0]["authorization"] == "Bearer reg-token-1"
    body = sent["body"]
    launch_url = f"{live_server.url}/lti/launch"
    assert body["application_type"] == "web"
    assert body["response_types"] == ["id_token"]
    assert body["grant_types"] == ["implicit", "client_credentials"]
    assert body["redirect_uris"] == [launch_url]
    assert body["initiate_login_uri"].startswith(f"{live_server.url}/lti/login/")
    assert body["jwks_uri"] == f"{live_server.url}/lti/jwks"
    assert body["logo_uri"].startswith(live_server.url)
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["client_name"]
    assert set(body["scope"].split()) == SCOPES
    conf = body[TOOL_CONFIGURATION]
    assert conf["domain"] == urlsplit(launch_url).netloc  # host AND port, as Moodle checks
    assert conf["target_link_uri"] == launch_url
    assert set(conf["claims"]) == {"iss", "sub", "name", "given_name", "family_name", "email"}
    assert conf["custom_parameters"] == {"lms_due_at": "$Canvas.assignment.dueAt.iso8601"}
    types = {m["type"]: m for m in conf["messages"]}
    assert set(types) == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest",
                          "LtiDataPrivacyLaunchRequest",
                          "LtiSubmissionReviewRequest"}  # advertised: the gradebook may open it
    assert types["LtiDataPrivacyLaunchRequest"]["target_link_uri"] == launch_url
    assert types["LtiSubmissionReviewRequest"]["target_link_uri"] == launch_url
    assert types["LtiDeepLinkingRequest"]["placements"]
    assert conf["description"]

    (stored,) = platforms(app)
    assert stored.issuer == platform.issuer and stored.client_id == "dyn-client-7"
    assert stored.auth_login_url == f"{platform.url}/auth"
    assert stored.auth_token_url == f"{platform.url}/token"
    assert stored.key_set_url == f"{platform.url}/jwks"
    assert stored.product_family == "moodle"
    assert stored.deployment_policy == "allow"
    assert body["initiate_login_uri"].endswith("/" + stored.login_key)
    with app.app_context():
        stored = db.session.get(Platform, stored.id)
        assert [d.deployment_id for d in stored.deployments] == ["12"]
        assert db.session.scalar(db.select(AuditEvent).filter_by(
            event_type=EventType.PLATFORM_REGISTERED))


def test_a_registered_platform_can_launch_through_its_own_login_url(live_server, platform, app):
    assert register(live_server, platform).status_code == 200
    login_uri = platform.captured.registration_requests[0]["body"]["initiate_login_uri"]
    browser = LtiBrowser(live_server.url, platform)
    resp = browser.launch(urlsplit(login_uri).path, client_id=None)
    assert resp.status_code == 303, resp.text


def test_registration_without_token_sends_no_authorization(live_server, platform):
    assert register(live_server, platform, token=None).status_code == 200
    assert platform.captured.registration_requests[0]["authorization"] is None


@pytest.mark.parametrize("mode,status,words", [
    ("config_500", 502, "refused the OpenID configuration"),
    ("config_invalid_json", 502, "did not answer with JSON"),
    ("config_missing_fields", 502, "lacks token_endpoint"),
    ("register_400", 502, "HTTP 400"),
    ("register_500", 502, "HTTP 500"),
    ("register_invalid_json", 502, "did not answer with JSON"),
])
def test_platform_failures_become_clear_pages_and_store_nothing(live_server, platform, app,
                                                                mode, status, words):
    platform.registration_mode = mode
    resp = register(live_server, platform)
    assert resp.status_code == status
    assert words in resp.text
    assert platforms(app) == []


def test_issuer_on_another_host_than_the_configuration_url_is_refused(live_server, platform, app):
    platform.issuer_override = platform.url.replace("127.0.0.1", "localhost")
    resp = register(live_server, platform)
    assert resp.status_code == 502 and "not on the host of its configuration URL" in resp.text
    assert platform.captured.registration_requests == []
    assert platforms(app) == []


def test_slow_platform_times_out_with_a_clear_page(live_server, platform, app):
    app.config["OUTBOUND_TIMEOUT_SECONDS"] = 1
    platform.registration_mode = "register_slow"
    resp = register(live_server, platform)
    assert resp.status_code == 502 and "did not answer" in resp.text
    assert platforms(app) == []


def test_unreachable_platform(live_server, app):
    resp = requests.get(f"{live_server.url}/lti/register",
                        params={"openid_configuration": "http://127.0.0.1:9/openid"})
    assert resp.status_code == 502 and "could not reach" in resp.text


@pytest.mark.parametrize("value", [None, "", "ftp://lms.example/x", "not a url"])
def test_missing_or_bad_configuration_url(live_server, value):
    params = {"openid_configuration": value} if value is not None else {}
    resp = requests.get(f"{live_server.url}/lti/register", params=params)
    assert resp.status_code == 400
    assert "registration" in resp.text


def test_dynamic_registration_is_rate_limited_per_address(app_config):
    from lti_tool import create_app
    app = create_app({**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_REGISTER": "2 per minute"})
    client = app.test_client()
    codes = [client.get("/lti/register", headers={"Accept": "text/html"}).status_code
             for _ in range(3)]
    assert codes[:2] == [400, 400]  # no openid_configuration: refused, but counted
    assert codes[2] == 429
    resp = client.get("/lti/register", headers={"Accept": "application/json"})
    assert resp.status_code == 429 and resp.get_json()["error"]["code"]
