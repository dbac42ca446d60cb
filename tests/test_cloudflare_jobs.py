"""The polling fallback: attempts stuck in a non-final state are settled by asking Stream."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import responses

from lti_tool.extensions import db
from lti_tool.models import Submission, Video, utcnow
from lti_tool.statuses import VideoStatus
from lti_tool.storage.jobs import poll_stuck_videos
from tests.factories import Classroom

from . import cloudflare_fake as cf

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings(CLOUDFLARE_POLL_AFTER_SECONDS=120))
    return app_config


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield Classroom()


def add_video(room, uid, status=VideoStatus.PROCESSING, age_seconds=600, backend="cloudflare"):
    submission = db.session.scalar(db.select(Submission).filter_by(
        assignment_id=room.assignment.id, user_id=room.student.id))
    if submission is None:
        submission = Submission(assignment_id=room.assignment.id, user_id=room.student.id)
        db.session.add(submission)
        db.session.flush()
    video = Video(submission_id=submission.id, attempt=len(submission.videos) + 1,
                  backend=backend, storage_uid=uid, status=status,
                  created_at=utcnow() - timedelta(seconds=age_seconds),
                  backend_data={"max_duration_seconds": 600})
    db.session.add(video)
    db.session.commit()
    return video


def test_stuck_processing_video_becomes_ready(ctx):
    video = add_video(ctx, "a1")
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/a1", json=cf.envelope(cf.video_body("a1")))
        assert poll_stuck_videos() == 1
    db.session.refresh(video)
    assert video.status == VideoStatus.READY and video.duration_seconds == 5.5


def test_upload_the_browser_never_confirmed_still_completes(ctx):
    video = add_video(ctx, "a2", status=VideoStatus.UPLOADING)
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/a2", json=cf.envelope(cf.video_body("a2")))
        poll_stuck_videos()
    db.session.refresh(video)
    assert video.status == VideoStatus.READY and video.uploaded_at is not None


def test_recent_and_final_videos_are_left_alone(ctx):
    add_video(ctx, "young", age_seconds=10)
    add_video(ctx, "done", status=VideoStatus.READY)
    add_video(ctx, "local", backend="local")
    with responses.RequestsMock() as api:  # any request would fail the test
        assert poll_stuck_videos() == 0
        assert len(api.calls) == 0


def test_upload_in_progress_stays_uploading(ctx):
    video = add_video(ctx, "a3", status=VideoStatus.UPLOADING)
    body = cf.video_body("a3", "pendingupload", uploadExpiry="2999-01-01T00:00:00Z")
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/a3", json=cf.envelope(body))
        assert poll_stuck_videos() == 0
    db.session.refresh(video)
    assert video.status == VideoStatus.UPLOADING


def test_expired_upload_link_closes_the_attempt(ctx):
    video = add_video(ctx, "a4", status=VideoStatus.PENDING)
    body = cf.video_body("a4", "pendingupload", uploadExpiry="2020-01-01T00:00:00Z")
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/a4", json=cf.envelope(body))
        assert poll_stuck_videos() == 1
    db.session.refresh(video)
    assert video.status == VideoStatus.ERROR and video.error_code == "upload_expired"
    assert video.uploaded_at is None


def test_video_gone_from_stream_is_an_error(ctx):
    video = add_video(ctx, "a5")
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/a5", status=404, json=cf.envelope(None, False, [
            {"code": 10003, "message": "not found"}]))
        poll_stuck_videos()
    db.session.refresh(video)
    assert video.status == VideoStatus.ERROR and video.error_code == "file_missing"


def test_provider_outage_leaves_the_attempt_for_the_next_run(ctx, caplog, monkeypatch):
    monkeypatch.setattr("lti_tool.storage.cloudflare.api.time.sleep", lambda s: None)
    video = add_video(ctx, "a6")
    with responses.RequestsMock() as api:
        api.add(responses.GET, f"{cf.STREAM}/a6", status=503)
        with caplog.at_level(logging.WARNING):
            assert poll_stuck_videos() == 0
    db.session.refresh(video)
    assert video.status == VideoStatus.PROCESSING
    assert "polling video" in caplog.text
