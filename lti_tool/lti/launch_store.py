"""Short-lived LTI data shared by every process: OIDC state, used nonces, pylti1p3's cache.

OIDC state and nonces must survive the hop between the login and the launch, which may land
on another gunicorn worker or replica, and a used nonce must be refused everywhere
(1EdTech Security Framework 1.0, section 5.1.3, item 9: "the Tool SHOULD verify that it has
not yet received this nonce value"). So they live in Redis when REDIS_URL is set (one round
trip each), else in the database's KeyValue table (one statement each); never in process
memory.
"""
from __future__ import annotations

import json
import typing as t
from datetime import datetime, timedelta, timezone

from flask import current_app
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from lti_tool.extensions import db
from lti_tool.models import KeyValue, LaunchRecord, utcnow

DEFAULT_TTL_SECONDS = 24 * 3600
# Expired launches are kept this long after expiry (support questions), then purged.
LAUNCH_RETENTION = timedelta(days=7)


def kv_get(key: str) -> t.Any:
    """Return the live value under key, or None."""
    row = db.session.get(KeyValue, key)
    if row is None or row.expires_at <= utcnow():
        return None
    return row.value


_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# What "never expires" is stored as (a registry version, lti_tool.lti.registry).
FOREVER = datetime(9999, 1, 1, tzinfo=timezone.utc)


def _insert(session=None):
    dialect = (session or db.session).get_bind().dialect.name
    return _INSERTS[dialect](KeyValue)


def kv_upsert_statement(session, key: str, value: t.Any, ttl_seconds: int | None = None,
                        forever: bool = False):
    """Return the one statement that stores value under key, replacing what was there."""
    expires = FOREVER if forever else utcnow() + timedelta(seconds=ttl_seconds)
    stmt = _insert(session).values(key=key, value=value, expires_at=expires)
    return stmt.on_conflict_do_update(index_elements=[KeyValue.key], set_={
        "value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at})


def kv_put(key: str, value: t.Any, ttl_seconds: int) -> None:
    """Store value under key for ttl_seconds, replacing what was there (one statement)."""
    db.session.execute(kv_upsert_statement(db.session, key, value, ttl_seconds))


def kv_add(key: str, value: t.Any, ttl_seconds: int) -> bool:
    """Store value under key unless a live value is there; tell whether it was stored.

    One statement, atomic across processes: the insert takes the key, or replaces a row
    that has expired; a live row makes it return nothing (a concurrent twin waits for the
    other's commit, then sees the row).
    """
    now = utcnow()
    stmt = _insert().values(key=key, value=value, expires_at=now + timedelta(seconds=ttl_seconds))
    stmt = stmt.on_conflict_do_update(
        index_elements=[KeyValue.key],
        set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
        where=KeyValue.expires_at <= now).returning(KeyValue.key)
    return db.session.execute(stmt).first() is not None


def kv_pop(key: str) -> t.Any:
    """Remove the live value under key and return it; None when absent or taken by another.

    One statement: of two concurrent callers, only one gets the row back.
    """
    row = db.session.execute(delete(KeyValue).where(KeyValue.key == key)
                             .returning(KeyValue.value, KeyValue.expires_at)).first()
    if row is None or row.expires_at <= utcnow():
        return None
    return row.value


# ---- login state and used nonces: Redis when REDIS_URL is set, else the KeyValue table ----
def _redis():
    """Return this app's Redis client, or None without REDIS_URL."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("lti_redis")
    if client is None:
        import redis
        client = current_app.extensions["lti_redis"] = redis.Redis.from_url(url)
    return client


def put_short_lived(key: str, value: t.Any, ttl_seconds: int) -> None:
    """Store a login's record (one round trip or statement)."""
    client = _redis()
    if client is None:
        kv_put(key, value, ttl_seconds)
    else:
        client.set(key, json.dumps(value), ex=ttl_seconds)


def get_short_lived(key: str) -> t.Any:
    """Return a live record stored by put_short_lived, or None."""
    client = _redis()
    if client is None:
        return kv_get(key)
    raw = client.get(key)
    return None if raw is None else json.loads(raw)


def take_short_lived(key: str) -> t.Any:
    """Remove a live record and return it; None when absent or taken by another request."""
    client = _redis()
    if client is None:
        return kv_pop(key)
    raw = client.getdel(key)
    return None if raw is None else json.loads(raw)


def add_once(key: str, ttl_seconds: int) -> bool:
    """Mark key as seen for ttl_seconds; tell whether it was not seen before (a nonce)."""
    client = _redis()
    if client is None:
        return kv_add(key, True, ttl_seconds)
    return bool(client.set(key, "1", nx=True, ex=ttl_seconds))


def seen(key: str) -> bool:
    """Tell whether add_once marked key (and it has not expired)."""
    client = _redis()
    if client is None:
        return kv_get(key) is not None
    return bool(client.exists(key))


def purge_expired() -> None:
    """Delete expired key/values and launches long expired (a job; safe to run twice)."""
    now = utcnow()
    db.session.execute(delete(KeyValue).where(KeyValue.expires_at <= now))
    db.session.execute(delete(LaunchRecord).where(LaunchRecord.expires_at <= now - LAUNCH_RETENTION))
    db.session.commit()


def launch_data_keys(launch_ids: t.Iterable[str]) -> list[str]:
    """Return the keys under which pylti1p3 keeps these launches' claims (privacy erasure)."""
    return [DbLaunchDataStorage().prepare_key(launch_id) for launch_id in launch_ids]


class DbLaunchDataStorage(LaunchDataStorage[t.Any]):
    """pylti1p3's launch data storage, kept in the KeyValue table with an expiry.

    Keys are prefixed with pylti1p3's "lti1p3-" and carry unguessable state or launch ids,
    so no extra per-browser session cookie is used (it would be blocked in iframes).
    """

    def get_session_cookie_name(self) -> t.Optional[str]:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def prepare_key(self, key: str) -> str:
        """Return the KeyValue key a pylti1p3 key is stored under."""
        return self._prepare_key(key)

    def get_value(self, key: str) -> t.Any:
        return kv_get(self._prepare_key(key))

    def set_value(self, key: str, value: t.Any, exp: t.Optional[int] = None) -> None:
        kv_put(self._prepare_key(key), value, exp or DEFAULT_TTL_SECONDS)

    def check_value(self, key: str) -> bool:
        return kv_get(self._prepare_key(key)) is not None


class UnusedLaunchData(DbLaunchDataStorage):
    """pylti1p3's storage for the login and launch, which keep nothing in it.

    Our login stores state and nonce in one record of its own (put_short_lived) and our
    launch checks them itself (lti_tool.lti.launch), so the copies pylti1p3 would write
    (its nonce, its "state valid" mark, the launch's claims, which the LaunchRecord keeps)
    are never read: writing them cost four statements per launch.
    """

    def set_value(self, key: str, value: t.Any, exp: t.Optional[int] = None) -> None:
        return None
