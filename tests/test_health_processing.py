"""/healthz's processing queue check: the queue's store answers, and a worker takes the videos
waiting for processing; a failing queue or an idle worker degrades, never takes the replica out."""
from __future__ import annotations

import re
import socket
import time
from datetime import timedelta

import pytest

from lti_tool.extensions import db
from lti_tool.models import JobLock, Submission, utcnow
from lti_tool.observability import health
from lti_tool.processing.queue import queue
from lti_tool.statuses import VideoStatus
from tests.admin_fixtures import make_video
from tests.factories import room  # noqa: F401

pytestmark = pytest.mark.postgres  # the check counts with FILTER clauses


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(PROCESSING_QUEUE="sqlite",
                      PROCESSING_QUEUE_FILE=str(tmp_path / "queue.sqlite"))
    return app_config


@pytest.fixture(autouse=True)
def healthy_elsewhere(app):
    """The other checks pass, so the processing queue alone decides degraded or ok."""
    app.extensions.pop(health._STORAGE_CACHE, None)
    with app.app_context():
        db.session.add(JobLock(name=health.FRESH_JOB, owner=None, locked_until=utcnow(),
                               last_run_at=utcnow()))
        db.session.commit()
    yield
    app.extensions.pop(health._STORAGE_CACHE, None)


def processing_video(room, minutes_ago: float, leased: bool = False, backend: str = "local"):
    """A video uploaded `minutes_ago`, processing, held by a live worker's lease or by none."""
    submission = db.session.scalar(db.select(Submission).filter_by(
        assignment_id=room.assignment.id, user_id=room.student.id))
    if submission is None:
        submission = Submission(assignment_id=room.assignment.id, user_id=room.student.id)
        db.session.add(submission)
        db.session.flush()
    now = utcnow()
    video = make_video(submission, len(submission.videos) + 1, status=VideoStatus.PROCESSING, backend=backend,
                       uploaded_at=now - timedelta(minutes=minutes_ago),
                       processing_lease_until=now + timedelta(minutes=5) if leased else None)
    db.session.commit()
    return video


def processing_check(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    return body["status"], body["checks"]["processing_queue"]


def test_reachable_queue_reports_the_jobs_it_holds(app, client, room):
    started = time.monotonic()
    video = processing_video(room, minutes_ago=1)
    queue().process(video.id)  # enqueued; no worker runs in this test
    status, check = processing_check(client)
    elapsed = time.monotonic() - started  # a loaded machine may take a second or two
    assert status == "ok" and check["ok"]
    waited = re.fullmatch(r"sqlite: 1 jobs queued, 0 videos processing, 1 waiting, "
                          r"the oldest for (\d+) s", check["detail"])
    assert waited, check["detail"]
    assert 60 <= int(waited.group(1)) <= 60 + elapsed + 1


def test_videos_no_worker_takes_degrade(app, client, room):
    processing_video(room, minutes_ago=10)
    status, check = processing_check(client)
    assert status == "degraded" and not check["ok"]
    assert "the oldest for 600 s" in check["detail"]
    assert "no worker is taking them" in check["detail"]


def test_a_busy_worker_is_not_a_missing_one(app, client, room):
    processing_video(room, minutes_ago=10)
    processing_video(room, minutes_ago=12, leased=True)
    status, check = processing_check(client)
    assert status == "ok" and check["ok"]
    assert "1 videos processing, 1 waiting, the oldest for 600 s" in check["detail"]


def test_a_backlog_older_than_an_hour_degrades(app, client, room):
    processing_video(room, minutes_ago=61)
    processing_video(room, minutes_ago=62, leased=True)
    status, check = processing_check(client)
    assert status == "degraded"
    assert check["detail"].endswith("the workers fall behind")


def test_videos_the_provider_processes_are_not_our_queue(app, client, room):
    processing_video(room, minutes_ago=120, backend="cloudflare")
    status, check = processing_check(client)
    assert status == "ok" and check["detail"] == "sqlite: 0 jobs queued, 0 videos processing"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestUnreachableRedis:
    """A Redis queue that does not answer: degraded, and the replica stays in."""

    @pytest.fixture
    def app_config(self, app_config):
        app_config.update(PROCESSING_QUEUE="redis",
                          REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
                          RATELIMIT_STORAGE_URI="memory://")
        return app_config

    def test_unreachable_queue_degrades_without_taking_the_replica_out(self, app, client):
        status, check = processing_check(client)
        assert status == "degraded"
        assert check == {"ok": False, "detail": "The redis processing queue cannot be "
                                                "reached (ConnectionError)."}
