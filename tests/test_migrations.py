"""The Alembic migrations build exactly the schema the models describe, on every database."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
import pytest
from sqlalchemy import inspect

from demo_lms.models import DemoBase
from demo_lms.schema import create_tables as create_demo_tables, drop_tables as drop_demo_tables
from lti_tool import create_app
from lti_tool.extensions import db
from tests.test_tus_live import ROOT

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

# The last migration that still held the demo LMS's tables (the next one drops them).
BEFORE_DEMO_TABLES_LEFT = "7c1e5a9d4b20"


def _fresh_app(app_config):
    app = create_app(app_config)
    with app.app_context():
        drop_demo_tables(db.engine)
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    return app


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(app_config):
    app = _fresh_app(app_config)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        tables = set(inspect(db.engine).get_table_names())
        assert {"platform", "deployment", "user", "course", "assignment", "submission",
                "video", "score_outbox", "audit_event"} <= tables
        downgrade(revision="base")
        left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert left == set()
        db.engine.dispose()


def _demo_tables() -> set[str]:
    return {t for t in inspect(db.engine).get_table_names() if t.startswith("demo_")}


def test_upgrade_drops_the_demo_lms_tables_and_downgrade_recreates_them_empty(app_config):
    app = _fresh_app(app_config)
    with app.app_context():
        upgrade(revision=BEFORE_DEMO_TABLES_LEFT)
        assert _demo_tables() == set(DemoBase.metadata.tables)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO demo_course (key, title, label) "
                                 "VALUES ('c', 'Course', 'C')")
        upgrade()
        assert _demo_tables() == set()
        downgrade(revision=BEFORE_DEMO_TABLES_LEFT)
        assert _demo_tables() == set(DemoBase.metadata.tables)
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM demo_course").scalar() == 0
            # Recreated as the initial migration made them, which the demo models describe.
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": False,
                "include_name": lambda name, kind, _parent: (
                    kind != "table" or name.startswith("demo_"))})
            diff = compare_metadata(ctx, DemoBase.metadata)
        assert diff == [], f"demo models and the recreated tables differ: {diff}"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) - {"alembic_version"} == set()
        db.engine.dispose()


def test_autogenerate_ignores_the_demo_lms_tables(app_config, tmp_path):
    """A developer's `flask db migrate` on a database the demo LMS used proposes no drop."""
    app = _fresh_app(app_config)
    with app.app_context():
        upgrade()
        create_demo_tables(db.engine)
        db.engine.dispose()
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="x",
               SCHEDULER_ENABLED="0", DEMO_LMS="1", LTI_KEYS_DIR=app.config["LTI_KEYS_DIR"],
               PYTHONPATH=str(ROOT))
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run([str(flask), "--app", "wsgi", "db", "migrate", "-d", str(migrations),
                             "-m", "nothing"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "No changes in schema detected." in result.stderr + result.stdout
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == sorted(
        p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    with app.app_context():
        drop_demo_tables(db.engine)
        downgrade(revision="base")
        db.engine.dispose()
