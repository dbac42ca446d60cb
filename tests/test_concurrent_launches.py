"""A class that opens a new activity at the same moment: every launch succeeds.

The first launch of a course, user, enrollment and assignment used to race its twins on a
unique constraint (PostgreSQL), and SQLite answered "database is locked" under load. These
tests launch many students at once over real HTTP from a real platform that signs every
id_token, with the launches' final posts released together.
"""
from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from lti_tool.extensions import db
from lti_tool.models import Assignment, Course, Enrollment, LaunchRecord, User
from tests.platform_kit import LIS, LTI, LtiBrowser, TestPlatform
from tests.test_gunicorn_jobs import _start, _stop

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

STUDENTS = 8
TRIALS = 10
LAUNCHES_EACH = 12


def _class_launches(tool_url: str, platform: TestPlatform, students: int, trial: str,
                    follow_landing: bool) -> list[tuple[str, int]]:
    """Launch `students` learners into a new activity, the launch posts released together.

    Return (step, status) of every request that did not succeed.
    """
    platform.next_claims = {
        LTI + "context": {"id": f"course-{trial}", "title": f"Course {trial}"},
        LTI + "resource_link": {"id": f"link-{trial}", "title": f"Activity {trial}"},
        LTI + "roles": [LIS + "membership#Learner"],
    }
    gate = threading.Barrier(students, timeout=60)
    failures: list[tuple[str, int]] = []

    def one(n: int) -> None:
        browser = LtiBrowser(tool_url, platform)
        login = browser.login(login_hint=f"{trial}-student-{n}")
        if login.status_code != 302:
            failures.append(("login", login.status_code))
            gate.abort()
            return
        action, fields = browser.authorize(login.headers["Location"])
        gate.wait()
        launch = browser.post_launch(action, fields, timeout=60)
        if launch.status_code != 303:
            failures.append(("launch", launch.status_code))
            return
        if follow_landing:
            page = browser.session.get(tool_url + launch.headers["Location"], timeout=60)
            if page.status_code != 200:
                failures.append(("landing", page.status_code))

    with ThreadPoolExecutor(students) as pool:
        for future in [pool.submit(one, n) for n in range(students)]:
            future.result()
    return failures


@pytest.fixture
def class_platform(app):
    plat = TestPlatform()
    plat.sub_from_login_hint = True
    with app.app_context():
        plat.register_in_tool()
    yield plat
    plat.stop()


def test_a_class_launching_a_new_activity_at_once_all_get_in(app, live_server,
                                                            class_platform):
    failures = []
    for trial in range(TRIALS):
        failures += _class_launches(live_server.url, class_platform, STUDENTS, f"t{trial}",
                                    follow_landing=False)
    assert failures == []
    # The first launches found no cached keys: one of them fetched, the others waited for it.
    assert class_platform.captured.jwks_requests == 1
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Course.id))) == TRIALS
        assert db.session.scalar(db.select(db.func.count(Assignment.id))) == TRIALS
        assert db.session.scalar(db.select(db.func.count(User.id))) == TRIALS * STUDENTS
        assert db.session.scalar(db.select(db.func.count(Enrollment.id))) == TRIALS * STUDENTS
        assert db.session.scalar(db.select(db.func.count(LaunchRecord.id))) == TRIALS * STUDENTS


def _wait_healthy(port: int, proc) -> None:
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not become healthy")


def _sustained(tool_url: str, platform: TestPlatform, users: int,
               per_user: int) -> list[tuple[str, int]]:
    """Run `users` browsers that each launch `per_user` times back to back, as new users.

    Return (step, status) of every request that did not succeed.
    """
    failures: list[tuple[str, int]] = []
    lock = threading.Lock()
    platform.next_claims = {
        LTI + "context": {"id": "course-sustained", "title": "Course"},
        LTI + "resource_link": {"id": "link-sustained", "title": "Activity"},
        LTI + "roles": [LIS + "membership#Learner"],
    }

    def one(n: int) -> None:
        for i in range(per_user):
            browser = LtiBrowser(tool_url, platform)
            login = browser.login(login_hint=f"s-{n}-{i}")
            if login.status_code != 302:
                with lock:
                    failures.append(("login", login.status_code))
                continue
            action, fields = browser.authorize(login.headers["Location"])
            launch = browser.post_launch(action, fields, timeout=60)
            if launch.status_code != 303:
                with lock:
                    failures.append(("launch", launch.status_code))
                continue
            page = browser.session.get(tool_url + launch.headers["Location"], timeout=60)
            if page.status_code != 200:
                with lock:
                    failures.append(("landing", page.status_code))
    with ThreadPoolExecutor(users) as pool:
        for f in [pool.submit(one, n) for n in range(users)]:
            f.result()
    return failures


def test_thirty_two_users_launching_at_once_under_gunicorn_on_sqlite(app, tmp_path,
                                                                     class_platform):
    """The embedded default under load: 32 browsers launching back to back, two workers."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the embedded SQLite default; PostgreSQL is covered above")
    proc, log, port = _start(app, tmp_path, "--workers", "2", "--threads", "16", "--preload")
    try:
        _wait_healthy(port, proc)
        failures = _sustained(f"http://127.0.0.1:{port}", class_platform, 32, LAUNCHES_EACH)
    finally:
        _stop(proc)
    text = log.read_text()
    assert failures == [], text[-3000:]
    assert "database is locked" not in text
