"""Scheduled jobs under gunicorn run in the workers, never in the master, also with
`--preload` (gunicorn.conf.py starts each worker's scheduler after the fork)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lti_tool import jobs
from tests.test_tus_live import ROOT, _free_port

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

STARTED = re.compile(r"job scheduler started in process (\d+)")


def _children(pid: int) -> set[int]:
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(k) for k in kids}


def _start(app, tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path, int]:
    log, port = tmp_path / "gunicorn.log", _free_port()
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               LOCAL_STORAGE_DIR=app.config["LOCAL_STORAGE_DIR"], STORAGE_BACKEND="local",
               SECRET_KEY=app.config["SECRET_KEY"], SCHEDULER_ENABLED="1", DEMO_LMS="0",
               LOG_LEVEL="INFO", LTI_KEYS_DIR=app.config["LTI_KEYS_DIR"],
               OUTBOUND_ALLOW_LOOPBACK="1", PYTHONPATH=str(ROOT))
    with log.open("w") as out:  # cwd=ROOT: gunicorn reads ROOT/gunicorn.conf.py itself
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", *args,
             "-b", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=out)
    return proc, log, port


def _starts(log: Path, want: int, proc: subprocess.Popen) -> list[int]:
    deadline = time.time() + 40
    while time.time() < deadline and proc.poll() is None:
        if len(STARTED.findall(log.read_text())) >= want:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # a further (wrong) start would show up now
    return [int(p) for p in STARTED.findall(log.read_text())]


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no-preload"])
def test_each_worker_runs_its_own_scheduler_and_the_master_none(app, tmp_path, preload):
    proc, log, _ = _start(app, tmp_path, "--workers", "2",
                          *(["--preload"] if preload else []))
    try:
        started = _starts(log, 2, proc)
        workers = _children(proc.pid)
    finally:
        _stop(proc)
    assert proc.pid not in started, log.read_text()
    assert sorted(started) == sorted(workers) and len(workers) == 2, log.read_text()


def test_without_the_config_file_a_worker_starts_its_scheduler_on_its_first_request(
        app, tmp_path):
    empty = tmp_path / "other.conf.py"
    empty.write_text("")
    proc, log, port = _start(app, tmp_path, "-c", str(empty), "--workers", "1", "--preload")
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as resp:
                    assert resp.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        started = _starts(log, 1, proc)
        workers = _children(proc.pid)
    finally:
        _stop(proc)
    assert started == sorted(workers) and proc.pid not in started, log.read_text()


def test_a_lease_names_the_process_that_holds_it():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked worker must not reuse its parent's name
        os.write(write, jobs.lease_owner().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child_owner = os.read(read, 200).decode()
    os.close(read)
    assert f":{pid}:" in child_owner
    assert f":{os.getpid()}:" in jobs.lease_owner()


def test_the_master_freezes_the_preloaded_app_before_each_fork():
    """gunicorn.conf.py's pre_fork: inherited objects go to the permanent generation, so a
    worker's garbage collections never write to (and copy) the pages it shares."""
    import gc
    import runpy
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    try:
        hooks["pre_fork"](None, None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
