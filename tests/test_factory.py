"""The app factory and the basics every page relies on."""
import pytest

from lti_tool import create_app

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def test_config_defaults_to_production_settings(tmp_path, monkeypatch):
    from lti_tool import config
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # Keep this test's app from starting a real scheduler that outlives it.
    monkeypatch.setattr(config.Config, "SCHEDULER_ENABLED", False)
    app = create_app()
    assert not app.testing
    assert app.config["STORAGE_BACKEND"] == "local"
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SECRET_KEY"]


def test_testing_config(app):
    assert app.testing


def test_health_check(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]


def test_unknown_page_is_a_friendly_404(client):
    resp = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert b"Not Found" in resp.data
    assert b"Traceback" not in resp.data


def test_unknown_api_path_is_json_404(client):
    resp = client.get("/api/no-such-thing")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_every_response_keeps_launch_ids_out_of_referers(client):
    resp = client.get("/healthz")
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in resp.headers  # pages live in LMS iframes


def test_scheduler_starts_every_job_when_enabled(app_config):
    from lti_tool import jobs
    app = create_app({**app_config, "SCHEDULER_ENABLED": True})
    scheduler = app.extensions["scheduler"]
    try:
        assert {job.id for job in scheduler.get_jobs()} == {job.name for job in jobs.JOBS}
        assert "deliver_scores" in {job.id for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)


def test_database_without_tables_explains_the_migration(app, client):
    from lti_tool.extensions import db
    with app.app_context():
        db.drop_all()
    for path in ("/demo-lms/", "/assignment?launch=abc"):
        resp = client.get(path, headers={"Accept": "text/html"})
        assert resp.status_code == 503, path
        assert b"flask --app wsgi db upgrade" in resp.data
        assert b"Traceback" not in resp.data
    resp = client.get("/api/uploads", headers={"X-LTI-Launch": "abc"})
    assert resp.get_json()["error"]["code"] == "database_not_migrated"


def test_favicon_points_at_the_tool_icon(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 301 and resp.headers["Location"].endswith("/static/img/lti-logo.svg")
