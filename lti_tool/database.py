"""Database engine settings that make the embedded SQLite default serve many threads and
processes at once.

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

from sqlalchemy import event
from sqlalchemy.engine import Engine

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
