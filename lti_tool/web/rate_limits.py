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

A view's limit is checked once per request, in the view's decorator (`limit`,
`limit_by_address`): one parse of the limit string per process, one key, one hit on the
storage (one Redis `EVALSHA`). Flask-Limiter's own decorator resolves the limits of a view
twice per request (in its `before_request` hook and again in the decorator) and works out
exemption scopes and blueprint limits each time; that was about a tenth of a playback
grant's CPU (bench/README.md, round 4). Its storage, strategy and `RateLimitExceeded` are
the ones used here, so counters and 429 answers are the same. The hook is left out when
the app has no default, application or meta limits (it would find none); the shared
registration limit still uses Flask-Limiter's decorator.
"""
from __future__ import annotations

import functools
import logging
import time
from datetime import datetime, timedelta, timezone

from flask import current_app, g, has_app_context, request
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from limits.storage import Storage
from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.errors import RATE_LIMIT_RESET_KEY
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
    """Count per launching user when a launch names one, else per client address.

    The launch is the request's one lookup (cached on flask.g by current_launch): the view
    behind the limit reuses it, so the key costs no statement of its own.
    """
    from lti_tool.access.launches import current_launch
    launch = current_launch()
    if launch is not None:
        return f"user:{launch.user_id}"
    return f"addr:{client_address()}"




@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> RateLimitItem:
    return parse(text)


class _ViewLimit:
    """What RateLimitExceeded reads of a limit (its text, no custom message)."""

    error_message = None

    def __init__(self, item: RateLimitItem):
        self.limit = item


def check_limit(setting: str, key_func) -> None:
    """Spend one unit of config[setting] for this request's key; raise 429 when none is left.

    One hit on the storage, counted under the same (key, endpoint) pair as Flask-Limiter's
    decorator would. A storage that cannot count lets the request through, logged, as
    Flask-Limiter does with RATELIMIT_SWALLOW_ERRORS.
    """
    if not (limiter.enabled and limiter.initialized):
        return
    item = _parsed(current_app.config[setting])
    args = (key_func(), request.endpoint or "")
    if limiter._key_prefix:  # RATELIMIT_KEY_PREFIX, as Flask-Limiter's decorator keys it
        args = (limiter._key_prefix, *args)
    try:
        allowed = limiter.limiter.hit(item, *args)
    except Exception:
        if not current_app.config.get("RATELIMIT_SWALLOW_ERRORS", True):
            raise
        log.warning("rate limit storage unavailable; %s not counted", setting)
        return
    if not allowed:
        log.info("ratelimit %s (%s) exceeded at endpoint: %s", item, *args[-2:])
        g.setdefault(RATE_LIMIT_RESET_KEY, _reset_at(item, args))
        raise RateLimitExceeded(_ViewLimit(item))


def _reset_at(item: RateLimitItem, args: tuple) -> float | None:
    """Return when the window of a limit that refused a request ends (Unix time)."""
    try:
        return limiter.limiter.get_window_stats(item, *args).reset_time
    except Exception:
        return None


def _limited(setting: str, key_func):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            check_limit(setting, key_func)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def limit(setting: str):
    """Return a decorator limiting a view by the limit string in config[setting], per user."""
    return _limited(setting, user_or_address)


def limit_by_address(setting: str):
    """Return a decorator limiting a view per client address (no user known yet)."""
    return _limited(setting, client_address)


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
    _drop_idle_hook(app)


def _drop_idle_hook(app) -> None:
    """Leave out Flask-Limiter's before_request pass when it has nothing to check.

    It evaluates default, application and meta limits, and (again) decorated ones; this
    app has none of the first three (views check their own, once, in `check_limit`), so
    the pass only cost CPU on every request. Any of them configured keeps it.
    """
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or limiter._meta_limits:
        return
    hooks = app.before_request_funcs.get(None, [])
    app.before_request_funcs[None] = [hook for hook in hooks
                                      if hook != limiter._check_request_limit]
