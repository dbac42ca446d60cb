"""The database: engine settings that make the embedded SQLite default serve many threads
and processes at once, and create-or-get for rows that concurrent requests create together.

SQLite has one writer at a time. In its default rollback-journal mode a writer that commits
also locks readers out, and Python's driver gives up after 5 seconds with "database is
locked": a class launching together got 500s. Write-ahead logging (WAL) lets readers go on
while one writer writes; a long busy timeout makes a writer wait its turn instead of failing;
`synchronous=NORMAL` is WAL's recommended durability (a commit survives a crash of the
process; only an OS crash can lose the last commits). Write transactions stay short: the
launch and upload code never waits on the network while it holds the write lock.
https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_busy_timeout
"""
from __future__ import annotations

import sqlite3
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from lti_tool.extensions import db

DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS = 30


def is_sqlite(url: str) -> bool:
    """Tell whether a SQLAlchemy URL names an SQLite database."""
    return url.startswith("sqlite")


def sqlite_engine_options(options: dict, busy_timeout_seconds: int) -> dict:
    """Return engine options with the driver's busy timeout set (seconds)."""
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("timeout", busy_timeout_seconds)
    return {**options, "connect_args": connect_args}


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    """Put every new SQLite connection in WAL mode with NORMAL synchronous writes."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()

# ---- create-or-get -----------------------------------------------------------------------
# A class that clicks a new activity together makes every first launch insert the same
# course, assignment and (per student) user and enrollment. A select-then-insert lets all
# but one of them fail on the unique constraint; `INSERT ... ON CONFLICT DO NOTHING` followed
# by a select never does, on PostgreSQL (the insert waits for a concurrent twin to commit,
# then does nothing) as on SQLite (one writer at a time).
Model = TypeVar("Model")

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_ignoring_conflict(model: type[Model], keys: dict[str, Any],
                             values: dict[str, Any] | None = None) -> bool:
    """Insert a row unless one with these unique keys exists; tell whether it was inserted."""
    dialect = db.session.get_bind().dialect.name
    insert = _INSERTS.get(dialect)
    if insert is None:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise RuntimeError(f"no upsert for the {dialect} database")
    key_column = model.__table__.primary_key.columns.values()[0]
    stmt = insert(model).values(**keys, **(values or {})).on_conflict_do_nothing(
        index_elements=list(keys)).returning(key_column)
    # A row comes back only when it was inserted (rowcount is not reliable for ORM inserts).
    return db.session.execute(stmt).first() is not None


def get_or_create(model: type[Model], keys: dict[str, Any],
                  values: dict[str, Any] | None = None) -> tuple[Model, bool]:
    """Return the row with these unique keys, inserting it first if needed; and whether it is new.

    `values` are only used for a new row. The session's pending changes are flushed first
    so the insert runs after them, in the same transaction.
    """
    query = select(model).filter_by(**keys)
    row = db.session.scalar(query)
    if row is not None:
        return row, False
    db.session.flush()
    created = insert_ignoring_conflict(model, keys, values)
    row = db.session.scalar(query.execution_options(populate_existing=True))
    if row is None:  # pragma: no cover - the insert or its twin's commit made it
        raise RuntimeError(f"{model.__name__} {keys} vanished after its insert")
    return row, created
