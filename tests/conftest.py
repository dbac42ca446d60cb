"""Shared fixtures: an app per test on SQLite or PostgreSQL, a client, a live HTTP server.

What is slow to make is made once per session (per xdist worker): the tool's RSA key (each
test gets a copy), the SQLite schema (each test gets a copy of a made file) and the
PostgreSQL schema (emptied between tests).

Set TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test to run the suite on
PostgreSQL: a throwaway database is created beside it for the session and dropped after.
"""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.extensions import db


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "postgres: the test must also pass on PostgreSQL; .ci/test runs only these "
        "there (the rest do not depend on the database engine)")


def _postgres_admin_url(url: str) -> str:
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    return urlunsplit(parts._replace(path="/postgres"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Yield the database URL for tests that build apps themselves (None: SQLite per test).

    On PostgreSQL this is a throwaway database of its own: such tests (migrations, the
    factory) may drop every table, so the `app` fixture keeps its tables in another one.
    """
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield None  # each app gets its own SQLite file
        return
    with _throwaway_postgres_database(url) as own_url:
        yield own_url


@pytest.fixture(scope="session")
def _app_database(tmp_path_factory):
    """Return the shared schema of this worker's `app` fixture (PostgreSQL), or None."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield None
        return
    with _throwaway_postgres_database(url) as own_url:
        yield PostgresSchema(own_url)


@contextmanager
def _throwaway_postgres_database(url: str):
    """Create a database beside TEST_DATABASE_URL's for this session, drop it after."""
    import psycopg
    name = f"lti_test_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def session_keys_dir(tmp_path_factory) -> Path:
    """Make the tool's RSA signing key once per session; each test gets a copy of it."""
    from lti_tool.lti.keys import KeyStore
    directory = tmp_path_factory.mktemp("session-keys") / "keys"
    KeyStore(directory).signing_key()  # generates the first key
    return directory


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory):
    """Return a factory of ready-made SQLite files with the schema (demo tables or not).

    Building the schema takes longer than most tests; copying a made file takes a
    millisecond.
    """
    made: dict[bool, Path] = {}
    folder = tmp_path_factory.mktemp("sqlite-templates")

    def template(with_demo: bool) -> Path:
        if with_demo not in made:
            path = folder / f"schema-{'demo' if with_demo else 'tool'}.sqlite"
            engine = create_engine(f"sqlite:///{path}")
            db.metadata.create_all(engine)
            if with_demo:
                from demo_lms.schema import create_tables
                create_tables(engine)
            engine.dispose()
            made[with_demo] = path
        return made[with_demo]
    return template


@pytest.fixture
def app_config(tmp_path, database_url, session_keys_dir):
    """Return the settings for a test app; tests may change them before `app` is built."""
    keys = tmp_path / "keys"
    shutil.copytree(session_keys_dir, keys)
    return {
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{tmp_path / 'test.sqlite'}",
        "LTI_KEYS_DIR": str(keys),
        "LOCAL_STORAGE_DIR": str(tmp_path / "media"),
        "DEMO_LMS": True,
    }


@pytest.fixture
def app(app_config, tmp_path, _worker_apps):
    """Return this worker's app for these settings, on an empty schema, as if new.

    Building an app (its ~200 URL rules) and a schema take longer than most tests, so a
    worker keeps one app per distinct settings (the paths under the test's tmp_path
    aside) and resets it for each test: settings, caches, switches, counters and tables
    (the demo LMS's too when on).
    """
    app = _worker_apps.get(app_config, tmp_path)
    yield app
    with app.app_context():
        db.session.remove()


@pytest.fixture(scope="session")
def _worker_apps(database_url, _app_database, sqlite_templates, tmp_path_factory):
    apps = WorkerApps(database_url, _app_database, sqlite_templates,
                      tmp_path_factory.mktemp("worker-db"))
    yield apps
    apps.close()


class WorkerApps:
    """The one app a worker keeps, built again only when a test asks for other settings."""

    # Settings that point into each test's tmp_path: set anew for each test, not keyed.
    PER_TEST = ("LTI_KEYS_DIR", "LOCAL_STORAGE_DIR")

    def __init__(self, database_url, postgres, sqlite_templates, folder: Path):
        self.database_url, self.postgres = database_url, postgres
        self.sqlite_templates, self.folder = sqlite_templates, folder
        self.key = None
        self.app = None
        self.snapshot: dict = {}

    def get(self, app_config: dict, tmp_path: Path):
        """Return the app for `app_config`, reset for a new test."""
        config = dict(app_config)
        demo = bool(config["DEMO_LMS"])
        per_test = {name: config.pop(name) for name in self.PER_TEST if name in config}
        default_sqlite = f"sqlite:///{tmp_path / 'test.sqlite'}"
        if config["SQLALCHEMY_DATABASE_URI"] in (default_sqlite, self.database_url):
            config["SQLALCHEMY_DATABASE_URI"] = self._shared_database(demo)
        key = repr(sorted(config.items(), key=lambda item: item[0]))
        if key != self.key:
            self.close()
            self.app = create_app(dict(config, **per_test))
            self.key = key
            self._take_snapshot()
        self._reset(per_test, demo)
        return self.app

    def _shared_database(self, demo: bool) -> str:
        if self.postgres is not None:
            return self.postgres.url
        path = self.folder / f"{'demo' if demo else 'tool'}.sqlite"
        if not path.exists():
            shutil.copyfile(self.sqlite_templates(demo), path)
        return f"sqlite:///{path}"

    def _take_snapshot(self) -> None:
        from lti_tool.extensions import limiter
        app = self.app
        self.snapshot = {"config": dict(app.config), "wsgi_app": app.wsgi_app,
                         "extensions": set(app.extensions),
                         "limiter": dict(limiter.__dict__)}

    def _reset(self, per_test: dict, demo: bool) -> None:
        """Make the kept app look new: what a test may have changed goes back."""
        from lti_tool import outbound
        from lti_tool.extensions import limiter
        app, snap = self.app, self.snapshot
        app.config.clear()
        app.config.update(snap["config"], **per_test)
        app.wsgi_app = snap["wsgi_app"]
        for name in set(app.extensions) - snap["extensions"]:
            del app.extensions[name]  # caches made on first use (storage backend, CSP parts)
        limiter.__dict__.update(snap["limiter"])  # another app built meanwhile rebinds it
        outbound.init_app(app)
        if "tus_fast_patch" in app.extensions:  # absent with TUS_FAST_PATCH off
            app.extensions["tus_fast_patch"].served = 0
        if demo:
            from demo_lms.schema import EXTENSION_KEY, DemoSchema
            app.extensions["demo_lms_control"].reset()
            app.extensions[EXTENSION_KEY] = DemoSchema()  # it checks the tables again
        with app.app_context():
            self._empty_tables(demo)
            if app.config.get("RATELIMIT_ENABLED", True):
                limiter.reset()

    def _empty_tables(self, demo: bool) -> None:
        uri = self.app.config["SQLALCHEMY_DATABASE_URI"]
        if self.postgres is not None and uri == self.postgres.url:
            self.postgres.empty(db.engine, demo)
        elif uri.startswith("sqlite:"):
            tables = list(db.metadata.sorted_tables)
            if demo:
                from demo_lms.models import DemoBase
                tables += list(DemoBase.metadata.sorted_tables)
            try:
                with db.engine.begin() as conn:
                    for table in reversed(tables):
                        conn.execute(table.delete())
            except DBAPIError:  # a test dropped tables: build them again
                _build_schema(db.engine, demo)
        else:
            _build_schema(db.engine, demo)

    def close(self) -> None:
        if self.app is not None:
            with self.app.app_context():
                db.session.remove()
                db.engine.dispose()
        self.app = self.key = None


def _build_schema(engine, demo: bool) -> None:
    """Drop and create the tool's tables (and the demo LMS's when on)."""
    from demo_lms.schema import create_tables, drop_tables
    drop_tables(engine)
    db.metadata.drop_all(engine)
    db.metadata.create_all(engine)
    if demo:
        create_tables(engine)


class PostgresSchema:
    """One PostgreSQL database whose tables every `app` of a worker reuses, emptied."""

    def __init__(self, url: str):
        self.url = url
        self.demo: bool | None = None  # whether the demo tables exist; None: no schema yet
        self.scripts: dict[bool, str] = {}

    def empty(self, engine, demo: bool) -> None:
        """Empty every table (ids start again at 1), building the schema when needed.

        One round trip of DELETEs and sequence restarts: TRUNCATE makes new files for each
        table and took ten times as long.
        """
        if self.demo is not None and self.demo == demo:
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(self._script(conn, demo))
                return
            except DBAPIError:  # a test dropped tables: build them again
                pass
        _build_schema(engine, demo)
        self.demo = demo

    def _script(self, conn, demo: bool) -> str:
        if demo not in self.scripts:
            tables = list(db.metadata.sorted_tables)
            if demo:
                from demo_lms.models import DemoBase
                tables += list(DemoBase.metadata.sorted_tables)
            sequences = conn.exec_driver_sql(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
            ).scalars().all()
            self.scripts[demo] = "; ".join(
                [f'DELETE FROM "{table.name}"' for table in reversed(tables)]
                + [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences])
        return self.scripts[demo]


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
