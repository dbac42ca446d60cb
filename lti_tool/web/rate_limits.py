"""Rate limits shared by every worker and replica, and who a limit counts.

Flask-Limiter does the limiting; its counters live in Redis when REDIS_URL is set, and
otherwise in the tool's own database (`lti-db://`, the storage below), so all gunicorn
workers of one machine, and replicas sharing a database, count together. (Its `memory://`
storage counts per process: four workers let four times the limit through.)

Limits count per user where a launch says who asks, and per client address otherwise
(login, registration, refused launches). The address is the socket's peer unless
PROXY_COUNT names proxies whose X-Forwarded-For is trusted, so a client cannot pick its own.
Limits that count per address are set high enough for a whole class behind one campus
address.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from flask import current_app, has_app_context
from flask_limiter.util import get_remote_address
from limits import parse
from limits.storage import Storage
from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.extensions import db, limiter
from lti_tool.models import RateCounter, utcnow

log = logging.getLogger(__name__)

DB_STORAGE_SCHEME = "lti-db"
DB_STORAGE_URI = f"{DB_STORAGE_SCHEME}://"
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# Scope of the budget of refused launches that are written to the audit log, per address.
REFUSAL_AUDIT_SCOPE = "launch-refusal-audit"


def storage_uri(config) -> str:
    """Return where counters live: an explicit setting, else Redis, else the database."""
    return (config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL")
            or DB_STORAGE_URI)


def client_address() -> str:
    """Return the client's address as the app sees it (after trusted proxies only)."""
    return get_remote_address() or "unknown"


def user_or_address() -> str:
    """Count per launching user when a launch names one, else per client address."""
    from lti_tool.access.launches import current_launch
    launch = current_launch()
    if launch is not None:
        return f"user:{launch.user_id}"
    return f"addr:{client_address()}"


def limit(setting: str):
    """Return a decorator limiting a view by the limit string in config[setting]."""
    return limiter.limit(lambda: current_app.config[setting], key_func=user_or_address)


def limit_by_address(setting: str):
    """Return a decorator limiting a view per client address (no user known yet)."""
    return limiter.limit(lambda: current_app.config[setting], key_func=client_address)


def within_budget(setting: str, scope: str) -> bool:
    """Spend one unit of the per-address budget config[setting]; tell whether it was left.

    For things that are not refused but not always worth keeping (audit rows of refused
    launches): beyond the budget they are only logged.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    try:
        return limiter.limiter.hit(parse(current_app.config[setting]), scope,
                                   client_address())
    except Exception:  # a limiter that cannot count must not break the request
        log.warning("rate limit storage unavailable; %s not counted", scope)
        return True


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_counter` table (one atomic upsert per hit)."""

    STORAGE_SCHEME = [DB_STORAGE_SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the counter, starting a new window when the old one expired."""
        now = utcnow()
        until = now + timedelta(seconds=expiry)
        insert = _INSERTS[db.engine.dialect.name]
        stamp = RateCounter.__table__.c.expires_at.type
        window_over = RateCounter.expires_at <= literal(now, stamp)
        stmt = insert(RateCounter).values(key=key[:255], count=amount, expires_at=until)
        stmt = stmt.on_conflict_do_update(
            index_elements=[RateCounter.key],
            set_={"count": case((window_over, amount), else_=RateCounter.count + amount),
                  "expires_at": case((window_over, literal(until, stamp)),
                                     else_=RateCounter.expires_at)},
        ).returning(RateCounter.count)
        with db.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def get(self, key: str) -> int:
        """Return the counter of a live window (0 when none)."""
        with db.engine.connect() as conn:
            row = conn.execute(select(RateCounter.count, RateCounter.expires_at)
                               .where(RateCounter.key == key[:255])).first()
        if row is None or _aware(row.expires_at) <= utcnow():
            return 0
        return int(row.count)

    def get_expiry(self, key: str) -> float:
        """Return when the window ends, as a Unix time."""
        with db.engine.connect() as conn:
            expires = conn.execute(select(RateCounter.expires_at)
                                   .where(RateCounter.key == key[:255])).scalar()
        return _aware(expires).timestamp() if expires is not None else time.time()

    def check(self) -> bool:
        """Tell whether the table can be read."""
        if not has_app_context():
            return True
        try:
            with db.engine.connect() as conn:
                conn.execute(select(RateCounter.key).limit(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        """Forget every counter."""
        with db.engine.begin() as conn:
            return conn.execute(delete(RateCounter)).rowcount

    def clear(self, key: str) -> None:
        """Forget one counter."""
        with db.engine.begin() as conn:
            conn.execute(delete(RateCounter).where(RateCounter.key == key[:255]))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def purge_expired_counters() -> int:
    """Delete counters whose window ended (a job; safe to run twice)."""
    result = db.session.execute(delete(RateCounter).where(RateCounter.expires_at <= utcnow()))
    db.session.commit()
    return result.rowcount


def init_app(app) -> None:
    """Point Flask-Limiter at the shared storage and bind it."""
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(app.config)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
