"""Collect the SQL an engine runs, for tests that hold queries to a budget or a shape."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Yield the list of statements the engine runs inside the block, whitespace folded."""
    seen: list[str] = []

    def before(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def app_statements(app):
    """Collect the statements of the app's engine inside the block (outside its context)."""
    from lti_tool.extensions import db
    with app.app_context():
        engine = db.engine
    return statements(engine)
