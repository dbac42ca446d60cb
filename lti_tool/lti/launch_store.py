"""Short-lived LTI data in our database (KeyValue table), shared by every process.

OIDC state and nonces must survive the hop between the login and the launch, which may land
on another gunicorn worker or replica, and a used nonce must be refused everywhere
(1EdTech Security Framework 1.0, section 5.1.3, item 9: "the Tool SHOULD verify that it has
not yet received this nonce value"). So they live in the database, not in process memory.
"""
from __future__ import annotations

import typing as t
from datetime import timedelta

from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

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


def kv_put(key: str, value: t.Any, ttl_seconds: int) -> None:
    """Store value under key for ttl_seconds, replacing what was there."""
    db.session.merge(KeyValue(key=key, value=value,
                              expires_at=utcnow() + timedelta(seconds=ttl_seconds)))
    db.session.flush()


def kv_add(key: str, value: t.Any, ttl_seconds: int) -> bool:
    """Store value under key unless a live value is there; tell whether it was stored.

    The primary key makes this atomic across processes: of two concurrent callers one
    insert waits for the other and then fails with an integrity error.
    """
    db.session.execute(delete(KeyValue).where(KeyValue.key == key,
                                              KeyValue.expires_at <= utcnow()))
    try:
        with db.session.begin_nested():
            db.session.add(KeyValue(key=key, value=value,
                                    expires_at=utcnow() + timedelta(seconds=ttl_seconds)))
    except IntegrityError:
        return False
    return True


def kv_pop(key: str) -> t.Any:
    """Remove the live value under key and return it; None when absent or taken by another."""
    value = kv_get(key)
    if value is None:
        return None
    result = db.session.execute(delete(KeyValue).where(KeyValue.key == key))
    return value if result.rowcount == 1 else None


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
