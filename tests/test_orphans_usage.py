"""The weekly orphans report (never deletes) and the monthly usage report (kept, CSV)."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from lti_tool import jobs
from lti_tool.extensions import db
from lti_tool.housekeeping import orphans
from lti_tool.housekeeping.usage import previous_month, usage_report
from lti_tool.models import JobRun, utcnow
from lti_tool.statuses import VideoStatus
from tests.factories import Classroom

from .housekeeping_fixtures import make_video, put_local_file
from .s3_server import moto_server, s3_bucket, s3_settings  # noqa: F401  (fixtures)


@pytest.fixture
def room(app):
    with app.app_context():
        yield Classroom()


def test_orphans_are_reported_and_never_deleted(app, room):
    kept = make_video(room.assignment, room.student, storage_uid="kept")
    put_local_file(app, "kept", days_old=3)
    stray = put_local_file(app, "stray", data=b"12345", days_old=3)  # no video row
    gone = make_video(room.assignment, room.student, storage_uid="was-deleted",
                      status=VideoStatus.DELETED)
    leftover = put_local_file(app, "was-deleted", days_old=3)
    put_local_file(app, "uploading-now")  # younger than the grace period
    missing = make_video(room.assignment, room.other_student, storage_uid="lost")
    report = orphans.find_orphans()
    assert report["orphan_objects"] == 2 and report["orphan_bytes"] == 5 + len(b"video-bytes")
    assert {o["storage_uid"] for o in report["orphans"]} == {"stray", "was-deleted"}
    assert report["missing_objects"] == 1
    assert report["missing"] == [{"backend": "local", "video_id": missing.id,
                                  "course_id": room.course.id}]
    assert report["backends"]["local"]["too_new"] == 1
    assert report["backends"]["local"]["objects"] == 4
    assert stray.exists() and leftover.exists()  # reported, not deleted
    assert kept.id and gone.id


def test_a_storage_that_cannot_be_listed_is_reported_not_fatal(app, room):
    make_video(room.assignment, room.student, backend="cloudflare", storage_uid="cf1")
    report = orphans.find_orphans()  # Cloudflare is not configured in this app
    assert "error" in report["backends"]["cloudflare"]
    assert "local" in report["backends"]


def test_the_weekly_job_keeps_its_report(app, room, runner):
    put_local_file(app, "stray", days_old=3)
    result = runner.invoke(args=["jobs", "run", "orphans"])
    assert result.exit_code == 0 and '"orphan_objects": 1' in result.output
    assert '"storage_uid": "stray"' in result.output
    run = db.session.scalar(db.select(JobRun).filter_by(name="orphans"))
    assert run.counts["orphans"][0]["storage_uid"] == "stray"
    assert jobs.find_job("orphans").schedule() == "weekly on sun at 04:20 UTC"


class TestOnS3:
    @pytest.fixture
    def app_config(self, app_config, moto_server, s3_bucket):
        app_config.update(s3_settings(moto_server, s3_bucket))
        return app_config

    def test_bucket_objects_no_video_references(self, app, room, moto_server, s3_bucket,
                                                monkeypatch):
        from .s3_server import admin_client
        monkeypatch.setattr(orphans, "GRACE", timedelta(0))
        s3 = admin_client(moto_server)
        for key in ("videos/ours.mp4", "videos/stray.mp4"):
            s3.put_object(Bucket=s3_bucket, Key=key, Body=b"bytes")
        s3.put_object(Bucket=s3_bucket, Key="backups/db.tar", Body=b"not ours")
        make_video(room.assignment, room.student, backend="s3", storage_uid="videos/ours.mp4")
        report = orphans.find_orphans()
        assert [o["storage_uid"] for o in report["orphans"]] == ["videos/stray.mp4"]
        assert report["missing_objects"] == 0
        assert len(s3.list_objects_v2(Bucket=s3_bucket)["Contents"]) == 3


def in_last_month(days: int = 2):
    start, _ = previous_month(utcnow())
    return (utcnow() - (start + timedelta(days=days))).total_seconds() / 86400


def test_usage_per_course_with_minutes_storage_and_cost(app, room):
    make_video(room.assignment, room.student, days_old=in_last_month(), size_bytes=3 * 1024**3,
               duration_seconds=120, backend="s3")
    make_video(room.assignment, room.other_student, days_old=in_last_month(5),
               size_bytes=1024**3, duration_seconds=60, backend="s3",
               status=VideoStatus.DELETED)
    make_video(room.assignment, room.ta, days_old=400, size_bytes=1024**3,
               duration_seconds=30, backend="s3")
    other = Classroom()
    other.course.title = "=HYPERLINK(\"x\")"
    make_video(other.assignment, other.student, days_old=in_last_month(), size_bytes=10,
               duration_seconds=600, backend="cloudflare")
    make_video(other.assignment, other.other_student, days_old=0, duration_seconds=60,
               backend="cloudflare")  # this month: not yet counted
    report = usage_report()
    first, second = report["courses"]
    assert first["course_id"] == room.course.id and first["uploads"] == 2
    assert first["upload_minutes"] == 3.0
    assert first["stored_videos"] == 2 and first["stored_bytes"] == 4 * 1024**3
    assert first["estimated_storage_cost_usd"] == round(4 * 0.023, 2)
    assert second["stored_minutes"] == 10.0 and second["uploads"] == 1
    assert second["estimated_storage_cost_usd"] == round(10 * 5.0 / 1000, 2)
    assert report["period"] == previous_month(utcnow())[0].strftime("%Y-%m")
    assert report["uploads"] == 3 and report["courses_count"] == 2


def _played(video, course, days_ago: float, times: int = 1):
    """Record `times` playback grants of a video, as the playback view does."""
    from lti_tool import audit
    from lti_tool.audit import EventType
    for _ in range(times):
        event = audit.record(EventType.PLAYBACK_GRANTED, target=video, course_id=course.id,
                             platform_id=course.platform_id, backend=video.backend)
        event.at = utcnow() - timedelta(days=days_ago)
    db.session.commit()


def test_usage_counts_minutes_delivered_from_playback_grants_and_prices_them(app, room):
    stream = make_video(room.assignment, room.student, days_old=400, size_bytes=10,
                        duration_seconds=600, backend="cloudflare")
    _played(stream, room.course, in_last_month(3), times=2)
    _played(stream, room.course, 0)  # this month: next report's
    other = Classroom()
    bucket = make_video(other.assignment, other.student, days_old=400, size_bytes=1024**3,
                        duration_seconds=60, backend="s3", status=VideoStatus.DELETED)
    _played(bucket, other.course, in_last_month(4))  # played, deleted since: still billed
    report = usage_report()
    first, second = report["courses"]
    assert first["plays"] == 2 and first["delivered_minutes"] == 20.0
    assert first["estimated_delivery_cost_usd"] == round(20 * 1.0 / 1000, 2)
    assert first["estimated_cost_usd"] == round(10 * 5.0 / 1000 + 20 * 1.0 / 1000, 2)
    assert second["course_id"] == other.course.id and second["stored_videos"] == 0
    assert second["plays"] == 1 and second["delivered_bytes"] == 1024**3
    assert second["estimated_delivery_cost_usd"] == 0.09
    assert report["plays"] == 3 and report["delivered_minutes"] == 21.0


def test_the_monthly_report_is_kept_and_downloadable_as_csv(app, room, runner, tmp_path):
    make_video(room.assignment, room.student, days_old=in_last_month(), size_bytes=100,
               duration_seconds=90)
    assert runner.invoke(args=["reports", "usage"]).exit_code != 0  # none kept yet
    assert runner.invoke(args=["jobs", "run", "usage_report"]).exit_code == 0
    out = tmp_path / "usage.csv"
    result = runner.invoke(args=["reports", "usage", "-o", str(out)])
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(out.read_text())))
    assert row["course_id"] == str(room.course.id) and row["uploads"] == "1"
    assert row["upload_minutes"] == "1.5" and row["stored_bytes"] == "100"
    assert jobs.find_job("usage_report").keep_days is None  # kept for ever
    assert jobs.find_job("usage_report").schedule() == "monthly on day 1 at 04:50 UTC"
    period = db.session.scalar(db.select(JobRun)).counts["period"]
    by_period = runner.invoke(args=["reports", "usage", "--period", period])
    assert by_period.exit_code == 0 and by_period.output.startswith("period,platform_id")
    assert runner.invoke(args=["reports", "usage", "--period", "1999-01"]).exit_code != 0


def test_csv_cells_cannot_be_read_as_formulas():
    from lti_tool.housekeeping.usage import report_csv
    text = report_csv({"courses": [{"course": "=SUM(A1)", "uploads": 1}]})
    assert "'=SUM(A1)" in text


class TestOnCloudflare:
    @pytest.fixture
    def app_config(self, app_config):
        from . import cloudflare_fake as cf
        app_config.update(cf.settings())
        return app_config

    def test_stream_videos_no_video_references_and_videos_stream_lost(self, app, room):
        import responses

        from . import cloudflare_fake as cf
        make_video(room.assignment, room.student, backend="cloudflare", storage_uid="cf1")
        lost = make_video(room.assignment, room.other_student, backend="cloudflare",
                          storage_uid="cf3")
        listing = [cf.video_body("cf1"), cf.video_body("cf2", created="2026-01-02T10:00:00Z"),
                   cf.video_body("theirs", meta={"name": "not uploaded by the tool"})]
        with responses.RequestsMock() as api:  # a DELETE would fail: nothing is deleted
            api.add(responses.GET, cf.STREAM, json=cf.envelope(listing))
            report = orphans.find_orphans()
        assert [o["storage_uid"] for o in report["orphans"]] == ["cf2"]
        assert [m["video_id"] for m in report["missing"]] == [lost.id]
        assert report["backends"]["cloudflare"]["objects"] == 2
