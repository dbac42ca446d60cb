"""Scheduled jobs run on one replica at a time, and a failing job does not stop others."""
from datetime import timedelta

import pytest

from lti_tool import jobs
from lti_tool.extensions import db
from lti_tool.models import JobLock, JobRun, utcnow

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


# ---- job runs are recorded ------------------------------------------------------------

def counting_job(dry_run: bool = False):
    CALLS.append("dry" if dry_run else "real")
    return {"seen": 3, "dry": dry_run}


def _runs(name):
    return db.session.scalars(db.select(JobRun).filter_by(name=name)
                              .order_by(JobRun.id)).all()


def test_each_run_is_recorded_with_its_counts(app):
    assert jobs.run_job(app, "tests.test_jobs:counting_job")
    with app.app_context():
        (run,) = _runs("tests.test_jobs:counting_job")
        assert run.ok is True and run.dry_run is False and run.error is None
        assert run.counts == {"seen": 3, "dry": False}
        assert run.finished_at >= run.started_at and run.duration_seconds >= 0


def test_a_failed_run_is_recorded_with_its_error(app):
    assert not jobs.run_job(app, "tests.test_jobs:failing_job")
    with app.app_context():
        (run,) = _runs("tests.test_jobs:failing_job")
        assert run.ok is False and "RuntimeError: boom" in run.error


def test_a_job_counting_one_thing_gets_a_count(app):
    with app.app_context():
        job = jobs.Job("purge_rate_counters", "lti_tool.web.rate_limits:purge_expired_counters")
        assert jobs.run_now(job).counts == {"count": 0}


def test_a_run_skipped_for_the_lease_is_not_recorded(app):
    with app.app_context():
        assert jobs.acquire_lease("tests.test_jobs:counting_job", 60, owner="other-replica")
    assert not jobs.run_job(app, "tests.test_jobs:counting_job")
    with app.app_context():
        assert _runs("tests.test_jobs:counting_job") == []


def test_a_scheduled_daily_job_does_not_run_again_right_after_another_replica(app, monkeypatch):
    CALLS.clear()
    daily = jobs.Job("daily_count", "tests.test_jobs:counting_job", cron={"hour": 3})
    monkeypatch.setattr(jobs, "JOBS", [*jobs.JOBS, daily])
    assert jobs.run_job(app, "daily_count", scheduled=True)
    assert not jobs.run_job(app, "daily_count", scheduled=True)  # the second replica
    assert jobs.run_job(app, "daily_count")  # an operator's run is never skipped
    assert CALLS == ["real", "real"]


def test_jobs_list_shows_schedule_and_last_result(app, runner):
    assert jobs.run_job(app, "purge_rate_counters")
    result = runner.invoke(args=["jobs", "list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines()
                if line.startswith("purge_rate_counters"))
    assert "every 600 s" in line and 'ok in' in line and '"count": 0' in line
    assert "never run" in next(line for line in result.output.splitlines()
                               if line.startswith("deliver_scores"))
    assert "daily at 02:40 UTC" in result.output


def test_jobs_run_records_a_dry_run(app, runner, monkeypatch):
    CALLS.clear()
    job = jobs.Job("counting", "tests.test_jobs:counting_job", every_seconds=60, dry_run=True)
    monkeypatch.setattr(jobs, "JOBS", [job])
    result = runner.invoke(args=["jobs", "run", "counting", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "ok (dry run)" in result.output and '"seen": 3' in result.output
    assert CALLS == ["dry"]
    with app.app_context():
        (run,) = _runs("counting")
        assert run.dry_run is True and run.counts["dry"] is True


def test_jobs_run_refuses_unknown_names_and_dry_runs_a_job_lacks(app, runner):
    result = runner.invoke(args=["jobs", "run", "nope"])
    assert result.exit_code != 0 and "deliver_scores" in result.output
    result = runner.invoke(args=["jobs", "run", "deliver_scores", "--dry-run"])
    assert result.exit_code != 0 and "has no dry run" in result.output


def test_jobs_run_says_when_another_process_holds_the_lease(app, runner):
    with app.app_context():
        assert jobs.acquire_lease("purge_rate_counters", 60, owner="other-replica")
    result = runner.invoke(args=["jobs", "run", "purge_rate_counters"])
    assert result.exit_code != 0 and "running in another process" in result.output


def test_jobs_run_fails_with_the_error_of_a_failed_run(app, runner, monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", [jobs.Job("boom", "tests.test_jobs:failing_job")])
    result = runner.invoke(args=["jobs", "run", "boom"])
    assert result.exit_code == 1 and "FAILED (RuntimeError: boom)" in result.output


def test_old_runs_are_purged_but_kept_reports_stay(app, monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", [jobs.Job("often", "x:y", keep_days=14),
                                       jobs.Job("report", "x:z", keep_days=None)])
    with app.app_context():
        old = utcnow() - timedelta(days=20)
        db.session.add_all([JobRun(name="often", started_at=old),
                            JobRun(name="often", started_at=utcnow()),
                            JobRun(name="report", started_at=old)])
        db.session.commit()
        assert jobs.purge_job_runs() == {"deleted": 1}
        assert len(_runs("often")) == 1 and len(_runs("report")) == 1


@pytest.mark.parametrize("argv, command", [
    (["flask", "--app", "wsgi", "run"], "run"),
    (["flask", "-A", "wsgi", "--debug", "run", "--port", "8080"], "run"),
    (["flask", "--app", "wsgi", "jobs", "run", "usage_report"], "jobs"),
    (["flask", "--app=wsgi", "db", "upgrade"], "db"),
    (["flask", "-e", "run.env", "worker"], "worker"),
    (["flask"], None),
])
def test_only_the_development_server_is_the_flask_command_run(argv, command):
    from lti_tool.jobs import flask_command
    assert flask_command(argv) == command


@pytest.mark.parametrize("argv, starts", [
    (["flask", "--app", "wsgi", "jobs", "run", "usage_report"], False),
    (["flask", "--app", "wsgi", "run"], True),
])
def test_a_cli_command_that_runs_one_job_starts_no_scheduler(app, monkeypatch, argv, starts):
    from lti_tool import jobs
    started = []
    monkeypatch.setitem(app.config, "SCHEDULER_ENABLED", True)
    monkeypatch.setattr("sys.argv", argv)
    monkeypatch.setattr(jobs, "start_scheduler", started.append)
    jobs.init_app(app)
    assert started == ([app] if starts else [])
