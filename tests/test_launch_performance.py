"""What a launch and a playback grant cost the database, and the per-process caches behind it.

Counts, not timings (timings live in bench/): statements sent by the live server while one
request runs, the commits among them, and whether a repeat launch writes rows it did not
change. The caches must see a change at once in this process and, through the version
token, within a second in any other.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event, update
from sqlalchemy.engine import Engine

from lti_tool.extensions import db
from lti_tool.lti import registry
from lti_tool.lti.launch_store import kv_put
from lti_tool.models import KeyValue, Platform, Setting
from lti_tool.process_cache import VERSION_KEY_PREFIX
from lti_tool.settings import get_setting, set_setting
from tests.platform_kit import browser, platform  # noqa: F401  (fixtures)
from tests.test_playback import uploaded  # noqa: F401  (fixture)
from tests.uploading import room, sample_mp4  # noqa: F401  (fixtures)

# The budgets of issue 14 (bench/README.md): a launch is login + id_token POST + landing
# page, at most 12 statements and one commit with Redis; the database keeping state and
# nonces (no REDIS_URL, as here) adds their writes.
LOGIN_BUDGET = 2
LAUNCH_POST_BUDGET = 8
# The student's landing page: the launch (with user, assignment, platform, enrollment), the
# deadline extension, the submission (shared by the state, the receipt and the feedback),
# the course's title.
LANDING_BUDGET = 4
GRANT_BUDGET = 3


class Recorder:
    """The statements and commits every connection of this process sends."""

    def __init__(self):
        self.statements: list[str] = []
        self.commits = 0
        self.lock = threading.Lock()

    def _statement(self, conn, cursor, statement, *args):
        with self.lock:
            self.statements.append(statement)

    def _commit(self, conn):
        with self.lock:
            self.commits += 1

    @contextmanager
    def recording(self):
        self.statements, self.commits = [], 0
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        try:
            yield self
        finally:
            event.remove(Engine, "before_cursor_execute", self._statement)
            event.remove(Engine, "commit", self._commit)

    def writes(self, table: str) -> list[str]:
        return [s for s in self.statements
                if re.match(rf"\s*(UPDATE|INSERT INTO|DELETE FROM)\s+\"?{table}\b", s)]


@pytest.fixture
def recorder():
    return Recorder()


def _launch_in_steps(browser, recorder):
    """Run one launch; return (login, launch post, landing page) statement recorders."""
    counts = []
    with recorder.recording():
        resp = browser.login()
    counts.append((list(recorder.statements), recorder.commits))
    assert resp.status_code == 302
    action, fields = browser.authorize(resp.headers["Location"])
    with recorder.recording():
        resp = browser.post_launch(action, fields)
    counts.append((list(recorder.statements), recorder.commits))
    assert resp.status_code == 303, resp.text
    with recorder.recording():
        page = browser.session.get(browser.tool_url + resp.headers["Location"])
    counts.append((list(recorder.statements), recorder.commits))
    assert page.status_code == 200
    return counts


def test_a_repeat_launch_keeps_to_the_statement_budget_and_writes_nothing_unchanged(
        browser, recorder):
    _launch_in_steps(browser, recorder)  # creates the rows, fetches the LMS's keys
    _launch_in_steps(browser, recorder)  # caches the registration as it now is
    (login, login_commits), (post, post_commits), (landing, _) = \
        _launch_in_steps(browser, recorder)
    assert len(login) <= LOGIN_BUDGET, "\n".join(login)
    assert len(post) <= LAUNCH_POST_BUDGET, "\n".join(post)
    assert post_commits == 1 and login_commits <= 1
    assert not any(re.match(r"\s*UPDATE", s) for s in post), post
    assert not any("FROM platform" in s or "FROM deployment" in s for s in login + post)
    assert len(landing) <= LANDING_BUDGET, "\n".join(landing)


def test_a_launch_with_new_names_updates_only_the_user(browser, recorder):
    _launch_in_steps(browser, recorder)
    browser.platform.next_claims = {"name": "Ada Lovelace"}
    with recorder.recording():
        assert browser.launch().status_code == 303
    assert len(recorder.writes("user")) == 1
    assert not recorder.writes("course") and not recorder.writes("enrollment")


def test_disabling_a_registration_takes_effect_at_once_in_this_process(browser, app):
    assert browser.launch().status_code == 303  # fetches the LMS's keys
    assert browser.launch().status_code == 303  # the registration is now cached
    with app.app_context():
        db.session.scalar(db.select(Platform)).active = False
        db.session.commit()
    assert browser.login().status_code == 403


def test_a_change_made_elsewhere_is_seen_once_the_version_is_checked(browser, app,
                                                                     monkeypatch):
    """Another process's change (here: SQL that bypasses this process's ORM) is noticed by
    comparing the version token, at most every check_seconds."""
    assert browser.launch().status_code == 303  # fetches the LMS's keys
    assert browser.launch().status_code == 303  # the registration is now cached
    with app.app_context():
        db.session.execute(update(Platform).values(active=False))
        db.session.commit()
    monkeypatch.setattr(registry.CACHE, "check_seconds", 3600)
    assert browser.login().status_code == 302  # still the kept copy
    with app.app_context():
        # What the other process's commit wrote (this process's own commits clear it at once).
        kv_put(registry.CACHE.version_key, "another process's version", 60)
        db.session.commit()
    assert browser.login().status_code == 302  # not looked at yet
    monkeypatch.setattr(registry.CACHE, "check_seconds", 0)
    assert browser.login().status_code == 403


def test_every_change_to_a_registration_writes_a_new_version(app, platform):
    key = VERSION_KEY_PREFIX + registry.CACHE.name
    with app.app_context():
        before = db.session.get(KeyValue, key).value
        db.session.scalar(db.select(Platform)).name = "Renamed LMS"
        db.session.commit()
        assert db.session.get(KeyValue, key).value != before


def test_settings_are_read_once_and_reread_after_an_admin_change(app, recorder):
    with app.app_context():
        set_setting("PLAYBACK_URL_TTL_SECONDS", "300")
        assert get_setting("PLAYBACK_URL_TTL_SECONDS") == "300"  # its own write, uncommitted
        db.session.commit()
        get_setting("PLAYBACK_URL_TTL_SECONDS")
        with recorder.recording():
            assert get_setting("PLAYBACK_URL_TTL_SECONDS") == "300"
            assert get_setting("S3_BUCKET", "none") in ("none", "")
        assert not [s for s in recorder.statements if "setting" in s]
        set_setting("PLAYBACK_URL_TTL_SECONDS", "120")
        db.session.commit()
        assert get_setting("PLAYBACK_URL_TTL_SECONDS") == "120"
        db.session.delete(db.session.get(Setting, "PLAYBACK_URL_TTL_SECONDS"))
        db.session.commit()
        assert get_setting("PLAYBACK_URL_TTL_SECONDS") == app.config["PLAYBACK_URL_TTL_SECONDS"]


def test_a_redis_url_keeps_state_and_nonces_in_redis(app_config, tmp_path):
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/11"
    try:
        client = redis.Redis.from_url(url)
        client.flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    from lti_tool import create_app
    from lti_tool.lti.launch_store import add_once, get_short_lived, put_short_lived, \
        take_short_lived
    app = create_app(dict(app_config, REDIS_URL=url))
    with app.app_context():
        db.create_all()
        put_short_lived("oidc-state:s1", {"nonce": "n"}, 60)
        assert client.ttl("oidc-state:s1") > 0
        assert get_short_lived("oidc-state:s1") == {"nonce": "n"}
        assert take_short_lived("oidc-state:s1") == {"nonce": "n"}
        assert take_short_lived("oidc-state:s1") is None
        assert add_once("nonce:1:x", 60) and not add_once("nonce:1:x", 60)
        assert db.session.scalar(db.select(db.func.count()).select_from(KeyValue)) == 0
        db.session.remove()  # end the read before dropping the tables (PostgreSQL waits)
        db.drop_all()
    client.flushdb()


def test_a_playback_grant_keeps_to_three_statements(client, room, uploaded, recorder):
    launch = room.launch_as("student")
    headers = {"X-LTI-Launch": launch.id}
    assert client.get(f"/api/videos/{uploaded}/playback", headers=headers).status_code == 200
    with recorder.recording():
        resp = client.get(f"/api/videos/{uploaded}/playback", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert len(recorder.statements) <= GRANT_BUDGET, recorder.statements
    assert recorder.commits == 1


def test_a_repeat_launch_writes_its_row_and_audit_event_without_an_orm_flush(
        app, browser, recorder):
    """The launch row and its audit event go out as two Core inserts in the launch's one
    transaction: on a repeat launch (nothing else changed) the unit of work never runs."""
    from sqlalchemy.orm import Session

    from lti_tool.audit import EventType
    from lti_tool.models import AuditEvent, LaunchRecord
    _launch_in_steps(browser, recorder)
    flushes = []

    def _flushed(session, context, instances):
        flushes.append([type(o).__name__ for o in session.new | session.dirty])
    action, fields = browser.authorize(browser.login().headers["Location"])
    event.listen(Session, "before_flush", _flushed)
    try:
        with recorder.recording():
            resp = browser.post_launch(action, fields)
    finally:
        event.remove(Session, "before_flush", _flushed)
    assert resp.status_code == 303
    assert flushes == []
    assert len(recorder.writes("launch")) == 1 and len(recorder.writes("audit_event")) == 1
    assert recorder.commits == 1
    launch_id = re.search(r"launch=([^&]+)", resp.headers["Location"]).group(1)
    with app.app_context():
        row = db.session.get(LaunchRecord, launch_id)
        audit_row = db.session.scalars(db.select(AuditEvent).filter_by(
            event_type=str(EventType.LAUNCH)).order_by(AuditEvent.id.desc())).first()
        assert row.user_id == audit_row.actor_id and row.platform_id == audit_row.platform_id
        assert row.course_id == audit_row.course_id and row.assignment_id is not None
        assert audit_row.target_id == str(row.assignment_id) and row.claims["sub"]
        assert row.created_at is not None and row.expires_at > row.created_at


def test_the_landing_page_names_its_course_without_loading_a_course_row(browser, recorder):
    """The header's course title is one column read by the view, not a Course object
    lazy-loaded by the template while it renders."""
    from lti_tool.models import Course
    _launch_in_steps(browser, recorder)
    resp = browser.launch()
    loaded = []

    def _loaded(target, context):
        loaded.append(target)
    event.listen(Course, "load", _loaded)
    try:
        with recorder.recording():
            page = browser.session.get(browser.tool_url + resp.headers["Location"])
    finally:
        event.remove(Course, "load", _loaded)
    assert page.status_code == 200 and "Film Studies" in page.text
    assert loaded == []
    assert len(recorder.statements) <= LANDING_BUDGET
