"""The admin audit log page: filters by user, course, action and date, pages, CSV; only
admins, only their platform's events."""
from __future__ import annotations

import csv
import json
import io
from datetime import timedelta

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, utcnow
from tests.admin_fixtures import site  # noqa: F401  (fixture)


def text(resp) -> str:
    return resp.get_data(as_text=True)


@pytest.fixture
def logged(site):
    """A few events on each platform: Alpha's student played, Alpha's teacher graded."""
    a, b = site.a, site.b
    course_a = a.videos[0].submission.assignment.course_id
    now = utcnow()
    db.session.add_all([
        AuditEvent(event_type=EventType.PLAYBACK_GRANTED, actor_id=a.student.id,
                   platform_id=a.platform.id, course_id=course_a, target_type="video",
                   target_id=str(a.videos[0].id), at=now - timedelta(days=3)),
        AuditEvent(event_type=EventType.GRADE_SAVED, actor_id=a.instructor.id,
                   platform_id=a.platform.id, course_id=course_a, data={"score": 7},
                   at=now),
        AuditEvent(event_type=EventType.GRADE_SAVED, actor_id=b.instructor.id,
                   platform_id=b.platform.id, data={"score": 9}, at=now),
    ])
    db.session.commit()
    return site


@pytest.mark.parametrize("path", ["/admin/audit", "/admin/audit.csv"])
@pytest.mark.parametrize("who", ["instructor", "student"])
def test_instructors_and_students_are_refused(client, logged, path, who):
    assert logged.get(client, path, who=who).status_code == 403


def test_the_log_shows_this_platforms_events_only(client, logged):
    page = text(logged.get(client, "/admin/audit"))
    assert "Alpha Teacher" in page and "Alpha Student" in page and "score: 7" in page
    assert "Beta Teacher" not in page and "score: 9" not in page
    other = text(logged.get(client, "/admin/audit", tenant="b"))
    assert "Beta Teacher" in other and "Alpha" not in other.split("<main")[1]


@pytest.mark.parametrize("query, shown, hidden", [
    ("user=alpha+teacher", "score: 7", "Alpha Student"),
    ("action=playback_granted", "Alpha Student", "score: 7"),
    ("action=grade_saved", "score: 7", "Alpha Student"),
])
def test_filters(client, logged, query, shown, hidden):
    page = text(logged.get(client, f"/admin/audit?{query}"))
    assert shown in page and hidden not in page


def test_date_and_course_filters(client, logged):
    today = utcnow().date()
    page = text(logged.get(client, f"/admin/audit?since={today.isoformat()}"))
    assert "score: 7" in page and "Alpha Student" not in page
    course_b = logged.b.videos[0].submission.assignment.course_id
    assert "No event matches" in text(logged.get(client, f"/admin/audit?course={course_b}"))


def test_bad_action_is_a_400(client, logged):
    resp = logged.get(client, "/admin/audit?action=drop_tables")
    assert resp.status_code == 400 and "bad_filter" in text(resp)


def test_pages_newest_first(client, logged):
    now = utcnow()
    db.session.add_all([AuditEvent(event_type=EventType.LAUNCH, actor_id=logged.a.student.id,
                                   platform_id=logged.a.platform.id, data={"n": n},
                                   at=now - timedelta(minutes=n)) for n in range(60)])
    db.session.commit()
    first = text(logged.get(client, "/admin/audit?action=launch"))
    assert "1–50 of 60 events" in first and "n: 0" in first and "n: 59" not in first
    second = text(logged.get(client, "/admin/audit?action=launch&page=2"))
    assert "n: 59" in second and "Previous page" in second


def test_csv_export_is_filtered_and_audited(client, logged):
    resp = logged.get(client, "/admin/audit.csv?action=grade_saved")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(text(resp))))
    assert rows[0][:3] == ["at", "action", "user"]
    assert [r[2] for r in rows[1:]] == ["Alpha Teacher"]
    db.session.expire_all()
    [event] = db.session.scalars(db.select(AuditEvent).filter_by(
        event_type=EventType.ADMIN_EXPORT)).all()
    assert event.data == {"export": "audit", "filters": {"action": "grade_saved",
                                                         "sort": "at", "desc": "1"}}


def test_csv_details_are_json(client, logged):
    rows = list(csv.DictReader(io.StringIO(text(logged.get(
        client, "/admin/audit.csv?action=grade_saved")))))
    [row] = rows  # platform A's grade only
    assert row["details"] == '{"score": 7}' and json.loads(row["details"]) == {"score": 7}


def test_sorted_by_a_columns_heading_and_back(client, logged):
    first = text(logged.get(client, "/admin/audit"))
    assert first.index("score: 7") < first.index("Alpha Student")  # newest first
    assert 'aria-sort="descending"' in first
    oldest = text(logged.get(client, "/admin/audit?sort=at&desc=0"))
    assert oldest.index("Alpha Student") < oldest.index("score: 7")
    by_user = text(logged.get(client, "/admin/audit?sort=user&desc=0"))
    body = by_user.split("<tbody>")[1]
    assert body.index("Alpha Student") < body.index("Alpha Teacher")
    assert 'aria-sort="ascending"' in by_user
    by_action = text(logged.get(client, "/admin/audit?sort=action&desc=1")).split("<tbody>")[1]
    assert by_action.index("Playback granted") < by_action.index("Grade saved")
    rows = list(csv.reader(io.StringIO(text(logged.get(
        client, "/admin/audit.csv?sort=user&desc=1")))))
    # (the download's own audit entry, by the admin, is in the list it downloads)
    assert [r[2] for r in rows[1:]] == ["Alpha Teacher", "Alpha Student", "Alpha Admin"]


def test_a_word_columns_first_click_reads_a_to_z_and_time_newest_first(client, logged):
    page = text(logged.get(client, "/admin/audit?sort=at&desc=0"))
    for key in ("action", "user", "course"):
        assert f"sort={key}&amp;desc=0&amp;" in page
    assert "sort=at&amp;desc=1&amp;" in page  # the active column reverses
    page = text(logged.get(client, "/admin/audit?sort=action&desc=0"))
    assert "sort=at&amp;desc=1&amp;" in page  # time's first click: newest first


def test_an_unknown_sort_is_a_400(client, logged):
    assert logged.get(client, "/admin/audit?sort=password").status_code == 400


def test_actions_read_as_labels_with_the_name_as_filter_value(client, logged):
    page = text(logged.get(client, "/admin/audit"))
    assert '<option value="storage_tested">Storage connection tested</option>' in page
    assert "<td>Grade saved</td>" in page and "<td>Playback granted</td>" in page
    assert "<code>grade_saved</code>" not in page
    # Every event has its label, and the filter value stays the stored name.
    from lti_tool.audit import EVENT_LABELS
    assert set(EVENT_LABELS) == set(EventType)
    assert "Alpha Student" in text(logged.get(client, "/admin/audit?action=playback_granted"))
