"""The dashboard's processing queue: waiting, running and failed videos of the admin's own
platform, with the error in plain words, and an audited retry of a failed conversion."""
from __future__ import annotations

from datetime import timedelta

import pytest
from markupsafe import escape

from lti_tool.admin.processing_queue import processing_queue
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Video, utcnow
from lti_tool.processing import messages
from lti_tool.statuses import VideoStatus
from tests.admin_fixtures import make_video, site, store_locally  # noqa: F401  (fixture)
from tests.processing_fixtures import sample_file, samples_dir  # noqa: F401

pytestmark = pytest.mark.postgres  # counts in SQL; leases compared as timezone-aware times


def text(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def queue_videos(tenant, prefix: str) -> dict[str, Video]:
    """One waiting, one running (a live lease at 40 %) and one failed conversion."""
    submission = tenant.videos[0].submission
    now = utcnow()
    made = {
        "waiting": make_video(submission, 3, status=VideoStatus.PROCESSING,
                              filename=f"{prefix}-waiting.avi", uploaded_at=now),
        "running": make_video(submission, 4, status=VideoStatus.PROCESSING,
                              filename=f"{prefix}-running.wmv", processing_tries=1,
                              processing_percent=40.0,
                              processing_lease_until=now + timedelta(minutes=5)),
        "failed": make_video(submission, 5, status=VideoStatus.ERROR,
                             filename=f"{prefix}-failed.mkv", processing_tries=3,
                             error_code=messages.TRANSCODE_FAILED,
                             error_message=messages.MESSAGES[messages.TRANSCODE_FAILED]),
    }
    db.session.commit()
    return made


@pytest.mark.parametrize("who", ["instructor", "student"])
def test_only_admins_may_retry_processing(client, site, who):
    failed = queue_videos(site.a, "alpha")["failed"]
    resp = site.post(client, f"/admin/processing/{failed.id}/retry", who=who)
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(Video, failed.id).status == VideoStatus.ERROR


def test_the_queue_counts_waiting_running_and_failed_of_this_platform(site):
    queue_videos(site.a, "alpha")
    queue_videos(site.b, "beta")
    # A video a dead worker left: its lease lapsed, so it waits for the next worker.
    lapsed = make_video(site.a.videos[0].submission, 6, status=VideoStatus.PROCESSING,
                        processing_tries=1,
                        processing_lease_until=utcnow() - timedelta(seconds=1))
    # Refused at upload, before any processing: not a processing failure.
    make_video(site.a.videos[0].submission, 7, status=VideoStatus.ERROR, error_code="bad")
    # Cloudflare Stream processes its videos itself: not in our workers' queue.
    make_video(site.a.videos[0].submission, 8, status=VideoStatus.PROCESSING,
               backend="cloudflare")
    db.session.commit()
    queue = processing_queue(site.a.platform.id)
    assert (queue.waiting, queue.running, queue.failed) == (2, 1, 1)
    assert [row.running for row in queue.active if row.video.id == lapsed.id] == [False]
    assert {row.video.filename for row in queue.failures} == {"alpha-failed.mkv"}


def test_the_dashboard_shows_the_queue_with_the_error_in_plain_words(client, site):
    queue_videos(site.a, "alpha")
    queue_videos(site.b, "beta")
    page = text(site.get(client, "/admin/"))
    assert "Processing queue" in page
    assert "alpha-waiting.avi" in page and "alpha-running.wmv" in page
    assert "running</span> 40 %" in page
    assert str(escape(messages.MESSAGES[messages.TRANSCODE_FAILED])) in page
    assert "Film Studies · Film Studies pitch" in page
    assert "Retry<span class=\"sr-only\"> processing alpha-failed.mkv</span>" in page
    assert "beta-" not in page  # another LMS's queue is not this admin's


def test_a_refused_file_offers_no_retry(client, site):
    failed = queue_videos(site.a, "alpha")["failed"]
    failed.error_code = messages.NOT_A_VIDEO
    failed.error_message = messages.MESSAGES[messages.NOT_A_VIDEO]
    db.session.commit()
    page = text(site.get(client, "/admin/"))
    assert "alpha-failed.mkv" in page and "Retry<span" not in page
    resp = site.post(client, f"/admin/processing/{failed.id}/retry")
    assert resp.status_code == 409
    assert "refused again" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Video, failed.id).status == VideoStatus.ERROR


def test_another_platforms_video_cannot_be_retried(client, site):
    theirs = queue_videos(site.b, "beta")["failed"]
    resp = site.post(client, f"/admin/processing/{theirs.id}/retry")
    assert resp.status_code == 404
    db.session.expire_all()
    assert db.session.get(Video, theirs.id).status == VideoStatus.ERROR


def test_an_older_attempt_is_not_retried_over_a_newer_one(client, site):
    made = queue_videos(site.a, "alpha")
    made["failed"].storage_uid = "stored"
    make_video(made["failed"].submission, 9, status=VideoStatus.READY)
    db.session.commit()
    resp = site.post(client, f"/admin/processing/{made['failed'].id}/retry")
    assert resp.status_code == 409 and "newer attempt" in resp.get_data(as_text=True)


def test_a_graded_submission_is_not_reopened_by_a_retry(client, site):
    failed = queue_videos(site.a, "alpha")["failed"]
    failed.storage_uid = "stored"
    failed.submission.graded_at = utcnow()
    db.session.commit()
    resp = site.post(client, f"/admin/processing/{failed.id}/retry")
    assert resp.status_code == 409 and "graded or closed" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Video, failed.id).status == VideoStatus.ERROR


def test_retry_processes_the_video_again_and_is_audited(client, site, sample_file):
    failed = queue_videos(site.a, "alpha")["failed"]
    store_locally(failed, sample_file("avi_mpeg4").read_bytes())
    resp = site.post(client, f"/admin/processing/{failed.id}/retry")
    assert resp.status_code == 303
    db.session.expire_all()
    video = db.session.get(Video, failed.id)
    # The tests' queue runs the job at once: the conversion made it playable this time.
    assert (video.status, video.error_code) == (VideoStatus.READY, None)
    assert video.processing_tries == 1 and video.has_rendition
    [event] = db.session.scalars(db.select(AuditEvent).filter_by(
        event_type=EventType.PROCESSING_RETRIED)).all()
    assert (event.actor_id, event.target_id, event.platform_id) == (
        site.a.admin.id, str(failed.id), site.a.platform.id)
    assert event.data == {"error_code": messages.TRANSCODE_FAILED}
    page = text(site.get(client, "/admin/"))
    assert "Processing of alpha-failed.mkv will be tried again." in page
    assert processing_queue(site.a.platform.id).failed == 0
