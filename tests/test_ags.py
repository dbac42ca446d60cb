"""The AGS client: token with a signed assertion, line item lookup and creation, scores."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import responses

from lti_tool.extensions import db
from lti_tool.lti import ags, ags_values as av, deep_linking
from lti_tool.lti.service_token import (ScopeNotGranted, ServiceRefused, ServiceUnavailable,
                                        access_token)
from lti_tool.models import AccessToken
from tests.agsfake import fake, room  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def score_for(room, **kw):
    return ags.build_score(user_sub=room.student.sub, timestamp=datetime.now(timezone.utc),
                           activity=av.ActivityProgress.COMPLETED,
                           grading=av.GradingProgress.FULLY_GRADED, **kw)


@pytest.mark.parametrize("lineitem,expected", [
    ("https://lms/x/lineitems/7/lineitem?type_id=1", "https://lms/x/lineitems/7/lineitem/scores?type_id=1"),
    ("https://lms/x/lineitems/7", "https://lms/x/lineitems/7/scores"),
    ("https://lms/x/lineitems/7/", "https://lms/x/lineitems/7/scores"),
    ("https://lms/li/7?a=1&b=2#f", "https://lms/li/7/scores?a=1&b=2#f"),
])
def test_scores_url_goes_before_the_query_string(lineitem, expected):
    assert ags.scores_url(lineitem) == expected


def test_score_is_posted_with_a_token_from_a_signed_assertion(app, room, fake):
    fake.link()
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room, score_given=7, score_maximum=10))
    claims = fake.verify_assertion(app)
    assert claims["iss"] == claims["sub"] == room.platform.client_id
    assert claims["aud"] == fake.token_url and claims["jti"] and claims["exp"] > claims["iat"]
    assert fake.last_token_form["grant_type"] == "client_credentials"
    assert fake.last_token_form["scope"] == av.SCOPE_SCORE
    call = fake.score_calls()[0]
    assert call.request.headers["Authorization"] == "Bearer tok1"
    assert call.request.headers["Content-Type"] == av.MediaType.SCORE
    body = json.loads(call.request.body)
    assert body["userId"] == room.student.sub
    assert body["scoreGiven"] == 7 and body["scoreMaximum"] == 10
    assert body["timestamp"].endswith("+00:00")


def test_assertion_audience_is_the_platform_audience_when_set(app, room, fake):
    room.platform.auth_audience = "https://brightspace.example/auth"
    fake.link()
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    assert fake.verify_assertion(app)["aud"] == "https://brightspace.example/auth"


def test_token_is_cached_until_shortly_before_expiry(app, room, fake):
    fake.link()
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    ags.send_score(room.assignment, score_for(room))
    assert fake.tokens_issued == 1
    cached = db.session.scalar(db.select(AccessToken))
    assert cached.expires_at < datetime.now(timezone.utc) + timedelta(seconds=3600)
    cached.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    ags.send_score(room.assignment, score_for(room))
    assert fake.tokens_issued == 2


def test_401_drops_the_token_and_retries_once(app, room, fake):
    fake.link()
    fake.accept_scores(status=401, body='{"error": "token expired"}')
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    assert fake.tokens_issued == 2
    auths = [c.request.headers["Authorization"] for c in fake.score_calls()]
    assert auths == ["Bearer tok1", "Bearer tok2"]


def test_second_401_is_refused_with_the_reason(app, room, fake):
    fake.link()
    for _ in range(2):
        fake.accept_scores(status=401, body='{"error": "invalid_client"}')
    with pytest.raises(ServiceRefused, match="invalid_client"):
        ags.send_score(room.assignment, score_for(room))


@pytest.mark.parametrize("status,kind", [(503, ServiceUnavailable), (429, ServiceUnavailable),
                                         (500, ServiceUnavailable), (400, ServiceRefused),
                                         (404, ServiceRefused)])
def test_errors_are_retryable_or_permanent(app, room, fake, status, kind):
    fake.link()
    fake.accept_scores(status=status, body="Incorrect score received",
                       headers={"Retry-After": "120"})
    with pytest.raises(kind) as err:
        ags.send_score(room.assignment, score_for(room))
    assert "Incorrect score received" in err.value.message
    if status == 429:
        assert err.value.retry_after == 120


def test_network_error_is_retryable(app, room, fake):
    import requests
    fake.link()
    fake.rsps.add(responses.POST, fake.scores_url, body=requests.ConnectionError("down"))
    with pytest.raises(ServiceUnavailable):
        ags.send_score(room.assignment, score_for(room))


def test_token_endpoint_refusal_is_permanent(app, room):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, room.platform.auth_token_url, status=400,
                 json={"error": "invalid_scope", "error_description": "scope not allowed"})
        with pytest.raises(ServiceRefused, match="scope not allowed"):
            access_token(room.platform, [av.SCOPE_SCORE])


def test_grade_sync_only_makes_no_lineitem_call(app, room, fake):
    fake.link(scopes=[av.SCOPE_SCORE])
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    urls = {c.request.url for c in fake.rsps.calls}
    assert urls == {fake.token_url, fake.scores_url}
    assert not ags.refresh_lineitem(room.assignment, force=True)


def test_without_score_scope_nothing_is_sent(app, room, fake):
    fake.link(scopes=[av.SCOPE_LINEITEM])
    with pytest.raises(ScopeNotGranted, match="score scope"):
        ags.send_score(room.assignment, score_for(room))
    assert len(fake.rsps.calls) == 0


def test_lineitem_found_by_resource_link_id_in_the_container(app, room, fake):
    fake.link(lineitem=False)
    rl = room.assignment.resource_link_id
    fake.rsps.add(responses.GET, fake.lineitems_url.split("?")[0], json=[
        {"id": f"{fake.base}/other", "resourceLinkId": "elsewhere", "scoreMaximum": 5},
        {"id": fake.lineitem_url, "resourceLinkId": rl, "scoreMaximum": 20,
         "endDateTime": "2030-01-02T03:04:05Z"}])
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    lookup = [c for c in fake.rsps.calls if c.request.method == "GET"][0]
    assert f"resource_link_id={rl}" in lookup.request.url
    assert lookup.request.headers["Accept"] == av.MediaType.LINEITEM_CONTAINER
    assert room.assignment.lineitem_url == fake.lineitem_url
    assert room.assignment.max_score == 20
    assert room.assignment.due_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_a_lineitem_made_by_deep_linking_is_found_by_the_passback_search(app, room, fake):
    """An LMS may keep the column deep linking created without a resourceLinkId: the search
    finds it by the tag and resourceId the deep-linking response gave it, which the link's
    custom parameters carry back into every launch."""
    settings = deep_linking.LinkSettings(title="Pitch")
    item = deep_linking.content_item(settings, "https://tool.example/lti/launch", True)
    room.assignment.custom = item["custom"]  # as provisioning stores them from the launch
    fake.link(lineitem=False)
    fake.rsps.add(responses.GET, fake.lineitems_url.split("?")[0], json=[
        {"id": f"{fake.base}/someone-elses", "tag": item["lineItem"]["tag"],
         "resourceId": "va-0000000000000000"},
        {"id": fake.lineitem_url, "scoreMaximum": 10, **item["lineItem"]}])
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    assert room.assignment.lineitem_url == fake.lineitem_url


def test_lineitem_container_pages_are_followed(app, room, fake):
    fake.link(lineitem=False)
    page2 = f"{fake.base}/mod/lti/services.php/2/lineitems?page=2"
    fake.rsps.add(responses.GET, fake.lineitems_url.split("?")[0], json=[],
                  headers={"Link": f'<{page2}>; rel="next"'},
                  match=[responses.matchers.query_param_matcher(
                      {"type_id": "1", "resource_link_id": room.assignment.resource_link_id})])
    fake.rsps.add(responses.GET, page2, json=[
        {"id": fake.lineitem_url, "resourceLinkId": room.assignment.resource_link_id}])
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    assert room.assignment.lineitem_url == fake.lineitem_url


def test_lineitem_created_when_missing_and_scope_granted(app, room, fake):
    fake.link(lineitem=False)
    fake.rsps.add(responses.GET, fake.lineitems_url.split("?")[0], json=[])
    fake.rsps.add(responses.POST, fake.lineitems_url, status=201,
                  json={"id": fake.lineitem_url, "scoreMaximum": 100})
    fake.accept_scores()
    ags.send_score(room.assignment, score_for(room))
    created = [c for c in fake.rsps.calls if c.request.url == fake.lineitems_url][0]
    body = json.loads(created.request.body)
    assert body["resourceLinkId"] == room.assignment.resource_link_id
    assert body["tag"] == av.LINEITEM_TAG and body["scoreMaximum"] == 100
    assert body["submissionReview"]["reviewableStatus"] == ["Submitted", "Completed"]
    assert created.request.headers["Content-Type"] == av.MediaType.LINEITEM
    assert room.assignment.lineitem_url == fake.lineitem_url


def test_no_lineitem_and_no_lineitem_scope_is_a_clear_refusal(app, room, fake):
    fake.link(lineitem=False, scopes=[av.SCOPE_SCORE])
    with pytest.raises(ScopeNotGranted, match="gradebook column"):
        ags.send_score(room.assignment, score_for(room))
    assert len(fake.rsps.calls) == 0


def test_refresh_reads_end_date_and_maximum(app, room, fake):
    fake.link()
    fake.rsps.add(responses.GET, fake.lineitem_url.split("?")[0], json={
        "id": fake.lineitem_url, "scoreMaximum": 25, "endDateTime": "2031-05-01T12:00:00+02:00"})
    assert ags.refresh_lineitem(room.assignment)
    assert room.assignment.max_score == 25
    assert room.assignment.due_at == datetime(2031, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert not ags.refresh_lineitem(room.assignment)  # fresh: not read again


def test_canvas_gets_the_submission_extension():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    score = ags.build_score(user_sub="u1", timestamp=when, activity=av.ActivityProgress.SUBMITTED,
                            grading=av.GradingProgress.PENDING_MANUAL, submitted_at=when,
                            new_submission=True, product_family="canvas")
    assert score[av.CANVAS_SUBMISSION_EXT] == {"new_submission": True,
                                               "submitted_at": "2026-01-02T03:04:05.000+00:00"}
    plain = ags.build_score(user_sub="u1", timestamp=when, activity=av.ActivityProgress.SUBMITTED,
                            grading=av.GradingProgress.PENDING_MANUAL, submitted_at=when,
                            product_family="moodle")
    assert av.CANVAS_SUBMISSION_EXT not in plain
    assert "scoreGiven" not in plain and "scoreMaximum" not in plain
