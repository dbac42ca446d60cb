"""Shared fixtures: an app per test on SQLite or PostgreSQL, a client, a live HTTP server.

Set TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test to run the suite on
PostgreSQL: a throwaway database is created beside it for the session and dropped after.
"""
from __future__ import annotations

import os
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.extensions import db


def _postgres_admin_url(url: str) -> str:
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    return urlunsplit(parts._replace(path="/postgres"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Yield the database URL template for this session (SQLite file or a fresh PG database)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield None  # each app gets its own SQLite file
        return
    import psycopg
    name = f"lti_test_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_config(tmp_path, database_url):
    """Return the settings for a test app; tests may change them before `app` is built."""
    return {
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp_path / 'test.sqlite'}",
        "LTI_KEYS_DIR": str(tmp_path / "keys"),
        "LOCAL_STORAGE_DIR": str(tmp_path / "media"),
        "DEMO_LMS": True,
    }


@pytest.fixture
def app(app_config):
    """Build an app with an empty schema (the demo LMS's tables too when on), drop it after."""
    app = create_app(app_config)
    with app.app_context():
        drop_demo_tables(app)
        db.drop_all()
        db.create_all()
        if app.config["DEMO_LMS"]:
            from demo_lms.schema import create_tables
            create_tables(db.engine)
    yield app
    with app.app_context():
        db.session.remove()
        drop_demo_tables(app)
        db.drop_all()
        db.engine.dispose()


def drop_demo_tables(app) -> None:
    """Drop the demo LMS's tables, which live outside `db.metadata` (PostgreSQL is shared)."""
    if app.config["DEMO_LMS"]:
        from demo_lms.schema import drop_tables
        drop_tables(db.engine)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class LiveServer:
    """The app served over real HTTP on a free loopback port, in a thread."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    """Serve the app over HTTP for tests that need a real network hop (LTI, tus, browser)."""
    server = LiveServer(app).start()
    yield server
    server.stop()


from tests.launching import (demo_platform, launcher,  # noqa: E402,F401  (demo LMS fixtures)
                             tool_keys)
