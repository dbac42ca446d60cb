"""Values read from a few tables, kept per process until those tables change.

Registrations (lti_tool.lti.registry) and admin-set settings (lti_tool.settings) are read
on every launch or playback and change rarely. A `ProcessCache` keeps what was computed from
them in this process (per app), and drops it:

- at once in this process, when a transaction that added, changed or deleted a row of its
  tables commits (SQLAlchemy session events; the same flush writes a new version token under
  the KeyValue key `cache-version:<name>`);
- within `check_seconds` in every other process (workers, replicas, `flask` commands), which
  compare that token with the one they saw now and then.

While the current transaction itself has changed those tables, values are computed afresh
and not kept, so a request reads its own writes. Changes made without the ORM (bulk UPDATE
statements, SQL by hand) are not noticed: call `bump()` after them.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable, Hashable

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from lti_tool.extensions import db
from lti_tool.models import KeyValue

VERSION_KEY_PREFIX = "cache-version:"
DEFAULT_CHECK_SECONDS = 1.0
DEFAULT_MAX_ENTRIES = 4096
_EXTENSION = "process_caches"
_CACHES: dict[str, "ProcessCache"] = {}


class _State:
    """One app's entries of one cache."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[Hashable, Any] = {}
        self.version: Any = None
        self.checked_at = float("-inf")


class ProcessCache:
    """A per-process cache of values computed from `models`' tables (see the module doc)."""

    def __init__(self, name: str, models: tuple[type, ...], *,
                 check_seconds: float = DEFAULT_CHECK_SECONDS,
                 max_entries: int = DEFAULT_MAX_ENTRIES):
        self.name, self.models = name, models
        self.check_seconds, self.max_entries = check_seconds, max_entries
        self.version_key = VERSION_KEY_PREFIX + name
        self._flag = "cache-changed:" + name
        _CACHES[name] = self

    def _state(self) -> _State:
        caches = current_app.extensions.setdefault(_EXTENSION, {})
        state = caches.get(self.name)
        if state is None:
            state = caches.setdefault(self.name, _State())
        return state

    def _fresh(self) -> _State:
        state = self._state()
        now = time.monotonic()
        if now - state.checked_at >= self.check_seconds:
            row = db.session.execute(select(KeyValue.value)
                                     .where(KeyValue.key == self.version_key)).first()
            version = row[0] if row else None
            with state.lock:
                if version != state.version:
                    state.entries = {}
                    state.version = version
                state.checked_at = now
        return state

    def get(self, key: Hashable, compute: Callable[[], Any],
            keep: Callable[[Any], bool] = lambda value: True) -> Any:
        """Return the value kept under key, else compute it (and keep it when `keep` says)."""
        session = db.session()
        if session.info.get(self._flag) or self.touched_by(session):
            return compute()  # this transaction changed the tables: read its own writes
        state = self._fresh()
        try:
            return state.entries[key]
        except KeyError:
            pass
        value = compute()
        if keep(value):
            with state.lock:
                if len(state.entries) >= self.max_entries:
                    state.entries = {}
                state.entries[key] = value
        return value

    def clear(self) -> None:
        """Drop this process's entries (and look at the version again on the next get)."""
        state = self._state()
        with state.lock:
            state.entries = {}
            state.checked_at = float("-inf")

    def bump(self) -> None:
        """Tell every process the tables changed (after a change the ORM did not see)."""
        db.session.execute(_version_statement(db.session(), self.version_key))
        db.session.info[self._flag] = True

    def touched_by(self, session: Session) -> bool:
        """Tell whether the session holds unflushed changes to this cache's tables."""
        if any(isinstance(obj, self.models) for obj in (*session.new, *session.deleted)):
            return True
        return any(isinstance(obj, self.models) and session.is_modified(obj)
                   for obj in session.dirty)


def _version_statement(session: Session, key: str):
    from lti_tool.lti.launch_store import kv_upsert_statement
    return kv_upsert_statement(session, key, uuid.uuid4().hex, forever=True)


def _note_changes(session: Session, _context, _instances) -> None:
    """Remember which caches this transaction's flush changes (seen before the flush)."""
    for cache in _CACHES.values():
        if cache.touched_by(session):
            session.info[cache._flag] = True
            session.info.setdefault("cache-unwritten", set()).add(cache.name)


def _write_versions(session: Session, _context) -> None:
    """Write new version tokens in the transaction that changes the tables."""
    for name in session.info.pop("cache-unwritten", ()):
        session.connection().execute(_version_statement(session, _CACHES[name].version_key))


def _drop_changed(session: Session) -> None:
    """Once the change is committed, this process forgets what it kept."""
    for cache in _CACHES.values():
        if session.info.pop(cache._flag, None) and has_app_context():
            cache.clear()


def _forget_flags(session: Session) -> None:
    for cache in _CACHES.values():
        session.info.pop(cache._flag, None)
    session.info.pop("cache-unwritten", None)


_LISTENERS = (("before_flush", _note_changes), ("after_flush", _write_versions),
              ("after_commit", _drop_changed), ("after_rollback", _forget_flags))


def init_app(app) -> None:
    """Listen to every session's flushes and commits (once per process; sessions are global)."""
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
