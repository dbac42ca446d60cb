"""The roster client: pages, new users and enrollments, those who left become inactive."""
from __future__ import annotations

import pytest
import responses

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.lti import ags_values as av, nrps
from lti_tool.models import Enrollment, User
from tests.agsfake import fake, room  # noqa: F401  (fixtures)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def member(sub, roles=(LEARNER,), **kw):
    return {"user_id": sub, "roles": list(roles), **kw}


@pytest.fixture
def roster(room, fake):
    room.course.memberships_url = f"{fake.base}/mod/lti/services.php/CourseSection/2/bindings/1/memberships"
    db.session.commit()
    return room.course.memberships_url


def enrollment(room, user):
    return db.session.scalar(db.select(Enrollment).filter_by(course_id=room.course.id,
                                                             user_id=user.id))


def test_roster_pages_create_users_and_enrollments(app, room, fake, roster):
    page2 = roster + "?page=2"
    fake.rsps.add(responses.GET, roster, json={"members": [
        member(room.student.sub), member("new-1", name="Ada Lovelace", email="ada@x.edu")]},
        headers={"Link": f'<{page2}>; rel="next"'},
        match=[responses.matchers.query_param_matcher({})])
    fake.rsps.add(responses.GET, page2, json={"members": [
        member("new-2", given_name="Alan", family_name="Turing"),
        member(room.instructor.sub, roles=(INSTRUCTOR,))]})
    result = nrps.sync_roster(room.course)
    db.session.commit()
    assert (result.members, result.added) == (4, 2)
    ada = db.session.scalar(db.select(User).filter_by(sub="new-1"))
    assert ada.display_name == "Ada Lovelace" and ada.email == "ada@x.edu"
    assert enrollment(room, ada).source == "roster" and enrollment(room, ada).role == Role.LEARNER
    turing = db.session.scalar(db.select(User).filter_by(sub="new-2"))
    assert turing.display_name == "Alan Turing"
    assert room.course.roster_synced_at is not None
    call = fake.rsps.calls[1]
    assert call.request.headers["Accept"] == av.MediaType.MEMBERSHIP_CONTAINER
    assert fake.last_token_form["scope"] == av.SCOPE_NRPS


def test_students_who_left_become_inactive(app, room, fake, roster):
    fake.rsps.add(responses.GET, roster, json={"members": [
        member(room.student.sub, status="Inactive"),
        member(room.instructor.sub, roles=(INSTRUCTOR,))]})
    result = nrps.sync_roster(room.course)
    db.session.commit()
    assert not enrollment(room, room.student).active  # marked Inactive by the platform
    assert not enrollment(room, room.other_student).active  # no longer on the roster
    assert enrollment(room, room.ta).active  # staff who launched are kept
    assert result.deactivated == 1


def test_roster_is_stale_after_ten_minutes(app, room, roster):
    from datetime import timedelta

    from lti_tool.models import utcnow
    assert nrps.roster_is_stale(room.course)
    room.course.roster_synced_at = utcnow() - timedelta(minutes=5)
    assert not nrps.roster_is_stale(room.course)
    room.course.roster_synced_at = utcnow() - timedelta(minutes=11)
    assert nrps.roster_is_stale(room.course)


def test_no_nrps_means_no_roster(app, room):
    assert not nrps.has_roster(room.course)
    assert not nrps.roster_is_stale(room.course)
