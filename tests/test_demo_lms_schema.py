"""The demo LMS lives beside the product: never imported when off, its tables outside the
tool's schema, created on its first use (also by several gunicorn workers at once)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
import pytest
import requests
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.schema import CreateTable

from demo_lms.models import DemoBase
from demo_lms.schema import create_tables, drop_tables
from lti_tool import create_app
from lti_tool.extensions import db
from tests.test_tus_live import ROOT, _free_port

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

DEMO_TABLES = {"demo_course", "demo_user", "demo_enrollment", "demo_tool", "demo_resource_link",
               "demo_lineitem", "demo_score", "demo_launch_request", "demo_access_token",
               "demo_used_nonce"}

UNKNOWN_CLIENT = {
    "grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": jwt.encode({"iss": "nobody"}, "not-a-registered-key-0123456789abcdef",
                                   algorithm="HS256"),
}
APP_WITHOUT_THE_DEMO = """
import json, sys
from lti_tool import create_app
app = create_app({config})
print(json.dumps({{"modules": sorted(m for m in sys.modules if m.split(".")[0] == "demo_lms"),
                   "rules": [r.rule for r in app.url_map.iter_rules()]}}))
"""


def demo_tables_in(app) -> set[str]:
    with app.app_context():
        return {t for t in inspect(db.engine).get_table_names() if t.startswith("demo_")}


def test_with_demo_lms_off_the_demo_package_is_never_imported_and_has_no_routes(app_config):
    config = {**app_config, "DEMO_LMS": False, "SCHEDULER_ENABLED": False}
    result = subprocess.run([sys.executable, "-c", APP_WITHOUT_THE_DEMO.format(config=config)],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["modules"] == []
    assert "/lti/login" in seen["rules"]  # the tool itself is there
    assert [r for r in seen["rules"] if r.startswith("/demo-lms")] == []


def test_with_demo_lms_on_its_routes_are_there(app):
    assert "/demo-lms/" in {r.rule for r in app.url_map.iter_rules()}


def test_the_tools_metadata_holds_no_demo_table():
    assert [t for t in db.metadata.tables if t.startswith("demo_")] == []
    assert set(DemoBase.metadata.tables) == DEMO_TABLES


def test_the_demo_tables_are_created_on_first_use_and_launches_work(app, launcher, live_server):
    with app.app_context():
        drop_tables(db.engine)
    assert demo_tables_in(app) == set()
    assert requests.get(f"{live_server.url}/demo-lms/", timeout=20).status_code == 200
    assert demo_tables_in(app) == DEMO_TABLES
    result = launcher.as_student(2)
    assert result.response.status_code == 200
    assert "/assignment" in result.url and "Video pitch" in result.response.text


def test_no_demo_table_is_created_before_the_tools_schema_exists(app, client):
    with app.app_context():
        drop_tables(db.engine)
        db.drop_all()
    resp = client.get("/demo-lms/", headers={"Accept": "text/html"})
    assert resp.status_code == 503
    assert b"flask --app wsgi db upgrade" in resp.data
    assert demo_tables_in(app) == set()  # the initial migration can still create its own
    with app.app_context():
        db.create_all()
    assert client.get("/demo-lms/").status_code == 200
    assert demo_tables_in(app) == DEMO_TABLES


def test_a_table_another_process_created_meanwhile_counts_as_created(app):
    """Between our check and our CREATE, another process creates the same table."""
    with app.app_context():
        engine = db.engine
        drop_tables(engine)
    other = create_engine(engine.url)
    course = DemoBase.metadata.tables["demo_course"]

    def create_it_elsewhere(table, connection, **kw):
        with other.begin() as conn:
            conn.execute(CreateTable(table))

    event.listen(course, "before_create", create_it_elsewhere, once=True)
    try:
        create_tables(engine)
    finally:
        if event.contains(course, "before_create", create_it_elsewhere):
            event.remove(course, "before_create", create_it_elsewhere)
        other.dispose()
    assert demo_tables_in(app) == DEMO_TABLES


def test_several_preloaded_gunicorn_workers_create_the_tables_together(app, tmp_path):
    with app.app_context():
        drop_tables(db.engine)
    port, log = _free_port(), tmp_path / "gunicorn.log"
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               LOCAL_STORAGE_DIR=app.config["LOCAL_STORAGE_DIR"], STORAGE_BACKEND="local",
               SECRET_KEY=app.config["SECRET_KEY"], SCHEDULER_ENABLED="0", DEMO_LMS="1",
               LTI_KEYS_DIR=app.config["LTI_KEYS_DIR"], PYTHONPATH=str(ROOT))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "3",
             "--preload", "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=out)
    try:
        _wait_until_serving(port, proc)
        assert demo_tables_in(app) == set()  # nothing is created at start, only on first use
        statuses = _post_at_once(f"http://127.0.0.1:{port}/demo-lms/token", UNKNOWN_CLIENT,
                                 times=24)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    # Every worker found the tool table: a client nobody registered is refused as one.
    assert statuses == [401] * 24, log.read_text()[-3000:]
    assert demo_tables_in(app) == DEMO_TABLES


def _wait_until_serving(port: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 40
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def _post_at_once(url: str, form: dict, times: int) -> list[int]:
    barrier, statuses = threading.Barrier(times), []
    body = urllib.parse.urlencode(form).encode()

    def post():
        barrier.wait()
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"),
                                        timeout=30) as resp:
                statuses.append(resp.status)
        except urllib.error.HTTPError as err:
            statuses.append(err.code)

    threads = [threading.Thread(target=post) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)
