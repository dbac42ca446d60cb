"""The admin dashboard: uploads per day, rates against targets, failures, storage and cost,
grade passback with "retry all failed", jobs; only admins, only their platform."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from lti_tool.admin import metrics
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, JobRun, ScoreOutbox, utcnow
from lti_tool.settings import set_setting
from lti_tool.statuses import OutboxStatus, VideoStatus
from lti_tool.uploads.attempts import ABANDONED
from tests.admin_fixtures import make_video, site  # noqa: F401  (fixture)


def text(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_instructors_and_students_are_refused(client, site, who):
    assert site.get(client, "/admin/", who=who).status_code == 403
    assert site.post(client, "/admin/scores/retry", who=who).status_code == 403


def test_uploads_per_day_in_the_chart_and_its_table(client, site):
    page = text(site.get(client, "/admin/"))
    one, two = site.a.videos
    assert f"<td>{one.created_at.date().isoformat()}</td><td>1</td><td>0</td>" in page
    assert f"<td>{two.created_at.date().isoformat()}</td><td>1</td><td>1</td>" in page
    assert 'role="img"' in page and "2 uploads in 30 days, 1 failed" in page
    assert page.count('class="bar"') == 30


def test_chart_description_counts_the_uploads_it_draws(client, site):
    page = text(site.get(client, "/admin/"))
    # Two uploads on two days: the busiest day had one, said in the singular.
    assert "busiest day: 1 upload." in page and "busiest day 2" not in page
    for video in site.a.videos:
        db.session.delete(video)
    db.session.commit()
    page = text(site.get(client, "/admin/"))
    # No upload at all: no busiest day (the axis still reaches 1, the description does not).
    assert "0 uploads in 30 days, 0 failed. The table below" in page
    assert "busiest" not in page


def test_upload_success_against_the_target_leaves_replaced_attempts_out(client, site):
    submission = site.a.videos[0].submission
    make_video(submission, 3, status=VideoStatus.ERROR, error_code=ABANDONED)
    db.session.commit()
    [uploads, playback, errors] = metrics.rates(site.a.platform.id)
    assert (uploads.good, uploads.total, uploads.on_target) == (1, 2, False)
    assert playback.percent is None
    page = text(site.get(client, "/admin/"))
    assert "50.0 %" in page and "off target" in page


def test_playback_and_error_rates_count_audited_outcomes(site):
    platform_id = site.a.platform.id
    for _ in range(99):
        db.session.add(AuditEvent(event_type=EventType.PLAYBACK_GRANTED, platform_id=platform_id))
    db.session.add(AuditEvent(event_type=EventType.PLAYBACK_REFUSED, platform_id=platform_id))
    db.session.add(AuditEvent(event_type=EventType.PLAYBACK_REFUSED,
                              platform_id=site.b.platform.id))
    db.session.commit()
    [uploads, playback, errors] = metrics.rates(platform_id)
    assert (playback.good, playback.total, playback.on_target) == (99, 100, True)
    # 1 failed upload + 1 refused playback, of 2 uploads + 100 playbacks.
    assert (errors.good, errors.total, errors.on_target) == (2, 102, False)


def test_targets_are_settings(site):
    set_setting("TARGET_UPLOAD_SUCCESS_PERCENT", "40")
    db.session.commit()
    [uploads, _, _] = metrics.rates(site.a.platform.id)
    assert uploads.target_percent == 40 and uploads.on_target


def test_error_breakdown_and_recent_failures_are_this_platforms(client, site):
    site.b.videos[1].error_code = "beta_only_code"
    db.session.commit()
    page = text(site.get(client, "/admin/"))
    assert "<code>bad_format</code>" in page and "Not a video." in page
    assert "beta_only_code" not in page and "Beta Student" not in page
    other = text(site.get(client, "/admin/", tenant="b"))
    assert "beta_only_code" in other and "Alpha Student" not in other


def test_storage_used_counts_stored_videos_only(client, site):
    page = text(site.get(client, "/admin/"))
    assert "10,000,000 bytes" in page  # the ready video; the failed one holds nothing
    [use] = metrics.storage_use(site.a.platform.id)
    assert (use.backend, use.videos, use.bytes, use.minutes) == ("local", 1, 10_000_000, 1.0)
    assert "no provider bill" in page


def test_cloudflare_cost_counts_minutes_stored_and_delivered_at_setting_prices(site):
    use = metrics.StorageUse("cloudflare", 10, 0, minutes=2000.0, delivered_minutes=10_000.0,
                             delivered_bytes=0)
    cost = metrics.monthly_cost("cloudflare", [use])
    assert [round(line.amount, 2) for line in cost.lines] == [10.0, 10.0]
    set_setting("PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES", "6")
    assert round(metrics.monthly_cost("cloudflare", [use]).total, 2) == 22.0


def test_s3_cost_counts_gigabytes_stored_and_transferred(site):
    use = metrics.StorageUse("s3", 3, 100 * metrics.GB, 0.0, 0.0, 1000 * metrics.GB)
    cost = metrics.monthly_cost("s3", [use])
    assert [round(line.amount, 2) for line in cost.lines] == [2.3, 90.0]


def test_delivery_is_estimated_from_playback_grants(site):
    video = site.a.videos[0]
    for _ in range(3):
        db.session.add(AuditEvent(event_type=EventType.PLAYBACK_GRANTED,
                                  platform_id=site.a.platform.id, target_type="video",
                                  target_id=str(video.id)))
    db.session.commit()
    [use] = metrics.storage_use(site.a.platform.id)
    assert (use.delivered_minutes, use.delivered_bytes) == (3.0, 30_000_000)


def _score(submission, status, age_hours=0):
    item = ScoreOutbox(submission_id=submission.id, payload={"scoreGiven": 1}, status=status,
                       score_timestamp=utcnow(), created_at=utcnow() - timedelta(hours=age_hours),
                       last_error="HTTP 404 from the LMS" if status == OutboxStatus.FAILED
                       else None)
    db.session.add(item)
    return item


def test_passback_health_and_retry_all_failed_for_this_platform_only(client, site):
    from lti_tool.models import Submission
    a_sub = site.a.videos[0].submission
    other_a = Submission(assignment_id=a_sub.assignment_id, user_id=site.a.instructor.id)
    db.session.add(other_a)
    db.session.flush()
    _score(a_sub, OutboxStatus.FAILED)
    _score(other_a, OutboxStatus.PENDING, age_hours=5)
    b_failed = _score(site.b.videos[0].submission, OutboxStatus.FAILED)
    db.session.commit()
    health = metrics.passback(site.a.platform.id)
    assert (health.pending, health.failed) == (1, 1)
    assert utcnow() - health.oldest_pending > timedelta(hours=4)
    page = text(site.get(client, "/admin/"))
    assert "Retry the refused grade" in page
    resp = site.post(client, "/admin/scores/retry")
    assert resp.status_code == 303
    db.session.expire_all()
    assert metrics.passback(site.a.platform.id).failed == 0
    assert metrics.passback(site.a.platform.id).pending == 2
    assert db.session.get(ScoreOutbox, b_failed.id).status == OutboxStatus.FAILED
    [event] = db.session.scalars(db.select(AuditEvent).filter_by(
        event_type=EventType.SCORES_RETRIED)).all()
    assert event.data == {"count": 1} and event.actor_id == site.a.admin.id


def test_jobs_show_their_last_run(client, site):
    now = utcnow()
    db.session.add_all([
        JobRun(name="retention", started_at=now - timedelta(days=1), ok=True,
               duration_seconds=1.0, counts={"deleted": 1}),
        JobRun(name="retention", started_at=now, ok=False, duration_seconds=2.5,
               counts={"deleted": 0}, error="storage unavailable"),
        JobRun(name="orphans", started_at=now, ok=True, duration_seconds=0.3,
               counts={"orphans": 4}, dry_run=True),
    ])
    db.session.commit()
    page = text(site.get(client, "/admin/"))
    assert "storage unavailable" in page and "2.5 s" in page and "orphans: 4" in page
    assert "deleted: 1" not in page  # only the newest run of each job
    # Each job by its label for people, not its command name.
    assert "Apply the retention policy" in page and "Find orphaned files" in page
    assert "<code>retention</code>" not in page


def test_jobs_show_only_their_figures_never_other_platforms_items(client, site):
    """The usage report's courses, the orphans and a dry run's videos cover every platform:
    the dashboard shows their totals, never the items."""
    other = site.b.videos[0]
    db.session.add_all([
        JobRun(name="usage_report", started_at=utcnow(), ok=True, duration_seconds=0.2,
               counts={"period": "2026-11", "courses_count": 1, "courses": [
                   {"course_id": 99, "course": "Beta secret seminar", "uploads": 3}]}),
        JobRun(name="orphans", started_at=utcnow(), ok=True, duration_seconds=0.1,
               counts={"orphan_objects": 1, "orphans": [{"storage_uid": "beta-object-uid"}],
                       "missing": [{"video_id": other.id, "course_id": 4242}],
                       "backends": {"local": {"objects": 7}}}),
    ])
    db.session.commit()
    page = text(site.get(client, "/admin/"))
    assert "courses_count: 1" in page and "period: 2026-11" in page
    assert "orphan_objects: 1" in page
    for leaked in ("Beta secret seminar", "beta-object-uid", "4242", "backends"):
        assert leaked not in page


def _usage_run(site, period="2026-11"):
    a, b = site.a.platform.id, site.b.platform.id
    db.session.add(JobRun(name="usage_report", started_at=utcnow(), ok=True,
                          duration_seconds=0.2, counts={
                              "period": period, "courses_count": 2, "courses": [
                                  {"period": period, "platform_id": a, "course_id": 1,
                                   "course": "=Alpha film", "uploads": 3},
                                  {"period": period, "platform_id": b, "course_id": 2,
                                   "course": "Beta secret seminar", "uploads": 5}]}))
    db.session.commit()


def test_the_usage_report_downloads_with_the_platforms_courses_only(client, site):
    page = text(site.get(client, "/admin/"))
    assert "none is kept yet" in page
    assert site.get(client, "/admin/usage.csv").status_code == 404
    _usage_run(site, "2026-10")
    _usage_run(site)
    page = text(site.get(client, "/admin/"))
    assert "Download the usage report of 2026-11" in page
    resp = site.get(client, "/admin/usage.csv?period=2026-10")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="usage-2026-10.csv"' in resp.headers["Content-Disposition"]
    lines = resp.get_data(as_text=True).splitlines()
    assert lines[0].startswith("period,platform_id,course_id,course,uploads")
    assert len(lines) == 2 and "'=Alpha film" in lines[1]  # a formula is defused
    assert "Beta" not in resp.get_data(as_text=True)
    b_csv = site.get(client, "/admin/usage.csv", tenant="b").get_data(as_text=True)
    assert "Beta secret seminar" in b_csv and "Alpha" not in b_csv
    db.session.expire_all()
    exports = db.session.scalars(db.select(AuditEvent).filter_by(
        event_type=EventType.ADMIN_EXPORT)).all()
    assert sorted(e.data["period"] for e in exports) == ["2026-10", "2026-11"]
    assert {e.data["export"] for e in exports} == {"usage"}


@pytest.mark.parametrize("period, status", [("2026-13", 400), ("soon", 400),
                                            ("2025-01", 404)])
def test_a_bad_or_unknown_usage_period_is_said(client, site, period, status):
    _usage_run(site)
    resp = site.get(client, f"/admin/usage.csv?period={period}")
    assert resp.status_code == status


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_only_admins_download_the_usage_report(client, site, who):
    _usage_run(site)
    assert site.get(client, "/admin/usage.csv", who=who).status_code == 403


def test_this_month_so_far_is_worked_out_on_demand_for_the_platform_only(client, site):
    from lti_tool.housekeeping.usage import previous_month
    first_of_month = previous_month(utcnow())[1]
    for video in site.a.videos + site.b.videos:
        video.created_at = first_of_month  # this month's, whatever day the test runs
    db.session.commit()
    month = first_of_month.strftime("%Y-%m")
    page = text(site.get(client, "/admin/"))
    assert "Download this month so far per course (CSV)" in page  # no kept report needed
    resp = site.get(client, "/admin/usage-so-far.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert f'filename="usage-{month}-so-far.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [(r["period"], r["course"], r["uploads"]) for r in rows] == [
        (f"{month} so far", site.a.videos[0].submission.assignment.course.title, "2")]
    b_rows = list(csv.DictReader(io.StringIO(
        site.get(client, "/admin/usage-so-far.csv", tenant="b").get_data(as_text=True))))
    assert [r["course"] for r in b_rows] == [site.b.videos[0].submission.assignment.course.title]
    assert site.get(client, "/admin/usage-so-far.csv", who="instructor").status_code == 403
    db.session.expire_all()
    [export, _] = db.session.scalars(db.select(AuditEvent).filter_by(
        event_type=EventType.ADMIN_EXPORT).order_by(AuditEvent.id)).all()
    assert export.data == {"export": "usage", "period": f"{month} so far"}
