"""The demo LMS's Names and Role Provisioning Service: the course roster, paged."""
from __future__ import annotations

import pytest

from demo_lms.control import control
from demo_lms.vocab import MediaType, RoleURI, Scope

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def roster_path(demo_platform, course_id: int = 1) -> str:
    return (f"/demo-lms/services/CourseSection/{course_id}/bindings/{demo_platform.tool_id}"
            "/memberships")


def auth(demo_platform, *scopes) -> dict:
    return {"Authorization": f"Bearer {demo_platform.token(*(scopes or [Scope.MEMBERSHIPS]))}"}


def test_roster_lists_every_member_with_status_roles_and_names(demo_platform):
    resp = demo_platform.client.get(roster_path(demo_platform), headers=auth(demo_platform))
    assert resp.status_code == 200
    assert resp.mimetype == MediaType.MEMBERSHIP_CONTAINER
    body = resp.get_json()
    assert body["context"]["title"] == "Film Studies 101"
    assert body["id"].endswith(roster_path(demo_platform))
    members = {m["given_name"]: m for m in body["members"]}
    assert set(members) == {"Ada", "Ben", "Chloé", "Ines", "Theo"}
    assert members["Ada"]["roles"] == [RoleURI.LEARNER]
    assert members["Theo"]["roles"] == [RoleURI.INSTRUCTOR, RoleURI.TEACHING_ASSISTANT]
    assert all(m["status"] == "Active" and m["user_id"] and m["name"] for m in members.values())


def test_second_course_has_its_own_roster(demo_platform):
    body = demo_platform.client.get(roster_path(demo_platform, 2),
                                    headers=auth(demo_platform)).get_json()
    assert {m["given_name"] for m in body["members"]} == {"Omar", "Dana"}


def test_roster_pages_with_link_next_when_limit_is_given(demo_platform):
    headers = auth(demo_platform)
    url, seen, pages = roster_path(demo_platform) + "?limit=2", [], 0
    while url:
        resp = demo_platform.client.get(url, headers=headers)
        pages += 1
        seen += [m["given_name"] for m in resp.get_json()["members"]]
        link = resp.headers.get("Link")
        url = demo_platform.path(link.split(";")[0].strip("<>")) if link else None
        if link:
            assert link.endswith('rel="next"')
    assert pages == 3
    assert sorted(seen) == sorted(["Ada", "Ben", "Chloé", "Ines", "Theo"])


def test_roster_filters_by_role(demo_platform):
    body = demo_platform.client.get(roster_path(demo_platform) + "?role=Learner",
                                    headers=auth(demo_platform)).get_json()
    assert {m["given_name"] for m in body["members"]} == {"Ada", "Ben", "Chloé"}


def test_roster_needs_the_membership_scope_and_the_callers_binding(demo_platform):
    path = roster_path(demo_platform)
    assert demo_platform.client.get(path).status_code == 401
    assert demo_platform.client.get(path, headers=auth(demo_platform, Scope.SCORE)) \
        .status_code == 403
    other_binding = path.replace(f"/bindings/{demo_platform.tool_id}/", "/bindings/999/")
    assert demo_platform.client.get(other_binding, headers=auth(demo_platform)).status_code == 404


def test_injected_roster_failure(app, demo_platform):
    control(app).fail_next("memberships", 502)
    headers = auth(demo_platform)
    assert demo_platform.client.get(roster_path(demo_platform), headers=headers) \
        .status_code == 502
    assert demo_platform.client.get(roster_path(demo_platform), headers=headers) \
        .status_code == 200
