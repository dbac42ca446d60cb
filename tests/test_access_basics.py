"""The launch carried in a header opens the right page for the right role."""
import pytest

from tests.factories import room  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


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


def _cookie_only(client, launch):
    with client.session_transaction() as session:
        session["launch_id"] = launch.id


def test_page_opens_with_the_launch_from_the_cookie_alone(app, client, room):
    _cookie_only(client, room.launch(room.student))
    assert client.get("/assignment").status_code == 200


@pytest.mark.parametrize("carry", ["cookie", "query"])
def test_a_change_with_the_launch_only_in_cookie_or_url_is_refused(app, client, room, carry):
    launch = room.launch(room.student)
    _cookie_only(client, launch)
    url = "/api/uploads" + (f"?launch={launch.id}" if carry == "query" else "")
    resp = client.post(url, json={"filename": "a.mp4", "size_bytes": 10, "content_type": "video/mp4"})
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "launch_not_explicit"


def test_a_change_with_the_launch_in_the_header_goes_through(app, client, room):
    launch = room.launch(room.student)
    resp = client.post("/api/uploads", json={"filename": "a.mp4", "size_bytes": 10, "content_type": "video/mp4"},
                       headers=room.headers(launch))
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
