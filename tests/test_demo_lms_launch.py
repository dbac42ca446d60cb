"""The demo LMS's launch side: login initiation form, OIDC auth endpoint, id_token claims, pages."""
from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest

from demo_lms.control import control
from demo_lms.models import DemoLaunchRequest, DemoLineItem
from demo_lms.vocab import Claim, RoleURI, Scope
from lti_tool import create_app
from lti_tool.extensions import db
from lti_tool.models import Platform, utcnow
from tests.launching import parse_forms

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

REDIRECT_URI = "http://localhost/lti/launch"


def login_fields(client, **params) -> dict:
    """Start a launch on the demo LMS and return the fields it posts to the tool's login."""
    resp = client.get("/demo-lms/launch", query_string={"user": "student1", **params})
    assert resp.status_code == 200, resp.data[:500]
    [form] = parse_forms(resp.get_data(as_text=True), "http://localhost/demo-lms/launch")
    assert form.action == "http://localhost/lti/login" and form.method == "post"
    return form.fields


def auth_params(fields: dict, **overrides) -> dict:
    """Return the authorization request a spec-compliant tool would send for these fields."""
    params = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
              "prompt": "none", "client_id": fields["client_id"], "redirect_uri": REDIRECT_URI,
              "login_hint": fields["login_hint"], "lti_message_hint": fields["lti_message_hint"],
              "state": "state-123", "nonce": "nonce-456"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize(client, method="get", **launch):
    """Run login initiation + authorization; return (response, posted form or None)."""
    overrides = launch.pop("auth", {})
    params = auth_params(login_fields(client, **launch), **overrides)
    resp = (client.get("/demo-lms/auth", query_string=params) if method == "get"
            else client.post("/demo-lms/auth", data=params))
    forms = parse_forms(resp.get_data(as_text=True), "http://localhost/demo-lms/auth")
    return resp, (forms[0] if forms else None)


def verified_claims(client, id_token: str) -> dict:
    """Verify the id_token against the demo LMS's published JWKS and return its claims."""
    jwks = jwt.PyJWKSet.from_dict(client.get("/demo-lms/jwks").get_json())
    kid = jwt.get_unverified_header(id_token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    fields = jwt.decode(id_token, options={"verify_signature": False})
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience=fields["aud"])


@pytest.fixture
def client(demo_platform):
    return demo_platform.client


# ---- login initiation ----
def test_launch_form_carries_moodles_login_initiation_fields(client, demo_platform):
    fields = login_fields(client)
    assert fields["iss"] == "http://localhost/demo-lms"
    assert fields["client_id"] == demo_platform.client_id
    assert fields["lti_deployment_id"] == "1"
    assert fields["target_link_uri"] == REDIRECT_URI
    assert "launchid" in json.loads(fields["lti_message_hint"])


def test_demo_registration_creates_the_tool_side_platform(app, demo_platform):
    with app.app_context():
        platform = db.session.scalar(db.select(Platform).filter_by(
            client_id=demo_platform.client_id))
        assert platform.issuer == "http://localhost/demo-lms"
        assert platform.auth_login_url == "http://localhost/demo-lms/auth"
        assert platform.auth_token_url == "http://localhost/demo-lms/token"
        assert platform.key_set_url == "http://localhost/demo-lms/jwks"
        assert platform.product_family == "demo-lms" and platform.name == "Demo LMS"
        assert platform.deployment_policy == "allow"
        assert [d.deployment_id for d in platform.deployments] == ["1"]


def test_a_user_not_enrolled_in_the_course_cannot_launch_there(client):
    resp = client.get("/demo-lms/launch", query_string={"user": "student4"})
    assert resp.status_code == 403
    assert b"not enrolled" in resp.data


# ---- the authorization endpoint ----
@pytest.mark.parametrize("method", ["get", "post"])
def test_auth_answers_with_an_id_token_form_post_to_the_redirect_uri(client, method):
    resp, form = authorize(client, method)
    assert resp.status_code == 200
    assert form.action == REDIRECT_URI and form.method == "post"
    assert form.fields["state"] == "state-123"
    assert "id_token" in form.fields


def test_id_token_is_signed_with_a_kid_and_lives_60_seconds(client, demo_platform):
    _, form = authorize(client)
    claims = verified_claims(client, form.fields["id_token"])
    assert claims["exp"] - claims["iat"] == 60
    assert claims["nonce"] == "nonce-456"
    assert claims["iss"] == demo_platform.issuer and claims["aud"] == demo_platform.client_id


def test_id_token_carries_every_claim_moodle_sends_to_a_student(client, demo_platform):
    _, form = authorize(client)
    claims = verified_claims(client, form.fields["id_token"])
    assert claims[Claim.MESSAGE_TYPE] == "LtiResourceLinkRequest"
    assert claims[Claim.VERSION] == "1.3.0"
    assert claims[Claim.DEPLOYMENT_ID] == "1"
    assert claims[Claim.TARGET_LINK_URI] == REDIRECT_URI
    assert claims[Claim.RESOURCE_LINK]["title"] == "Video pitch"
    assert claims[Claim.ROLES] == [RoleURI.LEARNER]
    assert claims[Claim.CONTEXT]["title"] == "Film Studies 101"
    assert claims[Claim.TOOL_PLATFORM]["product_family_code"] == "demo-lms"
    assert claims[Claim.LAUNCH_PRESENTATION]["document_target"] == "iframe"
    assert claims[Claim.CUSTOM] == {}
    assert claims["email"].startswith("student1@") and claims["given_name"] == "Ada"
    ags = claims[Claim.AGS_ENDPOINT]
    assert set(ags["scope"]) == {Scope.LINEITEM, Scope.LINEITEM_READONLY,
                                 Scope.RESULT_READONLY, Scope.SCORE}
    assert ags["lineitems"].endswith(f"/lineitems?type_id={demo_platform.tool_id}")
    assert ags["lineitem"].endswith(f"/lineitem?type_id={demo_platform.tool_id}")
    nrps = claims[Claim.NRPS]
    assert nrps["service_versions"] == ["2.0"]
    assert nrps["context_memberships_url"].endswith(
        f"/bindings/{demo_platform.tool_id}/memberships")


@pytest.mark.parametrize("user, roles", [
    ("instructor", [RoleURI.INSTRUCTOR]),
    ("ta", [RoleURI.INSTRUCTOR, RoleURI.TEACHING_ASSISTANT]),
    ("admin", [RoleURI.INSTRUCTOR, RoleURI.INSTITUTION_ADMIN, RoleURI.SYSTEM_ADMIN]),
])
def test_roles_are_full_uris_as_lmss_send_them(client, user, roles):
    _, form = authorize(client, user=user)
    assert verified_claims(client, form.fields["id_token"])[Claim.ROLES] == roles


def test_roles_can_be_overridden_for_tests(client):
    mentor = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
    _, form = authorize(client, roles=mentor)
    assert verified_claims(client, form.fields["id_token"])[Claim.ROLES] == [mentor]


def test_lineitem_is_left_out_once_two_line_items_are_bound_to_the_link(app, client):
    with app.app_context():
        seeded = db.session.scalar(db.select(DemoLineItem).order_by(DemoLineItem.id))
        db.session.add(DemoLineItem(course_id=seeded.course_id, tool_id=seeded.tool_id,
                                    resource_link_id=seeded.resource_link_id, label="Second",
                                    score_maximum=10))
        db.session.commit()
    _, form = authorize(client)
    ags = verified_claims(client, form.fields["id_token"])[Claim.AGS_ENDPOINT]
    assert "lineitem" not in ags and "lineitems" in ags


def test_grade_sync_only_advertises_only_the_score_scope(app, client):
    control(app).set_granted_scopes([Scope.SCORE])
    _, form = authorize(client)
    claims = verified_claims(client, form.fields["id_token"])
    assert claims[Claim.AGS_ENDPOINT]["scope"] == [Scope.SCORE]
    assert Claim.NRPS not in claims


def test_deep_linking_request_carries_its_settings(client):
    _, form = authorize(client, user="instructor", message_type="LtiDeepLinkingRequest")
    claims = verified_claims(client, form.fields["id_token"])
    assert claims[Claim.MESSAGE_TYPE] == "LtiDeepLinkingRequest"
    settings = claims[Claim.DL_SETTINGS]
    assert settings["deep_link_return_url"] == "http://localhost/demo-lms/deep-link-return"
    assert settings["accept_types"] == ["ltiResourceLink"] and settings["data"]
    assert Claim.RESOURCE_LINK not in claims


def test_submission_review_carries_the_student_in_for_user(app, client, demo_platform):
    with app.app_context():
        item_id = db.session.scalar(db.select(DemoLineItem.id).order_by(DemoLineItem.id))
    _, form = authorize(client, user="instructor", message_type="LtiSubmissionReviewRequest",
                        for_user="student2", lineitem=item_id)
    claims = verified_claims(client, form.fields["id_token"])
    assert claims[Claim.MESSAGE_TYPE] == "LtiSubmissionReviewRequest"
    assert claims[Claim.FOR_USER]["given_name"] == "Ben"
    assert claims[Claim.FOR_USER]["roles"] == [RoleURI.LEARNER]
    assert claims[Claim.ROLES] == [RoleURI.INSTRUCTOR]
    assert claims[Claim.AGS_ENDPOINT]["lineitem"].endswith(
        f"/{item_id}/lineitem?type_id={demo_platform.tool_id}")


# ---- refusals ----
def test_wrong_redirect_uri_is_refused_without_redirecting(client):
    resp, form = authorize(client, auth={"redirect_uri": "http://localhost/lti/launch/"})
    assert resp.status_code == 400
    assert form is None
    assert b"redirect_uri" in resp.data


def test_unknown_client_is_refused_without_redirecting(client):
    resp, form = authorize(client, auth={"client_id": "someone-else"})
    assert resp.status_code == 400 and form is None
    assert b"Unknown client_id" in resp.data


@pytest.mark.parametrize("overrides, error", [
    ({"login_hint": "999"}, "login_required"),
    ({"lti_message_hint": '{"launchid": "forged"}'}, "login_required"),
    ({"lti_message_hint": "not json"}, "login_required"),
    ({"response_type": "code"}, "unsupported_response_type"),
    ({"response_mode": "query"}, "invalid_request"),
    ({"scope": "profile"}, "invalid_scope"),
    ({"prompt": None}, "invalid_request"),
    ({"nonce": None}, "invalid_request"),
])
def test_bad_auth_requests_get_an_oidc_error_at_the_redirect_uri(client, overrides, error):
    resp, form = authorize(client, auth=overrides)
    assert form.action == REDIRECT_URI
    assert form.fields["error"] == error and form.fields["state"] == "state-123"
    assert "id_token" not in form.fields


def test_expired_launch_is_refused(app, client):
    fields = login_fields(client)
    with app.app_context():
        launch = db.session.get(DemoLaunchRequest, json.loads(fields["lti_message_hint"])
                                ["launchid"])
        launch.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    resp = client.get("/demo-lms/auth", query_string=auth_params(fields))
    [form] = parse_forms(resp.get_data(as_text=True), "http://localhost/")
    assert form.fields["error"] == "login_required"


# ---- pages ----
def test_home_page_offers_one_click_launches_and_the_gradebook(client):
    page = client.get("/demo-lms/").get_data(as_text=True)
    assert "Video pitch" in page and "Film Studies 101" in page and "Chemistry 201" in page
    for username in ("student1", "student2", "student3", "instructor", "ta", "admin"):
        assert f'data-user="{username}"' in page
    assert "Add an activity (deep linking" in page
    assert "Grade analysis" in page and "No score yet" in page


def test_activity_page_embeds_the_launch_in_an_iframe_with_a_new_window_link(client):
    page = client.get("/demo-lms/course/1/activity/1?user=student2").get_data(as_text=True)
    assert '<iframe class="demo-frame" src="/demo-lms/launch?' in page
    assert "user=student2" in page and "Open in a new window" in page
    assert 'target="_blank"' in page


def test_demo_lms_answers_404_when_demo_mode_is_off(app_config):
    app = create_app({**app_config, "DEMO_LMS": False})
    client = app.test_client()
    for path in ("/demo-lms/", "/demo-lms/jwks", "/demo-lms/launch?user=student1",
                 "/demo-lms/auth"):
        assert client.get(path).status_code == 404
    assert client.post("/demo-lms/token", data={}).status_code == 404
