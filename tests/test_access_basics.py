"""The launch carried in a header opens the right page for the right role."""
import pytest

from lti_tool.extensions import db
from tests.factories import Classroom


@pytest.fixture
def room(app):
    with app.app_context():
        room = Classroom()
        yield room
        db.session.rollback()


def test_page_without_launch_asks_to_open_from_course(client):
    resp = client.get("/assignment", headers={"Accept": "text/html"})
    assert resp.status_code == 401
    assert b"Open this activity again" in resp.data


def test_student_sees_assignment(app, client, room):
    launch = room.launch(room.student)
    resp = client.get("/assignment", headers=room.headers(launch))
    assert resp.status_code == 200
    assert room.assignment.title.encode() in resp.data


@pytest.mark.parametrize("who,status", [("student", 403), ("instructor", 200), ("ta", 200)])
def test_review_page_is_for_staff(app, client, room, who, status):
    launch = room.launch(getattr(room, who))
    resp = client.get("/review/assignment", headers=room.headers(launch))
    assert resp.status_code == status


def test_expired_or_forged_launch_id_is_refused(client):
    resp = client.get("/assignment", headers={"X-LTI-Launch": "forged-id"})
    assert resp.status_code == 401
