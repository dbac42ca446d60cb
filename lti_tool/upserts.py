"""Create-or-get rows that concurrent requests may create at the same moment.

A class that clicks a new activity together makes every first launch insert the same
course, assignment and (per student) user and enrollment. A select-then-insert lets all
but one of them fail on the unique constraint; `INSERT ... ON CONFLICT DO NOTHING` followed
by a select never does, on PostgreSQL (the insert waits for a concurrent twin to commit,
then does nothing) as on SQLite (one writer at a time).
"""
from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db

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
