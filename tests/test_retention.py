"""Retention: old videos leave storage in batches; legal holds, grades not yet in the LMS
and young videos stay; a dry run changes nothing (local disk, S3 on moto, Cloudflare)."""
from __future__ import annotations

import pytest
import responses

from lti_tool import jobs
from lti_tool.extensions import db
from lti_tool.housekeeping import retention
from lti_tool.models import AuditEvent, JobRun, Video
from lti_tool.settings import set_setting
from lti_tool.statuses import OutboxStatus, VideoStatus
from tests.factories import Classroom

from . import cloudflare_fake as cf
from .s3_server import moto_server, s3_bucket, s3_settings  # noqa: F401  (fixtures)
from .housekeeping_fixtures import (audit_events, make_video, put_local_file, queue_outbox,
                                    submission_of)


@pytest.fixture
def room(app):
    with app.app_context():
        yield Classroom()


def old_local_video(app, room, user=None, days_old=100, **kw):
    video = make_video(room.assignment, user or room.student, days_old=days_old, **kw)
    put_local_file(app, video.storage_uid)
    return video


def is_deleted(video) -> bool:
    db.session.expire_all()
    video = db.session.get(Video, video.id)
    return video.status == VideoStatus.DELETED and video.deleted_at is not None


def test_old_video_leaves_storage_and_is_marked_deleted(app, room):
    video = old_local_video(app, room)
    folder = put_local_file(app, video.storage_uid)
    counts = retention.apply_retention()
    assert counts["deleted"] == 1 and counts["failed"] == 0 and counts["bytes_freed"] == 1000
    assert is_deleted(video) and not folder.exists()
    assert retention.apply_retention()["deleted"] == 0  # safe to run twice


def test_young_video_stays(app, room):
    video = old_local_video(app, room, days_old=30)
    assert retention.apply_retention()["expired"] == 0
    assert not is_deleted(video)


def test_video_under_legal_hold_stays(app, room):
    video = old_local_video(app, room, legal_hold=True)
    folder = put_local_file(app, video.storage_uid)
    counts = retention.apply_retention()
    assert counts["kept_legal_hold"] == 1 and counts["deleted"] == 0
    assert not is_deleted(video) and folder.exists()


@pytest.mark.parametrize("status", [OutboxStatus.PENDING, OutboxStatus.FAILED])
def test_video_whose_grade_has_not_reached_the_lms_stays(app, room, status):
    video = old_local_video(app, room)
    queue_outbox(video.submission, status)
    counts = retention.apply_retention()
    assert counts["kept_grade_not_in_lms"] == 1 and counts["deleted"] == 0
    assert not is_deleted(video)


def test_video_with_a_grade_held_back_from_release_stays(app, room):
    video = old_local_video(app, room)
    submission = video.submission
    submission.score_given, submission.released = 7.0, False
    db.session.commit()
    assert retention.apply_retention()["kept_grade_not_in_lms"] == 1
    assert not is_deleted(video)


def test_video_whose_grade_was_delivered_goes(app, room):
    video = old_local_video(app, room)
    queue_outbox(video.submission, OutboxStatus.DELIVERED)
    queue_outbox(video.submission, OutboxStatus.SUPERSEDED)
    assert retention.apply_retention()["deleted"] == 1
    assert is_deleted(video)


def test_assignment_period_overrides_the_site_period(app, room):
    room.assignment.retention_days = 10
    video = old_local_video(app, room, days_old=20)
    other = Classroom()
    other.assignment.retention_days = 0  # this assignment keeps its videos
    kept = old_local_video(app, other, user=other.student, days_old=400)
    assert retention.apply_retention()["deleted"] == 1
    assert is_deleted(video) and not is_deleted(kept)


def test_site_period_is_an_admin_setting_and_zero_turns_retention_off(app, room):
    video = old_local_video(app, room, days_old=40)
    set_setting("RETENTION_DAYS", "0")
    db.session.commit()
    assert retention.apply_retention()["expired"] == 0
    set_setting("RETENTION_DAYS", "30")
    db.session.commit()
    assert retention.apply_retention()["deleted"] == 1 and is_deleted(video)


def test_dry_run_lists_what_would_go_and_changes_nothing(app, room):
    video = old_local_video(app, room)
    folder = put_local_file(app, video.storage_uid)
    old_local_video(app, room, user=room.other_student, legal_hold=True)
    before = db.session.scalar(db.select(db.func.count(AuditEvent.id)))
    counts = retention.apply_retention(dry_run=True)
    assert counts["would_delete"] == 1 and counts["kept_legal_hold"] == 1
    assert counts["videos"] == [{"video_id": video.id, "course_id": room.course.id,
                                 "backend": "local", "size_bytes": 1000, "age_days": 100}]
    assert "deleted" not in counts
    assert not is_deleted(video) and folder.exists()
    assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == before


def test_deletion_is_audited_without_personal_data(app, room):
    room.student.name, room.student.email = "Ada Lovelace", "ada@example.edu"
    video = old_local_video(app, room, filename="ada-pitch.mp4")
    retention.apply_retention()
    (event,) = audit_events("video_deleted")
    assert event.actor_id is None and event.target_id == str(video.id)
    assert event.course_id == room.course.id and event.data["reason"] == "retention"
    text = repr(event.data) + (event.target_type or "")
    assert "Ada" not in text and "ada" not in text and room.student.sub not in text


def test_deletes_in_batches_with_a_pause_between(app, room, monkeypatch):
    app.config.update(RETENTION_BATCH_SIZE=2, RETENTION_BATCH_PAUSE_SECONDS=0.5)
    for n in range(5):
        old_local_video(app, room, user=room.student if n % 2 else room.other_student)
    pauses = []
    monkeypatch.setattr(retention.time, "sleep", pauses.append)
    assert retention.apply_retention()["deleted"] == 5
    assert pauses == [0.5, 0.5]  # after the two full batches, not after the last one


def test_a_video_the_storage_cannot_delete_is_kept_and_counted(app, room, monkeypatch):
    from lti_tool.storage.base import BackendUnavailable
    from lti_tool.storage.local.backend import LocalStorage
    video = old_local_video(app, room)

    def refuse(self, storage_uid, backend_data=None):
        raise BackendUnavailable("disk offline")
    monkeypatch.setattr(LocalStorage, "delete", refuse)
    counts = retention.apply_retention()
    assert counts["failed"] == 1 and counts["deleted"] == 0
    assert not is_deleted(video)


def test_the_daily_job_records_its_counts(app, room, runner):
    old_local_video(app, room)
    result = runner.invoke(args=["jobs", "run", "retention", "--dry-run"])
    assert result.exit_code == 0 and '"would_delete": 1' in result.output
    assert '"videos": "1 listed"' in result.output and '"age_days": 100' in result.output
    result = runner.invoke(args=["jobs", "run", "retention"])
    assert result.exit_code == 0 and '"deleted": 1' in result.output
    runs = db.session.scalars(db.select(JobRun).filter_by(name="retention")
                              .order_by(JobRun.id)).all()
    assert [(r.dry_run, r.ok) for r in runs] == [(True, True), (False, True)]
    assert runs[1].counts["deleted"] == 1
    assert jobs.find_job("retention").schedule() == "daily at 03:10 UTC"


class TestOnS3:
    @pytest.fixture
    def app_config(self, app_config, moto_server, s3_bucket):
        app_config.update(s3_settings(moto_server, s3_bucket))
        return app_config

    def test_old_object_is_deleted_and_held_one_kept(self, app, room, moto_server, s3_bucket):
        from .s3_server import admin_client
        s3 = admin_client(moto_server)
        for key in ("videos/old.mp4", "videos/held.mp4"):
            s3.put_object(Bucket=s3_bucket, Key=key, Body=b"bytes")
        old = make_video(room.assignment, room.student, days_old=100, backend="s3",
                         storage_uid="videos/old.mp4")
        held = make_video(room.assignment, room.other_student, days_old=100, backend="s3",
                          storage_uid="videos/held.mp4", legal_hold=True)
        assert retention.apply_retention(dry_run=True)["would_delete"] == 1
        assert len(s3.list_objects_v2(Bucket=s3_bucket)["Contents"]) == 2
        assert retention.apply_retention()["deleted"] == 1
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
        assert keys == ["videos/held.mp4"]
        assert is_deleted(old) and not is_deleted(held)


class TestOnCloudflare:
    @pytest.fixture
    def app_config(self, app_config):
        app_config.update(cf.settings())
        return app_config

    def test_old_video_is_deleted_at_stream_and_waiting_grade_kept(self, app, room):
        old = make_video(room.assignment, room.student, days_old=100, backend="cloudflare",
                         storage_uid="a1")
        waiting = make_video(room.assignment, room.other_student, days_old=100,
                             backend="cloudflare", storage_uid="b2")
        queue_outbox(submission_of(room.assignment, room.other_student), OutboxStatus.PENDING)
        with responses.RequestsMock() as api:  # any other call would fail the test
            assert retention.apply_retention(dry_run=True)["would_delete"] == 1
            api.add(responses.DELETE, f"{cf.STREAM}/a1", json=cf.envelope(""))
            assert retention.apply_retention()["deleted"] == 1
            assert [c.request.method for c in api.calls] == ["DELETE"]
        assert is_deleted(old) and not is_deleted(waiting)
