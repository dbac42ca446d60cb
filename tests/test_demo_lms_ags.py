"""The demo LMS's Assignment and Grade Services: line items, scores (validated like Moodle), results."""
from __future__ import annotations

import json

import pytest

from demo_lms import ensure_demo_registration
from demo_lms.control import control
from demo_lms.models import DemoUser
from demo_lms.vocab import MediaType, Scope
from lti_tool.extensions import db
from tests.launching import DemoPlatform

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def sub_of(app, username: str) -> str:
    with app.app_context():
        return db.session.scalar(db.select(DemoUser).filter_by(username=username)).sub


class Ags:
    """A pretend tool's AGS calls against the demo LMS."""

    def __init__(self, platform: DemoPlatform, *scopes):
        self.p = platform
        self.auth = {"Authorization": f"Bearer {platform.token(*scopes)}"}
        self.container = self.p.path(
            f"{platform.issuer}/services/1/lineitems?type_id={platform.tool_id}")

    def list(self, query: str = ""):
        sep = "&" if query else ""
        return self.p.client.get(f"{self.container}{sep}{query}", headers=self.auth)

    def seeded_item_url(self) -> str:
        return self.list().get_json()[0]["id"]

    def create(self, body: dict, content_type: str = MediaType.LINEITEM):
        return self.p.client.post(self.container, data=json.dumps(body),
                                  content_type=content_type, headers=self.auth)

    def post_score(self, lineitem_url: str, body: dict, content_type: str = MediaType.SCORE):
        path, _, query = self.p.path(lineitem_url).partition("?")
        return self.p.client.post(f"{path}/scores?{query}", data=json.dumps(body),
                                  content_type=content_type, headers=self.auth)


@pytest.fixture
def ags(demo_platform):
    return Ags(demo_platform, Scope.LINEITEM, Scope.SCORE, Scope.RESULT_READONLY)


def a_score(app, **overrides) -> dict:
    score = {"userId": sub_of(app, "student1"), "scoreGiven": 80, "scoreMaximum": 100,
             "comment": "Strong opening", "activityProgress": "Completed",
             "gradingProgress": "FullyGraded", "timestamp": "2026-03-01T10:00:00.000+00:00"}
    score.update(overrides)
    return {k: v for k, v in score.items() if v is not None}


# ---- line items ----
def test_seeded_line_item_is_listed_with_moodle_shaped_url(ags, demo_platform):
    resp = ags.list()
    assert resp.status_code == 200
    assert resp.mimetype == MediaType.LINEITEM_CONTAINER
    [item] = resp.get_json()
    assert item["label"] == "Video pitch" and item["scoreMaximum"] == 100
    assert item["id"].endswith(f"/lineitem?type_id={demo_platform.tool_id}")
    assert item["resourceLinkId"]


def test_line_items_need_a_bearer_token(demo_platform):
    container = f"/demo-lms/services/1/lineitems?type_id={demo_platform.tool_id}"
    resp = demo_platform.client.get(container)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    bad = demo_platform.client.get(container, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_line_items_need_a_line_item_scope(demo_platform):
    score_only = Ags(demo_platform, Scope.SCORE)
    resp = score_only.list()
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "insufficient_scope"


def test_readonly_scope_may_list_but_not_create(demo_platform):
    readonly = Ags(demo_platform, Scope.LINEITEM_READONLY)
    assert readonly.list().status_code == 200
    assert readonly.create({"label": "X", "scoreMaximum": 10}).status_code == 403


def test_create_filter_and_page_line_items(ags):
    created = ags.create({"label": "Peer review", "scoreMaximum": 20, "tag": "peer",
                          "resourceId": "video-42"})
    assert created.status_code == 201
    assert created.mimetype == MediaType.LINEITEM
    body = created.get_json()
    assert body["label"] == "Peer review" and body["tag"] == "peer"
    assert [i["label"] for i in ags.list("tag=peer").get_json()] == ["Peer review"]
    assert [i["label"] for i in ags.list("resource_id=video-42").get_json()] == ["Peer review"]
    link_id = ags.list().get_json()[0]["resourceLinkId"]
    assert [i["label"] for i in ags.list(f"resource_link_id={link_id}").get_json()] == \
        ["Video pitch"]
    first = ags.list("limit=1")
    assert len(first.get_json()) == 1
    next_url = first.headers["Link"].split(";")[0].strip("<>")
    assert 'rel="next"' in first.headers["Link"] and "type_id=" in next_url
    second = ags.p.client.get(ags.p.path(next_url), headers=ags.auth)
    assert [i["label"] for i in second.get_json()] == ["Peer review"]
    assert "Link" not in second.headers


@pytest.mark.parametrize("body, content_type, status", [
    ({"scoreMaximum": 10}, MediaType.LINEITEM, 400),
    ({"label": "No max"}, MediaType.LINEITEM, 400),
    ({"label": "Zero", "scoreMaximum": 0}, MediaType.LINEITEM, 400),
    ({"label": "Bad link", "scoreMaximum": 10, "resourceLinkId": "999"}, MediaType.LINEITEM, 400),
    ({"label": "Wrong type", "scoreMaximum": 10}, "application/json", 415),
])
def test_invalid_line_items_are_refused(ags, body, content_type, status):
    resp = ags.create(body, content_type)
    assert resp.status_code == status
    assert resp.get_json()["error"]["message"]


def test_get_update_and_delete_one_line_item(ags):
    url = ags.create({"label": "Draft", "scoreMaximum": 10}).get_json()["id"]
    path = ags.p.path(url)
    assert ags.p.client.get(path, headers=ags.auth).get_json()["label"] == "Draft"
    put = ags.p.client.put(path, data=json.dumps({"label": "Final", "scoreMaximum": 50}),
                           content_type=MediaType.LINEITEM, headers=ags.auth)
    assert put.status_code == 200 and put.get_json()["scoreMaximum"] == 50
    assert ags.p.client.delete(path, headers=ags.auth).status_code == 204
    assert ags.p.client.get(path, headers=ags.auth).status_code == 404


def test_line_item_url_without_type_id_or_with_scores_after_the_query_is_404(ags, app):
    url = ags.seeded_item_url()
    path, _, query = ags.p.path(url).partition("?")
    assert ags.p.client.get(path, headers=ags.auth).status_code == 404
    misplaced = ags.p.client.post(f"{path}?{query}/scores", data=json.dumps(a_score(app)),
                                  content_type=MediaType.SCORE, headers=ags.auth)
    assert misplaced.status_code in (404, 405)
    assert control(app).scores() == []


def test_another_tools_line_items_stay_hidden(app, ags, tool_keys):
    other = DemoPlatform(app, tool_keys, base_url="http://other-tool.example")
    other_ags = Ags(other, Scope.LINEITEM, Scope.SCORE)
    assert [i["label"] for i in other_ags.list().get_json()] == ["Video pitch"]
    mine = ags.seeded_item_url()
    path, _, _ = ags.p.path(mine).partition("?")
    resp = other.client.get(f"{path}?type_id={other.tool_id}", headers=other_ags.auth)
    assert resp.status_code == 404


# ---- scores ----
def test_valid_score_is_stored_and_answered_200_with_an_empty_body(app, ags):
    resp = ags.post_score(ags.seeded_item_url(), a_score(app))
    assert resp.status_code == 200
    assert resp.data == b""
    [stored] = control(app).scores()
    assert stored["scoreGiven"] == 80 and stored["scoreMaximum"] == 100
    assert stored["gradingProgress"] == "FullyGraded" and stored["applied"] is True
    assert stored["username"] == "student1"


@pytest.mark.parametrize("overrides", [
    {"userId": None}, {"timestamp": None}, {"activityProgress": None},
    {"gradingProgress": None}, {"scoreMaximum": None},
    {"timestamp": "yesterday"}, {"timestamp": "2026-03-01T10:00:00"},  # no time zone
    {"timestamp": "2026-03-01"},
    {"activityProgress": "Done"}, {"gradingProgress": "Graded"},
    {"scoreGiven": "eighty"}, {"scoreMaximum": 0}, {"scoreGiven": -1},
    {"comment": 5},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_incorrect_scores_are_refused_like_moodle(app, ags, overrides):
    resp = ags.post_score(ags.seeded_item_url(), a_score(app, **overrides))
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"].startswith("Incorrect score received")
    assert control(app).scores() == []


def test_score_without_score_given_needs_no_maximum(app, ags):
    resp = ags.post_score(ags.seeded_item_url(), a_score(
        app, scoreGiven=None, scoreMaximum=None, activityProgress="Submitted",
        gradingProgress="PendingManual"))
    assert resp.status_code == 200


@pytest.mark.parametrize("username", ["instructor", "ta", "student4", "admin"])
def test_scores_for_users_who_are_not_enrolled_students_are_refused(app, ags, username):
    resp = ags.post_score(ags.seeded_item_url(), a_score(app, userId=sub_of(app, username)))
    assert resp.status_code == 400
    assert "not an enrolled student" in resp.get_json()["error"]["message"]


def test_unknown_user_id_is_refused(app, ags):
    assert ags.post_score(ags.seeded_item_url(), a_score(app, userId="99999")).status_code == 400


def test_score_needs_the_score_media_type_and_scope(app, ags, demo_platform):
    url = ags.seeded_item_url()
    assert ags.post_score(url, a_score(app), content_type="application/json").status_code == 415
    lineitem_only = Ags(demo_platform, Scope.LINEITEM)
    assert lineitem_only.post_score(url, a_score(app)).status_code == 403


def test_older_score_is_ignored_and_newer_or_equal_is_applied(app, ags):
    url = ags.seeded_item_url()
    assert ags.post_score(url, a_score(app, scoreGiven=90,
                                       timestamp="2026-03-02T10:00:00Z")).status_code == 200
    older = ags.post_score(url, a_score(app, scoreGiven=10, timestamp="2026-03-01T10:00:00Z"))
    assert older.status_code == 200  # AGS 3.4.9: ignore, no error
    same = ags.post_score(url, a_score(app, scoreGiven=95, timestamp="2026-03-02T10:00:00Z"))
    assert same.status_code == 200
    assert [(s["scoreGiven"], s["applied"]) for s in control(app).scores()] == \
        [(90, True), (10, False), (95, True)]
    results = ags.p.client.get(ags.p.path(url).replace("/lineitem?", "/lineitem/results?"),
                               headers=ags.auth)
    assert [r["resultScore"] for r in results.get_json()] == [95]


def test_results_are_scaled_to_the_line_item_maximum_and_filter_by_user(app, ags):
    url = ags.seeded_item_url()
    ags.post_score(url, a_score(app, scoreGiven=4, scoreMaximum=5))
    ags.post_score(url, a_score(app, userId=sub_of(app, "student2"), scoreGiven=1,
                                scoreMaximum=2))
    path = ags.p.path(url).replace("/lineitem?", "/lineitem/results?")
    resp = ags.p.client.get(path, headers=ags.auth)
    assert resp.mimetype == MediaType.RESULT_CONTAINER
    assert {r["userId"]: r["resultScore"] for r in resp.get_json()} == {
        sub_of(app, "student1"): 80.0, sub_of(app, "student2"): 50.0}
    one = ags.p.client.get(f"{path}&user_id={sub_of(app, 'student2')}", headers=ags.auth)
    assert [r["userId"] for r in one.get_json()] == [sub_of(app, "student2")]
    assert resp.get_json()[0]["comment"] == "Strong opening"


# ---- fault injection ----
def test_injected_score_failures_come_before_success(app, ags):
    url = ags.seeded_item_url()
    lms = control(app)
    lms.fail_next("scores", 503, times=2)
    lms.fail_next("scores", 429, retry_after=30)
    statuses = [ags.post_score(url, a_score(app)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [503, 503, 429, 200]
    assert statuses[2].headers["Retry-After"] == "30"
    assert "Retry-After" not in statuses[0].headers
    assert len(lms.scores()) == 1


def test_injected_line_item_failure_and_reset(app, ags):
    lms = control(app)
    lms.fail_next("lineitems", 500, times=3)
    assert ags.list().status_code == 500
    lms.reset()
    assert ags.list().status_code == 200


def test_fail_next_refuses_unknown_endpoints(app):
    with pytest.raises(ValueError):
        control(app).fail_next("grades", 503)


def test_control_lists_line_items(app, ags):
    ags.create({"label": "Extra", "scoreMaximum": 5, "tag": "x"})
    labels = [(i["label"], i.get("tag")) for i in control(app).lineitems()]
    assert labels[-1] == ("Extra", "x") and ("Video pitch", None) in labels


def test_line_items_of_a_second_registration_are_created_for_it(app, tool_keys):
    with app.app_context():
        first = ensure_demo_registration("http://a.example")
        again = ensure_demo_registration("http://a.example/")
        assert first.id == again.id
