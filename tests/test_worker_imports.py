"""A gunicorn worker on the local backend loads neither boto3 nor Alembic: each costs about
10 MiB per worker (bench/README.md), and neither is used to serve requests.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.test_tus_live import ROOT, _free_port

NEVER_IN_A_WORKER = ("boto3", "botocore", "moto", "flask_migrate", "alembic")

HOOK = """
import json, sys
def post_worker_init(worker):
    with open({out!r}, "w") as f:
        json.dump(sorted(sys.modules), f)
"""


def test_a_local_backend_worker_does_not_import_boto3_or_alembic(app, tmp_path):
    out = tmp_path / "modules.json"
    conf = tmp_path / "gunicorn_conf.py"
    conf.write_text(HOOK.format(out=str(out)))
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               LOCAL_STORAGE_DIR=app.config["LOCAL_STORAGE_DIR"], STORAGE_BACKEND="local",
               SECRET_KEY=app.config["SECRET_KEY"], SCHEDULER_ENABLED="0", DEMO_LMS="0",
               LTI_KEYS_DIR=app.config["LTI_KEYS_DIR"], PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(conf), "--worker-class", "gthread",
         "--workers", "1", "-b", f"127.0.0.1:{_free_port()}", "wsgi:app"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not out.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(0.2)  # let the hook finish writing
        modules = set(json.loads(out.read_text()))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert "lti_tool.tus.views" in modules  # the app is loaded
    assert [m for m in NEVER_IN_A_WORKER if m in modules] == []


def test_flask_db_commands_still_work(app):
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               SECRET_KEY="x", SCHEDULER_ENABLED="0", PYTHONPATH=str(ROOT))
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run([str(flask), "--app", "wsgi", "db", "heads"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "(head)" in result.stdout
