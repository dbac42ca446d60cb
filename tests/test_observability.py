"""Health check, Prometheus metrics and request ids."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from lti_tool import jobs, signals
from lti_tool.extensions import db
from lti_tool.models import JobLock, utcnow
from lti_tool.observability import health, logs
from lti_tool.storage.base import Health
from lti_tool.storage.local.backend import LocalStorage

TOKEN = "metrics-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def fresh_storage_check(app):
    app.extensions.pop(health._STORAGE_CACHE, None)
    yield
    app.extensions.pop(health._STORAGE_CACHE, None)


def mark_jobs_ran(app, seconds_ago=10):
    with app.app_context():
        db.session.add(JobLock(name="deliver_scores", owner=None, locked_until=utcnow(),
                               last_run_at=utcnow() - timedelta(seconds=seconds_ago)))
        db.session.commit()


def test_healthy_replica_reports_every_check(app, client):
    mark_jobs_ran(app)
    resp = client.get("/healthz")
    body = resp.get_json()
    assert resp.status_code == 200 and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "storage", "scheduler", "grade_queue",
                                   "processing_queue"}
    assert body["checks"]["storage"]["detail"].startswith("local:")
    assert resp.headers["Cache-Control"] == "no-store"


def test_stale_jobs_degrade_but_keep_the_replica_in(app, client):
    mark_jobs_ran(app, seconds_ago=3600)
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["status"] == "degraded"
    assert "last ran 3600 s ago" in resp.get_json()["checks"]["scheduler"]["detail"]


def test_failing_storage_takes_the_replica_out(app, client, monkeypatch):
    mark_jobs_ran(app)
    monkeypatch.setattr(LocalStorage, "health", lambda self: Health(False, "disk is full"))
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["status"] == "error"
    assert resp.get_json()["checks"]["storage"] == {"ok": False, "detail": "local: disk is full"}


def test_storage_is_asked_at_most_every_thirty_seconds(app, client, monkeypatch):
    calls = []
    monkeypatch.setattr(LocalStorage, "health",
                        lambda self: calls.append(1) or Health(True, "fine"))
    for _ in range(3):
        client.get("/healthz")
    assert calls == [1]


def test_unreachable_database_is_503(app, client, monkeypatch):
    def broken():
        return health.Check(False, "The database cannot be reached.")
    monkeypatch.setattr(health, "check_database", broken)
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "database_unreachable"


# ---- metrics ----

def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


def test_metrics_do_not_exist_without_a_token(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    resp = client.get("/metrics", headers=AUTH)
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    assert "lti_http_requests_total" in resp.text


def test_requests_are_counted_by_route_and_status(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    before = sample("lti_http_requests_total", route="/healthz", method="GET", status="200")
    missing = sample("lti_http_requests_total", route="unmatched", method="GET", status="404")
    client.get("/healthz")
    client.get("/no-such-page")
    assert sample("lti_http_requests_total", route="/healthz", method="GET",
                  status="200") == before + 1
    assert sample("lti_http_requests_total", route="unmatched", method="GET",
                  status="404") == missing + 1
    text = client.get("/metrics", headers=AUTH).text
    assert 'lti_http_requests_total{method="GET",route="/healthz",status="200"}' in text


class FakeVideo:
    size_bytes = 1500


def test_uploads_playback_grants_are_counted(app):
    started, done = sample("lti_uploads_started_total"), sample("lti_uploads_completed_total")
    failed, grants = sample("lti_uploads_failed_total"), sample("lti_playback_grants_total")
    size = sample("lti_upload_bytes_total")
    signals.upload_started.send(FakeVideo())
    signals.video_failed.send(FakeVideo())
    signals.playback_granted.send(FakeVideo())
    with app.app_context():  # video_ready also queues a score: its receiver needs no row
        from lti_tool.observability.metrics import on_video_ready
        on_video_ready(FakeVideo())
    assert sample("lti_uploads_started_total") == started + 1
    assert sample("lti_uploads_failed_total") == failed + 1
    assert sample("lti_playback_grants_total") == grants + 1
    assert sample("lti_uploads_completed_total") == done + 1
    assert sample("lti_upload_bytes_total") == size + 1500


def scores_job():
    return {"delivered": 2, "retry": 1, "failed": 0, "superseded": 0}


def test_job_runs_and_grade_passback_outcomes_are_counted(app, monkeypatch):
    monkeypatch.setattr(jobs, "JOBS", [jobs.Job("deliver_scores",
                                                "tests.test_observability:scores_job")])
    runs = sample("lti_job_runs_total", job="deliver_scores", result="ok")
    delivered = sample("lti_grade_passback_total", outcome="delivered")
    retried = sample("lti_grade_passback_total", outcome="retry")
    assert jobs.run_job(app, "deliver_scores")
    assert sample("lti_job_runs_total", job="deliver_scores", result="ok") == runs + 1
    assert sample("lti_grade_passback_total", outcome="delivered") == delivered + 2
    assert sample("lti_grade_passback_total", outcome="retry") == retried + 1


# ---- request ids and JSON logs ----

def test_every_answer_carries_a_request_id(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert len(first) == 32 and first != second


def test_a_proxys_sane_request_id_is_kept_and_a_forged_one_replaced(client):
    assert client.get("/healthz", headers={"X-Request-Id": "lb-42.abc"}) \
        .headers["X-Request-Id"] == "lb-42.abc"
    forged = client.get("/healthz", headers={"X-Request-Id": 'x" level=ERROR'})
    assert forged.headers["X-Request-Id"] != 'x" level=ERROR'


def test_json_formatter_writes_one_object_with_the_request_id(app):
    formatter, flt = logs.JsonFormatter(), logs.RequestIdFilter()
    with app.test_request_context("/", headers={"X-Request-Id": "req-7"}):
        record = logging.LogRecord("lti_tool.x", logging.WARNING, __file__, 1,
                                   "grade %s failed", ("42",), None)
        flt.filter(record)
        line = formatter.format(record)
    entry = json.loads(line)
    assert entry["message"] == "grade 42 failed" and entry["level"] == "WARNING"
    assert entry["request_id"] == "req-7" and "\n" not in line


def test_log_format_json_gives_one_json_line_per_event(tmp_path):
    script = (
        "import logging\n"
        "from lti_tool import create_app\n"
        "app = create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite:///%s', 'LOG_FORMAT': 'json',"
        " 'LTI_KEYS_DIR': '%s', 'LOCAL_STORAGE_DIR': '%s'})\n"
        "@app.get('/hello')\n"
        "def hello():\n"
        "    logging.getLogger('lti_tool.demo').warning('hello from a view')\n"
        "    return 'hi'\n"
        "resp = app.test_client().get('/hello', headers={'X-Request-Id': 'abc-123'})\n"
        "print(resp.headers['X-Request-Id'])\n"
    ) % (tmp_path / "db.sqlite", tmp_path / "keys", tmp_path / "media")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "abc-123"
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    [entry] = [e for e in lines if e["message"] == "hello from a view"]
    assert entry["request_id"] == "abc-123" and entry["logger"] == "lti_tool.demo"


def test_metrics_sum_every_worker_process_in_multiprocess_mode(tmp_path):
    """Under gunicorn each worker counts alone: with PROMETHEUS_MULTIPROC_DIR the page sums
    the counts every process left in the folder."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    script = (
        "import sys\n"
        "from lti_tool import create_app\n"
        "app = create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite:///%s', 'METRICS_TOKEN': 't',"
        " 'LTI_KEYS_DIR': '%s', 'LOCAL_STORAGE_DIR': '%s'})\n"
        "client = app.test_client()\n"
        "client.get('/no-such-page')\n"
        "if sys.argv[1] == 'scrape':\n"
        "    print(client.get('/metrics', headers={'Authorization': 'Bearer t'}).text)\n"
    ) % (tmp_path / "db.sqlite", tmp_path / "keys", tmp_path / "media")
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(folder))
    outputs = [subprocess.run([sys.executable, "-c", script, role], capture_output=True,
                              text=True, timeout=60, env=env)
               for role in ("worker", "worker", "scrape")]
    assert all(done.returncode == 0 for done in outputs), outputs[-1].stderr
    line = next(line for line in outputs[-1].stdout.splitlines()
                if line.startswith("lti_http_requests_total") and 'route="unmatched"' in line)
    assert line.endswith(" 3.0")  # one 404 from each of the three processes
