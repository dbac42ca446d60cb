"""The admin platforms page: the admin's registration, deployment policy and keys; adding
and removing registrations only for operator-granted admins, with the videos kept or
deleted from storage."""
from __future__ import annotations

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Platform
from tests.admin_fixtures import operator, site, store_locally, text  # noqa: F401  (fixtures)
from tests.factories import make_platform

FORM = {"name": "Gamma Moodle", "issuer": "https://gamma.example.edu",
        "client_id": "gamma-client", "auth_login_url": "https://gamma.example.edu/auth",
        "auth_token_url": "https://gamma.example.edu/token",
        "key_set_url": "https://gamma.example.edu/certs", "deployment_ids": "1, 2",
        "policy": "allow"}




def events(kind):
    db.session.expire_all()
    return list(db.session.scalars(db.select(AuditEvent).filter_by(event_type=kind)))


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_instructors_and_students_are_refused(client, site, who):
    assert site.get(client, "/admin/platforms", who=who).status_code == 403
    assert site.post(client, "/admin/platforms/policy", who=who,
                     data={"policy": "allow"}).status_code == 403


def test_an_lms_admin_sees_their_registration_and_keys_only(client, site):
    page = text(site.get(client, "/admin/platforms"))
    assert site.a.platform.client_id in page and site.a.platform.issuer in page
    assert "/lti/login/" + site.a.platform.login_key in page
    assert "signing" in page
    assert site.b.platform.client_id not in page and site.b.platform.issuer not in page
    assert "for administrators a site operator granted" in page


def test_deployment_policy_is_the_admins_own_and_audited(client, site):
    assert site.post(client, "/admin/platforms/policy",
                     data={"policy": "allow"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Platform, site.a.platform.id).deployment_policy == "allow"
    assert db.session.get(Platform, site.b.platform.id).deployment_policy == "refuse"
    [event] = events(EventType.SETTING_CHANGED)
    assert event.data["deployment_policy"] == "allow" and event.actor_id == site.a.admin.id


def test_an_lms_admin_may_not_add_or_remove_registrations(client, site):
    assert site.post(client, "/admin/platforms", data=FORM).status_code == 403
    pid = site.b.platform.id
    assert site.get(client, f"/admin/platforms/{pid}/remove").status_code == 403
    assert site.post(client, f"/admin/platforms/{pid}/remove").status_code == 403
    assert db.session.get(Platform, pid) is not None


def test_an_operator_admin_adds_a_registration_by_the_form(client, operator):
    resp = operator.post(client, "/admin/platforms", data=FORM)
    assert resp.status_code == 303
    added = db.session.scalar(db.select(Platform).filter_by(client_id="gamma-client"))
    assert added.deployment_policy == "allow"
    assert sorted(d.deployment_id for d in added.deployments) == ["1", "2"]
    [event] = events(EventType.PLATFORM_REGISTERED)
    assert event.data["how"] == "admin" and event.actor_id == operator.a.admin.id
    again = operator.post(client, "/admin/platforms", data=FORM)
    assert again.status_code == 409 and "already registered" in text(again)


def test_a_bad_url_is_refused_with_the_form_kept(client, operator):
    resp = operator.post(client, "/admin/platforms", data=dict(FORM, key_set_url="ftp://x"))
    assert resp.status_code == 400
    assert "not an http(s) URL" in text(resp) and 'value="gamma-client"' in text(resp)


def test_removal_counts_first_then_deletes_the_videos_from_storage(client, operator):
    pid = operator.b.platform.id
    media = store_locally(operator.b.videos[0])
    confirm = text(operator.get(client, f"/admin/platforms/{pid}/remove"))
    assert "1 course and 3 users" in confirm and "2 videos, 2 of them in the storage" in confirm
    resp = operator.post(client, f"/admin/platforms/{pid}/remove", data={"videos": "delete"})
    assert resp.status_code == 303
    assert not media.exists()
    assert db.session.get(Platform, pid) is None
    [event] = events(EventType.PLATFORM_REMOVED)
    assert event.data["deleted_from_storage"] == 1 and event.data["videos"] == 2


def test_removal_may_keep_the_videos_in_storage(client, operator):
    pid = operator.b.platform.id
    media = store_locally(operator.b.videos[0])
    resp = operator.post(client, f"/admin/platforms/{pid}/remove", data={"videos": "keep"})
    assert resp.status_code == 303 and media.exists()
    assert db.session.get(Platform, pid) is None


def test_removal_with_deletion_is_refused_while_a_video_is_on_legal_hold(client, operator):
    operator.b.videos[0].legal_hold = True
    db.session.commit()
    pid = operator.b.platform.id
    assert "on legal hold" in text(operator.get(client, f"/admin/platforms/{pid}/remove"))
    resp = operator.post(client, f"/admin/platforms/{pid}/remove", data={"videos": "delete"})
    assert resp.status_code == 409
    assert db.session.get(Platform, pid) is not None


def test_an_operator_cannot_remove_the_registration_they_are_signed_in_through(client, operator):
    pid = operator.a.platform.id
    resp = operator.post(client, f"/admin/platforms/{pid}/remove", data={"videos": "keep"})
    assert resp.status_code == 409 and "signed in through" in text(resp)


def test_the_cli_counts_first_and_may_delete_the_videos_from_storage(runner, site):
    pid = site.b.platform.id
    media = store_locally(site.b.videos[0])
    result = runner.invoke(args=["platforms", "remove", str(pid), "--delete-videos", "--yes"])
    assert result.exit_code == 0, result.output
    assert "holds 1 courses, 3 users and 2 videos" in result.output
    assert "1 videos deleted from the storage" in result.output
    assert not media.exists()
    db.session.expire_all()
    assert db.session.get(Platform, pid) is None


def test_the_cli_keeps_the_videos_by_default(runner, site):
    media = store_locally(site.b.videos[0])
    result = runner.invoke(args=["platforms", "remove", str(site.b.platform.id), "--yes"])
    assert result.exit_code == 0 and "2 kept there" in result.output and media.exists()


def _issuers_in_order(page: str) -> list[str]:
    body = page.split('data-testid="registrations"')[1].split("</tbody>")[0]
    return [row.split("<code>")[1].split("</code>")[0] for row in body.split("<tr><td>")[1:]]


def test_the_sites_registrations_sort_and_page_on_the_server(client, operator):
    make_platform(issuer="https://aaa.example.edu", name="Zulu LMS")
    db.session.commit()
    by_id = text(operator.get(client, "/admin/platforms"))
    issuers = [operator.a.platform.issuer, operator.b.platform.issuer, "https://aaa.example.edu"]
    assert _issuers_in_order(by_id) == issuers
    assert "1–3 of 3 registrations" in by_id
    assert _issuers_in_order(text(operator.get(client, "/admin/platforms?sort=id&desc=1"))) \
        == issuers[::-1]
    by_issuer = text(operator.get(client, "/admin/platforms?sort=issuer"))
    assert _issuers_in_order(by_issuer) == sorted(issuers, key=str.lower)
    assert 'aria-sort="ascending"' in by_issuer
    by_name = text(operator.get(client, "/admin/platforms?sort=name&desc=1"))
    assert _issuers_in_order(by_name)[0] == "https://aaa.example.edu"  # Zulu LMS
    assert operator.get(client, "/admin/platforms?sort=login_key").status_code == 400


def test_the_registrations_come_in_pages_of_fifty(client, operator):
    for n in range(50):
        make_platform(issuer=f"https://bulk{n:02d}.example.edu")
    db.session.commit()
    first = text(operator.get(client, "/admin/platforms"))
    assert "1–50 of 52 registrations" in first and "Next page" in first
    second = text(operator.get(client, "/admin/platforms?page=2"))
    assert _issuers_in_order(second) == ["https://bulk48.example.edu",
                                         "https://bulk49.example.edu"]
