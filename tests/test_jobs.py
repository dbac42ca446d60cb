"""Scheduled jobs run on one replica at a time, and a failing job does not stop others."""
from datetime import timedelta

import pytest

from lti_tool import jobs
from lti_tool.extensions import db
from lti_tool.models import JobLock, utcnow

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

CALLS = []


def sample_job():
    CALLS.append(1)


def failing_job():
    raise RuntimeError("boom")


def test_second_replica_cannot_take_a_held_lease(app):
    with app.app_context():
        assert jobs.acquire_lease("j", 60, owner="replica-a")
        assert not jobs.acquire_lease("j", 60, owner="replica-b")
        assert jobs.acquire_lease("j", 60, owner="replica-a")  # the holder may renew


def test_expired_lease_is_taken_over(app):
    with app.app_context():
        assert jobs.acquire_lease("j", 60, owner="replica-a")
        db.session.get(JobLock, "j").locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert jobs.acquire_lease("j", 60, owner="replica-b")


def test_run_job_runs_once_and_releases(app):
    CALLS.clear()
    assert jobs.run_job(app, "tests.test_jobs:sample_job")
    assert jobs.run_job(app, "tests.test_jobs:sample_job")
    assert CALLS == [1, 1]
    with app.app_context():
        lock = db.session.get(JobLock, "tests.test_jobs:sample_job")
        assert lock.owner is None and lock.last_run_at is not None


def test_run_job_skips_while_another_replica_holds_the_lease(app):
    CALLS.clear()
    with app.app_context():
        assert jobs.acquire_lease("tests.test_jobs:sample_job", 60, owner="other-replica")
    assert not jobs.run_job(app, "tests.test_jobs:sample_job")
    assert CALLS == []


def test_failing_job_is_logged_and_recorded(app, caplog):
    assert not jobs.run_job(app, "tests.test_jobs:failing_job")
    assert "failing_job failed" in caplog.text
    with app.app_context():
        assert "boom" in db.session.get(JobLock, "tests.test_jobs:failing_job").last_error
