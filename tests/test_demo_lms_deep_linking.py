"""The demo LMS's deep-linking return endpoint: verify the tool's response, create activities."""
from __future__ import annotations

import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from demo_lms.control import control
from demo_lms.vocab import Claim
from tests.test_demo_lms_launch import authorize, verified_claims

RETURN_PATH = "/demo-lms/deep-link-return"


@pytest.fixture
def dl_request(demo_platform):
    """The claims of a deep-linking request the demo LMS sent (as the instructor)."""
    _, form = authorize(demo_platform.client, user="instructor",
                        message_type="LtiDeepLinkingRequest")
    return verified_claims(demo_platform.client, form.fields["id_token"])


def response_claims(demo_platform, dl_request, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": demo_platform.client_id, "aud": demo_platform.issuer, "iat": now,
        "exp": now + 300, "nonce": uuid.uuid4().hex,
        Claim.MESSAGE_TYPE: "LtiDeepLinkingResponse", Claim.VERSION: "1.3.0",
        Claim.DEPLOYMENT_ID: dl_request[Claim.DEPLOYMENT_ID],
        Claim.DL_DATA: dl_request[Claim.DL_SETTINGS]["data"],
        Claim.DL_MSG: "Your video assignment is ready.",
        Claim.DL_CONTENT_ITEMS: [{
            "type": "ltiResourceLink", "title": "Interview practice",
            "text": "Film a mock interview.", "url": "http://localhost/lti/launch",
            "custom": {"max_minutes": 5},
            "lineItem": {"scoreMaximum": 50, "label": "Interview", "resourceId": "iv-1",
                         "tag": "video"}}],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def post_response(demo_platform, token: str):
    return demo_platform.client.post(RETURN_PATH, data={"JWT": token})


def test_valid_response_creates_the_activity_and_its_line_item(app, demo_platform, dl_request):
    token = demo_platform.keys.sign(response_claims(demo_platform, dl_request))
    resp = post_response(demo_platform, token)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Interview practice" in page and "Your video assignment is ready." in page
    created = [i for i in control(app).lineitems() if i["label"] == "Interview"]
    assert len(created) == 1
    item = created[0]
    assert item["scoreMaximum"] == 50 and item["resourceId"] == "iv-1" and item["tag"] == "video"
    assert item["resourceLinkId"]
    assert "Interview practice" in demo_platform.client.get("/demo-lms/").get_data(as_text=True)


def test_created_activity_launches_with_its_custom_parameters_and_line_item(
        app, demo_platform, dl_request):
    post_response(demo_platform, demo_platform.keys.sign(response_claims(demo_platform,
                                                                          dl_request)))
    link_id = [i for i in control(app).lineitems() if i["label"] == "Interview"][0][
        "resourceLinkId"]
    _, form = authorize(demo_platform.client, link=link_id)
    claims = verified_claims(demo_platform.client, form.fields["id_token"])
    assert claims[Claim.RESOURCE_LINK]["title"] == "Interview practice"
    assert claims[Claim.CUSTOM] == {"max_minutes": "5"}
    assert "lineitem" in claims[Claim.AGS_ENDPOINT]


def test_replayed_response_is_refused(app, demo_platform, dl_request):
    token = demo_platform.keys.sign(response_claims(demo_platform, dl_request))
    assert post_response(demo_platform, token).status_code == 200
    again = post_response(demo_platform, token)
    assert again.status_code == 400 and b"already received" in again.data
    assert len([i for i in control(app).lineitems() if i["label"] == "Interview"]) == 1


@pytest.mark.parametrize("overrides", [
    {"aud": "http://localhost/lti"},
    {"iss": "unknown-client"},
    {Claim.MESSAGE_TYPE: "LtiResourceLinkRequest"},
    {Claim.VERSION: "1.1"},
    {Claim.DEPLOYMENT_ID: "2"},
    {Claim.DL_DATA: "not-a-request-we-sent"},
    {Claim.DL_DATA: None},
    {"nonce": None},
    {"exp": int(time.time()) - 120},
    {Claim.DL_CONTENT_ITEMS: [{"type": "ltiResourceLink", "title": "X",
                               "lineItem": {"scoreMaximum": 0}}]},
], ids=lambda o: next(iter(o)).rsplit("/", 1)[-1])
def test_invalid_responses_create_nothing(app, demo_platform, dl_request, overrides):
    before = len(control(app).lineitems())
    token = demo_platform.keys.sign(response_claims(demo_platform, dl_request, **overrides))
    resp = post_response(demo_platform, token)
    assert resp.status_code == 400
    assert len(control(app).lineitems()) == before
    assert "Interview practice" not in demo_platform.client.get("/demo-lms/").get_data(
        as_text=True)


def test_response_signed_by_another_key_is_refused(demo_platform, dl_request):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = demo_platform.keys.sign(response_claims(demo_platform, dl_request), key=stranger)
    resp = post_response(demo_platform, token)
    assert resp.status_code == 400 and b"refused" in resp.data


def test_missing_jwt_is_refused_with_a_clear_page(demo_platform):
    resp = demo_platform.client.post(RETURN_PATH, data={})
    assert resp.status_code == 400 and b"no JWT" in resp.data


def test_items_of_types_not_asked_for_are_ignored(app, demo_platform, dl_request):
    claims = response_claims(demo_platform, dl_request, **{
        Claim.DL_CONTENT_ITEMS: [{"type": "html", "html": "<b>hi</b>"}]})
    resp = post_response(demo_platform, demo_platform.keys.sign(claims))
    assert resp.status_code == 200
    assert b"Nothing was added" in resp.data and b"html" in resp.data
