"""Rate limits: shared by every worker, counted per user (or per address without one), with
a clear 429 and Retry-After; a client cannot pick its own address; refused launches cannot
fill the audit log."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, RateCounter, utcnow
from lti_tool.web import rate_limits
from tests.factories import Classroom
from tests.test_concurrent_launches import _wait_healthy
from tests.test_gunicorn_jobs import _start, _stop

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


@pytest.fixture
def app_config(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="",
                      RATELIMIT_REGISTER="5 per minute", RATELIMIT_UPLOADS="2 per hour",
                      RATELIMIT_PLAYBACK="3 per minute", RATELIMIT_LOGIN="4 per minute",
                      RATELIMIT_REFUSAL_AUDIT="3 per minute")
    return app_config


def test_counters_live_in_the_database_without_redis(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == rate_limits.DB_STORAGE_URI
    client = app.test_client()
    for _ in range(5):
        client.get("/lti/register")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.sum(RateCounter.count))) == 5


def test_a_refusal_is_a_clear_429_with_retry_after(client):
    answers = [client.get("/lti/register", headers={"Accept": "application/json"})
               for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [400] * 5
    refused = answers[5]
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    page = client.get("/lti/register")
    assert page.status_code == 429 and b"Too many requests" in page.data


def test_a_client_cannot_choose_its_address_with_x_forwarded_for(client):
    statuses = [client.get("/lti/register", headers={"X-Forwarded-For": f"10.9.{n}.1"})
                .status_code for n in range(8)]
    assert statuses.count(429) == 3


def test_behind_a_declared_proxy_each_forwarded_client_counts_alone(app_config):
    from lti_tool import create_app
    app_config["PROXY_COUNT"] = 1
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    statuses = [client.get("/lti/register", headers={"X-Forwarded-For": f"10.9.{n}.1"})
                .status_code for n in range(8)]
    assert 429 not in statuses
    with app.app_context():
        db.drop_all()


def test_uploads_count_per_student_not_per_address(app, client, room):
    mine, other = room.launch(room.student), room.launch(room.other_student)
    body = {"filename": "talk.mp4", "size_bytes": 1000, "content_type": "video/mp4"}
    first = [client.post("/api/uploads", json=body, headers=room.headers(mine)).status_code
             for _ in range(3)]
    assert first == [201, 201, 429]
    assert client.post("/api/uploads", json=body,
                       headers=room.headers(other)).status_code == 201


def test_playback_grants_count_per_viewer(app, client, room):
    launch = room.launch(room.instructor)
    statuses = [client.get("/api/videos/999/playback", headers=room.headers(launch))
                .status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    other = room.launch(room.ta)
    assert client.get("/api/videos/999/playback",
                      headers=room.headers(other)).status_code == 404


def test_login_counts_per_address(client):
    statuses = [client.post("/lti/login", data={"iss": "https://nowhere.example"})
                .status_code for _ in range(5)]
    assert statuses[-1] == 429 and 429 not in statuses[:4]


def test_refused_launches_beyond_the_budget_are_logged_not_audited(app, client, caplog):
    caplog.set_level(logging.INFO, logger="lti_tool")
    statuses = [client.post("/lti/launch", data={"id_token": "x.y.z", "state": "s"})
                .status_code for _ in range(6)]
    assert all(400 <= s < 500 and s != 429 for s in statuses)  # refusals stay refusals
    with app.app_context():
        audited = db.session.scalar(db.select(db.func.count(AuditEvent.id)).filter_by(
            event_type=EventType.LAUNCH_REFUSED))
    assert audited == 3
    assert "not audited" in caplog.text


def test_expired_counters_are_purged(app):
    with app.app_context():
        db.session.add_all([RateCounter(key="old", count=3, expires_at=utcnow() - timedelta(1)),
                            RateCounter(key="live", count=1,
                                        expires_at=utcnow() + timedelta(minutes=1))])
        db.session.commit()
        assert rate_limits.purge_expired_counters() == 1
        assert db.session.scalars(db.select(RateCounter.key)).all() == ["live"]


def test_a_public_https_base_url_makes_requests_secure(app_config):
    from lti_tool import create_app
    app_config["PUBLIC_BASE_URL"] = "https://video.example.edu"
    app = create_app(app_config)
    seen = {}

    @app.get("/_probe")
    def probe():
        from flask import request
        seen["secure"] = request.is_secure
        return "ok"

    app.test_client().get("/_probe")
    assert seen["secure"] is True


def test_workers_of_one_server_share_the_count(app, tmp_path):
    """Two gunicorn workers: the registration limit holds for the server, not per worker."""
    proc, log, port = _start(app, tmp_path, "--workers", "2", "--threads", "4",
                             "--preload")
    try:
        _wait_healthy(port, proc)
        url = f"http://127.0.0.1:{port}/lti/register"

        def ask(_):
            # A new connection each time, so requests spread over both workers.
            return requests.get(url, headers={"Connection": "close"}, timeout=30).status_code
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(ask, range(16)))
        time.sleep(0.2)
    finally:
        _stop(proc)
    assert len(statuses) - statuses.count(429) == 10, statuses  # RATELIMIT_REGISTER default


@pytest.fixture
def room(app):
    with app.app_context():
        yield Classroom()
        db.session.rollback()


def test_a_view_limit_is_checked_once_per_request(app, client, room, monkeypatch):
    """One hit on the storage per limited request, and no second pass by Flask-Limiter's
    before_request hook (it used to resolve the view's limits again on every request)."""
    from lti_tool.extensions import limiter
    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])
    hits = []
    real_hit = limiter.limiter.hit
    monkeypatch.setattr(limiter.limiter, "hit",
                        lambda item, *args, **kw: hits.append(args) or real_hit(item, *args, **kw))
    passes = []  # Flask-Limiter's own resolution of a request's limits
    monkeypatch.setattr(limiter, "_check_request_limit", lambda *a, **kw: passes.append(kw))
    launch = room.launch(room.instructor)
    assert client.get("/api/videos/999/playback", headers=room.headers(launch)).status_code == 404
    assert hits == [(f"user:{launch.user_id}", "playback.playback")] and passes == []
    hits.clear()
    assert client.post("/lti/login", data={"iss": "https://nowhere.example"}).status_code != 429
    # The refused login also spends the refusal-audit budget (not a view limit).
    assert hits[0] == ("127.0.0.1", "lti.login") and len(hits) == 2


def test_a_view_limit_refusal_says_when_to_retry(client, room):
    launch = room.launch(room.instructor)
    answers = [client.get("/api/videos/999/playback", headers=room.headers(launch))
               for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert answers[-1].get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 61


def test_a_key_prefix_keeps_view_limits_apart_as_flask_limiter_would(app_config, monkeypatch):
    """RATELIMIT_KEY_PREFIX (several apps sharing one Redis) prefixes a view limit's counter
    as it prefixes Flask-Limiter's own."""
    from lti_tool import create_app
    from lti_tool.extensions import limiter
    app_config["RATELIMIT_KEY_PREFIX"] = "site-b"
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    hits = []
    real_hit = limiter.limiter.hit
    monkeypatch.setattr(limiter.limiter, "hit",
                        lambda item, *args, **kw: hits.append(args) or real_hit(item, *args, **kw))
    try:
        app.test_client().post("/lti/login", data={"iss": "https://nowhere.example"})
        assert hits[0] == ("site-b", "127.0.0.1", "lti.login")
    finally:
        with app.app_context():
            db.drop_all()
