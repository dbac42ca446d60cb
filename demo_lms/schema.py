"""Create the demo LMS's tables, outside the tool's migrations, when the demo LMS is first used.

The tables are made with `CREATE TABLE` for each one missing, never by Alembic: the tool's
schema (and `flask db upgrade`) holds none of them. Several processes may start at once
(gunicorn workers, replicas): each checks first, and a table another process created
between the check and the `CREATE` counts as created.

Nothing is created while the tool's own schema is missing: the page then says to run
`flask --app wsgi db upgrade`, whose initial migration still creates (and a later one
drops) tables of the same names.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from lti_tool.extensions import db
from lti_tool.models import Platform

from .models import DemoBase

log = logging.getLogger(__name__)

EXTENSION_KEY = "demo_lms_schema"


def create_tables(engine: Engine) -> None:
    """Create every demo table that does not exist yet; tolerate a concurrent creator."""
    for table in DemoBase.metadata.sorted_tables:
        try:
            table.create(engine, checkfirst=True)
        except DBAPIError:
            if not inspect(engine).has_table(table.name):
                raise
            log.info("demo LMS: another process created %s first", table.name)


def drop_tables(engine: Engine) -> None:
    """Drop every demo table that exists (tests, and resetting the demo)."""
    DemoBase.metadata.drop_all(engine, checkfirst=True)


class DemoSchema:
    """Create one app's demo tables once per process, on the first demo request."""

    def __init__(self):
        self._ready = False
        self._lock = threading.Lock()

    def ensure_tables(self) -> None:
        """Create the demo tables unless done already or the tool's schema is missing."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            if not inspect(db.engine).has_table(Platform.__tablename__):
                return
            create_tables(db.engine)
            self._ready = True


def init_app(app: Flask) -> DemoSchema:
    """Give the app its demo schema guard."""
    return app.extensions.setdefault(EXTENSION_KEY, DemoSchema())


def schema(app: Flask) -> DemoSchema:
    """Return the app's demo schema guard."""
    return app.extensions[EXTENSION_KEY]
