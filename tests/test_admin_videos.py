"""The admin videos page: server-side filters, sort, pages, CSV, play, delete, legal hold;
only admins get in, and only their platform's videos."""
from __future__ import annotations

import csv
import io
import re
import shutil

import pytest

from lti_tool.access.roles import Role
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Video
from lti_tool.statuses import VideoStatus
from tests.admin_fixtures import make_video, site, store_locally  # noqa: F401  (fixture)
from tests.factories import make_launch, make_user


def text(resp) -> str:
    return resp.get_data(as_text=True)


def events(kind) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(AuditEvent).filter_by(event_type=kind)))


@pytest.mark.parametrize("path", ["/admin/videos", "/admin/videos.csv"])
@pytest.mark.parametrize("who", ["instructor", "student"])
def test_instructors_and_students_are_refused(client, site, path, who):
    assert site.get(client, path, who=who).status_code == 403


def test_the_list_shows_this_platforms_videos_only(client, site):
    page = text(site.get(client, "/admin/videos"))
    assert "alpha-one.mp4" in page and "alpha-two.mp4" in page
    assert "beta-" not in page and "Marine Biology" not in page
    other = text(site.get(client, "/admin/videos", tenant="b"))
    assert "beta-one.mp4" in other and "alpha-" not in other


def test_another_platforms_admin_cannot_reach_a_video(client, site):
    video_id = site.a.videos[0].id
    for path in (f"/admin/videos/{video_id}", f"/admin/videos/{video_id}/delete"):
        assert site.get(client, path, tenant="b").status_code == 404
    assert site.post(client, f"/admin/videos/{video_id}/delete", tenant="b").status_code == 404
    assert site.post(client, f"/admin/videos/{video_id}/hold", tenant="b",
                     data={"hold": "1"}).status_code == 404
    assert db.session.get(Video, video_id).status == VideoStatus.READY
    # Filtering by the other platform's course finds nothing either.
    course_b = site.b.videos[0].submission.assignment.course_id
    assert "No video matches" in text(site.get(client, f"/admin/videos?course={course_b}"))


@pytest.mark.parametrize("query, shown, hidden", [
    ("status=error", "alpha-two", "alpha-one"),
    ("min_mb=1", "alpha-one", "alpha-two"),
    ("max_mb=0.001", "alpha-two", "alpha-one"),
    ("student=nobody", None, "alpha-"),
    ("student=alpha+student", "alpha-one", None),
    ("student=STUDENT@ALPHA", "alpha-two", None),
])
def test_filters_run_on_the_server(client, site, query, shown, hidden):
    page = text(site.get(client, f"/admin/videos?{query}"))
    if shown:
        assert shown in page
    if hidden:
        assert hidden not in page


def test_date_range_course_and_assignment_filters(client, site):
    first = site.a.videos[0]
    day = first.created_at.date().isoformat()
    page = text(site.get(client, f"/admin/videos?since={day}&until={day}"))
    assert "alpha-one" in page and "alpha-two" not in page
    course = first.submission.assignment.course_id
    assignment = first.submission.assignment_id
    page = text(site.get(client, f"/admin/videos?course={course}&assignment={assignment}"))
    assert "alpha-one" in page and "alpha-two" in page


@pytest.mark.parametrize("query", ["status=lost", "since=yesterday", "min_mb=-3", "page=0",
                                   "course=abc", "sort=password"])
def test_bad_filters_are_a_clear_400(client, site, query):
    resp = site.get(client, f"/admin/videos?{query}")
    assert resp.status_code == 400 and "bad_filter" in text(resp)


def test_sort_by_size_both_ways(client, site):
    up = text(site.get(client, "/admin/videos?sort=size&desc=0"))
    assert up.index("alpha-two") < up.index("alpha-one")
    down = text(site.get(client, "/admin/videos?sort=size&desc=1"))
    assert down.index("alpha-one") < down.index("alpha-two")


def test_a_word_columns_first_click_reads_a_to_z_and_a_figures_largest_first(client, site):
    page = text(site.get(client, "/admin/videos"))  # newest first
    for key in ("course", "student", "status"):
        assert f"sort={key}&amp;desc=0&amp;" in page
    for key in ("size", "duration"):
        assert f"sort={key}&amp;desc=1&amp;" in page


def test_pages_of_fifty(client, site):
    submission = site.a.videos[0].submission
    for n in range(3, 58):
        make_video(submission, n, filename=f"bulk-{n:02d}.mp4", size_bytes=n)
    db.session.commit()
    first = text(site.get(client, "/admin/videos?sort=size&desc=0"))
    assert "1–50 of 57 videos" in first and "Next page" in first
    second = text(site.get(client, "/admin/videos?sort=size&desc=0&page=2"))
    assert "51–57 of 57 videos" in second and "bulk-56" in second and "bulk-03" not in second


def test_csv_export_of_the_filtered_list_is_audited(client, site):
    site.a.videos[0].filename = "=HYPERLINK(evil).mp4"
    db.session.commit()
    resp = site.get(client, "/admin/videos.csv?status=ready")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(resp))))
    assert rows[0][0] == "video id" and len(rows) == 2
    assert rows[1][8] == "'=HYPERLINK(evil).mp4"  # a formula is defused
    assert "beta" not in text(resp)
    [event] = events(EventType.ADMIN_EXPORT)
    assert event.actor_id == site.a.admin.id and event.data["filters"] == {
        "status": "ready", "sort": "created", "desc": "1"}


def test_playing_a_video_is_a_playback_grant_audited_under_the_admin(client, site):
    video = site.a.videos[0]
    store_locally(video)
    page = site.get(client, f"/admin/videos/{video.id}")
    assert page.status_code == 200
    assert "<video" in text(page) and f"/api/videos/{video.id}/media?token=" in text(page)
    [event] = events(EventType.PLAYBACK_GRANTED)
    assert event.actor_id == site.a.admin.id and event.target_id == str(video.id)


def test_operator_granted_admin_may_play_through_the_permission_checks(client, site):
    # A user of platform A in no course at all, granted by an operator.
    video = site.a.videos[0]
    media = store_locally(video, b"0123456789")
    helper = make_user(site.a.platform, None, Role.LEARNER, admin_granted=True)
    launch = make_launch(helper, role=Role.LEARNER)
    page = text(client.get(f"/admin/videos/{video.id}", headers={"X-LTI-Launch": launch.id}))
    [url] = re.findall(r'src="([^"]*/media\?token=[^"]*)"', page)
    assert client.get(url.replace("&amp;", "&")).data == media.read_bytes()


def test_delete_says_what_is_lost_then_removes_the_file_and_audits(client, site):
    video = site.a.videos[0]
    media = store_locally(video)
    confirm = text(site.get(client, f"/admin/videos/{video.id}/delete"))
    assert "cannot be undone" in confirm and "Alpha Student" in confirm
    resp = site.post(client, f"/admin/videos/{video.id}/delete")
    assert resp.status_code == 303
    assert not media.exists()
    db.session.expire_all()
    assert db.session.get(Video, video.id).status == VideoStatus.DELETED
    [event] = events(EventType.VIDEO_DELETED)
    assert event.actor_id == site.a.admin.id and event.data["reason"] == "admin"


def test_a_video_under_legal_hold_is_not_deleted(client, site):
    video = site.a.videos[0]
    media = store_locally(video)
    hold = site.post(client, f"/admin/videos/{video.id}/hold", data={"hold": "1"})
    assert hold.status_code == 303
    assert "cannot be deleted" in text(site.get(client, f"/admin/videos/{video.id}/delete"))
    refused = site.post(client, f"/admin/videos/{video.id}/delete")
    assert refused.status_code == 409 and "legal hold" in text(refused)
    assert media.exists()
    db.session.expire_all()
    assert db.session.get(Video, video.id).legal_hold
    hold = site.post(client, f"/admin/videos/{video.id}/hold", data={"hold": "0"})
    assert hold.status_code == 303
    db.session.expire_all()
    assert not db.session.get(Video, video.id).legal_hold
    assert len(events(EventType.LEGAL_HOLD_SET)) == 1
    assert len(events(EventType.LEGAL_HOLD_LIFTED)) == 1


def test_a_change_without_the_launch_in_the_form_is_refused(client, site):
    video = site.a.videos[0]
    resp = client.post(f"/admin/videos/{video.id}/hold", data={"hold": "1"},
                       query_string={"launch": site.a.launches["admin"]})
    assert resp.status_code == 403
    assert not db.session.get(Video, video.id).legal_hold


def test_instructor_cannot_delete_or_hold(client, site):
    video = site.a.videos[0]
    refused = site.post(client, f"/admin/videos/{video.id}/delete", who="instructor")
    assert refused.status_code == 403
    assert site.post(client, f"/admin/videos/{video.id}/hold", who="instructor",
                     data={"hold": "1"}).status_code == 403
    assert db.session.get(Video, video.id).status == VideoStatus.READY




def test_statuses_read_as_the_instructor_pages_write_them(client, site):
    """The filter and badges say "Ready" / "Error", the filter's value stays the stored name."""
    page = text(site.get(client, "/admin/videos"))
    assert '<option value="ready">Ready</option>' in page
    assert '<option value="pending">Pending</option>' in page
    assert ">Ready</span>" in page and ">Error</span>" in page
    assert ">ready</span>" not in page and ">error</span>" not in page
    store_locally(site.a.videos[0])
    video = text(site.get(client, f"/admin/videos/{site.a.videos[0].id}"))
    assert ">Ready</span>" in video and ">ready</span>" not in video


def test_video_status_labels_are_the_instructor_queues():
    """One list of labels: the review queue's rows read as the video statuses do."""
    from lti_tool.grading.review_queue import STATUS_LABELS, RowStatus
    from lti_tool.statuses import VIDEO_STATUS_LABELS
    assert set(VIDEO_STATUS_LABELS) == set(VideoStatus)
    assert STATUS_LABELS[RowStatus.READY] == VIDEO_STATUS_LABELS[VideoStatus.READY] == "Ready"


@pytest.mark.parametrize("gone", ["file", "storage id"])
def test_a_ready_video_whose_file_is_gone_says_so_instead_of_failing(client, site, gone):
    video = site.a.videos[0]
    media = store_locally(video)
    if gone == "file":
        shutil.rmtree(media.parent)
    else:
        video.storage_uid = None
        db.session.commit()
    page = site.get(client, f"/admin/videos/{video.id}")
    assert page.status_code == 200
    assert "<video" not in text(page)
    assert re.search(r"not in the (local )?storage", text(page))
