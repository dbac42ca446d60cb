"""Fault injection and inspection of the demo LMS, for tests of the tool's service clients.

Usage (any test with the `app` fixture; works across the live server's threads)::

    from demo_lms.control import control

    lms = control(app)
    lms.fail_next("scores", 503, times=2)            # the next 2 score POSTs answer 503
    lms.fail_next("scores", 429, retry_after=30)     # ... then one 429 with `Retry-After: 30`
    lms.fail_next("token", 500)                      # the next token request answers 500
    lms.set_token_ttl(1)                             # new access tokens live 1 second
    lms.set_granted_scopes([Scope.SCORE])            # "grade sync only", as a Moodle admin can set
    lms.scores(lineitem_id=None)                     # scores received (dicts, oldest first)
    lms.lineitems()                                  # line items (dicts)
    lms.token_requests()                             # token requests seen (dicts, oldest first)
    lms.reset()                                      # back to normal behaviour

Endpoints for `fail_next`: "scores" (score POSTs), "token" (the OAuth2 token endpoint),
"lineitems" (every line item request: list, create, get, update, delete) and "memberships"
(NRPS). An injected failure is answered before any authentication, as a proxy or an
overloaded LMS would; it is counted in `token_requests()` with its status. Failures queue
up: each call to `fail_next` adds `times` failures after those already queued.

`set_granted_scopes(list)` restricts what the token endpoint grants and what launches
advertise in the AGS claim; `None` lifts the restriction. `set_token_ttl(None)` goes back
to the DEMO_LMS_TOKEN_TTL_SECONDS setting (default 3600).

Every `scores()` entry has `scoreGiven`, `scoreMaximum`, `comment`, `activityProgress`,
`gradingProgress`, `timestamp` (ISO 8601), `userId`, `username`, `lineitem_id`, `applied`
(False when a score older than the stored one was ignored, as AGS 2.0 section 3.4.9 asks)
and `body` (the JSON as received).
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Iterable

from flask import Flask

from lti_tool.extensions import db

EXTENSION_KEY = "demo_lms_control"
ENDPOINTS = frozenset({"scores", "token", "lineitems", "memberships"})
DEFAULT_TOKEN_TTL_SECONDS = 3600


@dataclass(frozen=True)
class InjectedFailure:
    """One failure to answer instead of doing the work."""

    status: int
    retry_after: int | None = None


class DemoLmsControl:
    """Thread-safe switches and counters of one app's demo LMS."""

    def __init__(self, app: Flask):
        self._app = app
        self._lock = threading.Lock()
        self.reset()

    # ---- switches ----
    def fail_next(self, endpoint: str, status: int, times: int = 1,
                  retry_after: int | None = None) -> None:
        """Make the next `times` requests to `endpoint` answer `status`."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {sorted(ENDPOINTS)}")
        if not 400 <= status <= 599 or times < 1:
            raise ValueError("status must be an HTTP error (4xx/5xx) and times >= 1")
        with self._lock:
            self._failures[endpoint].extend([InjectedFailure(status, retry_after)] * times)

    def set_token_ttl(self, seconds: int | None) -> None:
        """Give new access tokens this lifetime (None: the configured one)."""
        with self._lock:
            self._token_ttl = seconds

    def set_granted_scopes(self, scopes: Iterable[str] | None) -> None:
        """Grant and advertise only these scopes (None: all the registration allows)."""
        with self._lock:
            self._granted_scopes = list(scopes) if scopes is not None else None

    def reset(self) -> None:
        """Forget every injected failure, override and recorded token request."""
        with self._lock:
            self._failures = {name: deque() for name in ENDPOINTS}
            self._token_ttl = None
            self._granted_scopes = None
            self._token_requests = []

    # ---- used by the endpoints ----
    def take_failure(self, endpoint: str) -> InjectedFailure | None:
        """Pop the next injected failure for `endpoint`, if any."""
        with self._lock:
            queue = self._failures[endpoint]
            return queue.popleft() if queue else None

    def token_ttl(self) -> int:
        """Return the lifetime, in seconds, of a new access token."""
        with self._lock:
            if self._token_ttl is not None:
                return self._token_ttl
        return int(self._app.config.get("DEMO_LMS_TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS))

    def restrict_scopes(self, scopes: Iterable[str]) -> list[str]:
        """Return `scopes` minus those the test switched off, in their order."""
        with self._lock:
            allowed = self._granted_scopes
        return [s for s in scopes if allowed is None or s in allowed]

    def record_token_request(self, entry: dict) -> None:
        """Remember one token request (never the assertion or the token)."""
        with self._lock:
            self._token_requests.append(dict(entry))

    # ---- reading ----
    def token_requests(self) -> list[dict]:
        """Return the token requests seen, oldest first."""
        with self._lock:
            return [dict(e) for e in self._token_requests]

    def scores(self, lineitem_id: int | None = None) -> list[dict]:
        """Return the scores received (for one line item, or all), oldest first."""
        from demo_lms.models import DemoScore
        with self._app.app_context():
            query = db.select(DemoScore).order_by(DemoScore.id)
            if lineitem_id is not None:
                query = query.filter_by(lineitem_id=lineitem_id)
            return [score_as_dict(s) for s in db.session.scalars(query)]

    def lineitems(self) -> list[dict]:
        """Return every line item, oldest first."""
        from demo_lms.ags import lineitem_as_json
        from demo_lms.models import DemoLineItem
        with self._app.app_context():
            items = db.session.scalars(db.select(DemoLineItem).order_by(DemoLineItem.id))
            return [dict(lineitem_as_json(item), pk=item.id, course_id=item.course_id)
                    for item in items]


def score_as_dict(score) -> dict:
    """Return one received score as the control API and the gradebook show it."""
    return {
        "id": score.id, "lineitem_id": score.lineitem_id, "userId": score.user.sub,
        "username": score.user.username, "scoreGiven": score.score_given,
        "scoreMaximum": score.score_maximum, "comment": score.comment,
        "activityProgress": score.activity_progress, "gradingProgress": score.grading_progress,
        "timestamp": score.timestamp.isoformat(), "received_at": score.received_at.isoformat(),
        "applied": score.applied, "body": score.body,
    }


def control(app: Flask) -> DemoLmsControl:
    """Return the app's demo LMS controller (created on first use)."""
    ctl = app.extensions.get(EXTENSION_KEY)
    if ctl is None:
        ctl = app.extensions.setdefault(EXTENSION_KEY, DemoLmsControl(app))
    return ctl
