"""The admin's People page (GDPR): find a person of the platform, see what is held, download
it as JSON, erase it with the videos in storage (operator-granted admins only); only admins
get in, and only to their platform's people."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Submission, User, Video, utcnow
from lti_tool.privacy.requests import request_deletion
from tests.factories import make_user
from tests.admin_fixtures import operator, site, store_locally, text  # noqa: F401  (fixtures)


def _person(site, tenant="a"):
    return f"/admin/people/{getattr(site, tenant).student.id}"


def _events(kind) -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(db.select(AuditEvent).filter_by(event_type=kind)).all()


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_instructors_and_students_are_refused(client, site, who):
    for path in ("/admin/people?q=student", _person(site), _person(site) + "/export"):
        assert site.get(client, path, who=who).status_code == 403
    assert site.post(client, _person(site) + "/erase", who=who,
                     data={"confirm": "erase"}).status_code == 403


def test_an_admin_finds_their_platforms_people_only(client, site):
    page = text(site.get(client, "/admin/people?q=student"))
    assert "Alpha Student" in page and "Beta Student" not in page
    assert site.a.student.sub in text(site.get(client, f"/admin/people?q={site.a.student.sub}"))
    assert "Nobody of your platform matches" in text(site.get(client, "/admin/people?q=beta"))
    assert site.get(client, _person(site, "b")).status_code == 404
    assert site.get(client, _person(site, "b") + "/export").status_code == 404


def test_the_persons_page_counts_what_is_held_and_the_export_is_audited(client, site):
    page = text(site.get(client, _person(site)))
    assert "Alpha Student" in page and "1 submission with 2 videos" in page
    assert "(s)" not in page  # each count in its number: "1 course", "0 comments received"
    resp = site.get(client, _person(site) + "/export")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert "attachment" in resp.headers["Content-Disposition"]
    document = json.loads(resp.get_data(as_text=True))
    assert document["profile"]["sub"] == site.a.student.sub
    assert {v["filename"] for s in document["submissions"] for v in s["videos"]} == {
        "alpha-one.mp4", "alpha-two.mp4"}
    [event] = _events(EventType.USER_DATA_EXPORTED)
    assert event.actor_id == site.a.admin.id


def test_waiting_erasure_requests_are_listed(client, site):
    request_deletion(site.a.student, site.a.student)
    request_deletion(site.b.student, site.b.student)
    db.session.commit()
    page = text(site.get(client, "/admin/people"))
    assert "Alpha Student" in page and "Beta Student" not in page
    assert "Erasure was requested" in text(site.get(client, _person(site)))


def test_an_lms_role_admin_may_not_erase(client, site):
    page = text(site.get(client, _person(site)))
    assert "flask --app wsgi privacy delete" in page and "Erase everything" not in page
    resp = site.post(client, _person(site) + "/erase", data={"confirm": "erase"})
    assert resp.status_code == 403
    assert db.session.get(User, site.a.student.id) is not None


def test_an_operator_admin_erases_a_person_and_their_videos_in_storage(client, operator):
    site = operator
    student_id, platform_id = site.a.student.id, site.a.platform.id
    media = store_locally(site.a.videos[0])
    assert "Erase everything about Alpha Student" in text(site.get(client, _person(site)))
    refused = site.post(client, _person(site) + "/erase", data={"confirm": "yes"})
    assert refused.status_code == 400 and "erase" in text(refused)
    assert media.exists()
    resp = site.post(client, _person(site) + "/erase",
                     data={"confirm": "erase", "request_ref": "DPO-7"})
    assert resp.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, student_id) is None and not media.exists()
    assert not db.session.scalars(db.select(Submission).filter_by(user_id=student_id)).all()
    [event] = _events(EventType.USER_DATA_DELETED)
    assert event.data["request"] == "DPO-7" and event.platform_id == platform_id
    assert "Alpha Student" not in json.dumps(event.data)
    assert db.session.get(User, site.b.student.id) is not None  # the other platform's


def test_a_legal_hold_stops_the_erasure(client, operator):
    site = operator
    site.a.videos[0].legal_hold = True
    db.session.commit()
    resp = site.post(client, _person(site) + "/erase", data={"confirm": "erase"})
    assert resp.status_code == 409 and "legal hold" in text(resp)
    db.session.expire_all()
    assert db.session.get(User, site.a.student.id) is not None
    assert db.session.get(Video, site.a.videos[0].id).status != "deleted"


def test_an_admin_cannot_erase_themselves_or_another_platforms_people(client, operator):
    site = operator
    own = site.post(client, f"/admin/people/{site.a.admin.id}/erase", data={"confirm": "erase"})
    assert own.status_code == 409
    other = site.post(client, _person(site, "b") + "/erase", data={"confirm": "erase"})
    assert other.status_code == 404
    db.session.expire_all()
    assert db.session.get(User, site.b.student.id) is not None


def _names_in_order(page: str) -> list[str]:
    body = page.split('data-testid="people"')[1].split("</tbody>")[0]
    return [cell.split("</a>")[0].rsplit(">", 1)[1] for cell in body.split("<tr><td><a ")[1:]]


def test_without_a_query_everyone_of_the_platform_is_listed_in_pages_of_fifty(client, site):
    for n in range(60):
        make_user(site.a.platform, None, name=f"Bulk {n:02d}", email=f"bulk{n:02d}@a.edu")
    make_user(site.b.platform, None, name="Bulk of Beta")
    db.session.commit()
    first = text(site.get(client, "/admin/people"))
    assert "1–50 of 63 people" in first and "Next page" in first  # 60 + admin, teacher, student
    assert "Bulk of Beta" not in first
    second = text(site.get(client, "/admin/people?page=2"))
    assert "51–63 of 63 people" in second and "Bulk 59" in second and "Bulk 00" not in second
    assert "Beta Student" not in second
    found = text(site.get(client, "/admin/people?q=bulk&page=2"))
    assert "51–60 of 60 people" in found


def test_people_sort_on_the_server_by_each_column(client, site):
    now = utcnow()
    site.a.student.last_seen_at = now - timedelta(days=3)
    site.a.instructor.last_seen_at = now - timedelta(days=1)
    site.a.admin.email = "zz-admin@alpha.example.edu"
    db.session.commit()
    by_name = text(site.get(client, "/admin/people"))
    assert _names_in_order(by_name) == ["Alpha Admin", "Alpha Student", "Alpha Teacher"]
    assert 'aria-sort="ascending"' in by_name
    assert _names_in_order(text(site.get(client, "/admin/people?sort=name&desc=1"))) == [
        "Alpha Teacher", "Alpha Student", "Alpha Admin"]
    # Last seen: the most recent first, nobody-seen-yet last.
    assert _names_in_order(text(site.get(client, "/admin/people?sort=last_seen&desc=1"))) == [
        "Alpha Teacher", "Alpha Student", "Alpha Admin"]
    assert _names_in_order(text(site.get(client, "/admin/people?sort=email&desc=1")))[0] == \
        "Alpha Admin"
    # The sort survives a search, and a search's links keep both.
    searched = text(site.get(client, "/admin/people?q=alpha&sort=name&desc=1"))
    assert _names_in_order(searched)[0] == "Alpha Teacher"
    assert 'name="sort" value="name"' in searched and 'name="desc" value="1"' in searched


@pytest.mark.parametrize("query", ["sort=password", "desc=1&sort=id", "page=0", "page=x"])
def test_a_bad_order_or_page_is_a_clear_400(client, site, query):
    resp = site.get(client, f"/admin/people?{query}")
    assert resp.status_code == 400 and "bad_filter" in text(resp)
