"""OAuth2 access to the platform's services (AGS, NRPS) and the one HTTP call they share.

The tool asks the platform's token endpoint for a token with the client_credentials grant,
authenticating with a JWT client assertion signed by the tool key (1EdTech Security
Framework 1.0, section 4.1; RFC 7523). Tokens are cached in the AccessToken table until
shortly before they expire; a 401 from a service drops the cached token and retries once.
"""
from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterable

import jwt
import requests
from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lti_tool import outbound
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.lti.keys import SIGNING_ALG, signing_key
from lti_tool.models import AccessToken, Platform, utcnow

log = logging.getLogger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_TYPE = "client_credentials"
ASSERTION_LIFETIME = timedelta(minutes=5)
# Stop using a cached token this long before the platform says it expires.
EXPIRY_MARGIN = timedelta(seconds=60)
DEFAULT_TOKEN_LIFETIME = 3600  # when the platform omits expires_in
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# A token endpoint answering these with an HTML page instead of JSON is not the OAuth
# server refusing us but the LMS failing before it (Moodle: 404 when its HTTP security
# blocks the call to the tool's key set).
BLOCKED_TOKEN_STATUSES = frozenset({401, 403, 404})
MOODLE_HTTP_SECURITY = (
    "In Moodle: Site administration > General > Security > HTTP security: remove the "
    "tool's host name or address from \"cURL blocked hosts list\", and add the tool's port "
    "to \"cURL allowed ports\" if it is not 80 or 443.")
OTHER_LMS_CURE = ("Ask the LMS administrator to let the LMS make outgoing requests to the "
                  "tool's address (firewall, proxy or the LMS's outgoing-request settings).")
WILL_RETRY = "The grade is kept and sent again automatically once this is fixed."
MAX_REASON_CHARS = 500
# The largest service answer read: an NRPS page of thousands of members runs to megabytes.
SERVICE_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


class ServiceError(ToolError):
    """A platform service (token, AGS, NRPS) did not do what we asked."""

    http_status = 502
    code = "lms_service_error"
    title = "The LMS did not answer as expected"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.status = status
        self.retry_after = retry_after


class ServiceUnavailable(ServiceError):
    """The platform is down, slow or rate-limiting us: try again later."""

    code = "lms_unavailable"
    retryable = True


class ServiceRefused(ServiceError):
    """The platform refused the request for good (4xx): retrying the same will not help."""

    code = "lms_refused"


class ServiceBlocked(ServiceUnavailable):
    """A configuration stands between the tool and the LMS: the LMS's token endpoint
    answers with an error page (Moodle's HTTP security keeps it from fetching the tool's
    keys), or the tool's own address policy refuses the LMS's address.

    An administrator can cure it, so it is retried with backoff like an outage (not failed
    after one try), and its message says in plain words what to change.
    """

    code = "lms_blocked"


class ScopeNotGranted(ServiceRefused):
    """The platform did not grant the scope the operation needs."""

    code = "lms_scope_not_granted"


def client_assertion(platform: Platform) -> str:
    """Return a signed JWT that authenticates the tool to the platform's token endpoint."""
    kid, pem = signing_key()
    now = utcnow()
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.auth_audience or platform.auth_token_url,
        "iat": int(now.timestamp()),
        "exp": int((now + ASSERTION_LIFETIME).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, pem, algorithm=SIGNING_ALG, headers={"kid": kid})


def _scope_key(scopes: Iterable[str]) -> str:
    return " ".join(sorted(set(scopes)))


def access_token(platform: Platform, scopes: Iterable[str]) -> str:
    """Return a live access token for these scopes, from the cache or the token endpoint."""
    key = _scope_key(scopes)
    with _token_session() as session:
        cached = session.scalar(select(AccessToken).filter_by(platform_id=platform.id,
                                                              scopes=key))
        if cached is not None and cached.expires_at > utcnow():
            return cached.token
    token, lifetime = _request_token(platform, key)
    expires_at = utcnow() + timedelta(seconds=lifetime) - min(
        EXPIRY_MARGIN, timedelta(seconds=lifetime / 10))
    _store_token(platform.id, key, token, expires_at)
    return token


def forget_token(platform: Platform, scopes: Iterable[str]) -> None:
    """Drop the cached token for these scopes (the platform said it is no longer valid)."""
    with _token_session() as session:
        session.execute(delete(AccessToken).where(
            AccessToken.platform_id == platform.id, AccessToken.scopes == _scope_key(scopes)))
        session.commit()


@contextmanager
def _token_session():
    """Open a short session of its own for the token cache.

    The cache is written and committed at once, apart from the caller's transaction: a
    caller's unfinished work is never committed with it, and no write lock is held while
    the tool waits on the platform (SQLite has one writer; the demo LMS shares the file).
    """
    session = Session(db.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def _request_token(platform: Platform, scope: str) -> tuple[str, int]:
    data = {"grant_type": GRANT_TYPE, "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": client_assertion(platform), "scope": scope}
    try:
        resp = outbound.request("POST", platform.auth_token_url, data=data, timeout=_timeout(),
                                headers={"Accept": "application/json"})
    except outbound.OutboundError as exc:
        raise _unreachable("The LMS token endpoint could not be reached", exc) from None
    if resp.status_code in BLOCKED_TOKEN_STATUSES and _is_html(resp):
        raise ServiceBlocked(blocked_token_message(platform, resp.status_code),
                             status=resp.status_code)
    if resp.status_code != 200:
        raise _error_from(resp, "The LMS refused to give the tool an access token")
    try:
        body = resp.json()
        token = body["access_token"]
    except (ValueError, KeyError, TypeError):
        raise ServiceUnavailable("The LMS token endpoint answered without an access token.",
                                 status=resp.status_code) from None
    try:
        lifetime = int(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    log.info("access token obtained from platform %s for %s (%ss)", platform.id, scope, lifetime)
    return token, max(lifetime, 1)


def _store_token(platform_id: int, scopes: str, token: str, expires_at: datetime) -> None:
    """Upsert the cached token (concurrent writers do not clash); a failure only costs a
    token request next time."""
    values = {"platform_id": platform_id, "scopes": scopes, "token": token,
              "expires_at": expires_at}
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(AccessToken).values(**values).on_conflict_do_update(
        index_elements=["platform_id", "scopes"], set_={"token": token, "expires_at": expires_at})
    with _token_session() as session:
        try:
            session.execute(stmt)
            session.commit()
        except OperationalError as exc:
            session.rollback()
            log.warning("access token not cached: %s", type(exc).__name__)


def service_request(platform: Platform, scopes: Iterable[str], method: str, url: str, *,
                    json: dict | None = None, accept: str | None = None,
                    content_type: str | None = None,
                    params: dict | None = None) -> requests.Response:
    """Call a platform service with a bearer token; refresh the token once on 401.

    Raises ServiceUnavailable for network errors, 5xx and 429 (with Retry-After), and
    ServiceRefused for any other 4xx, carrying the platform's reason.
    """
    scopes = tuple(scopes)
    for attempt in (1, 2):
        headers = {"Authorization": f"Bearer {access_token(platform, scopes)}"}
        if accept:
            headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        try:
            resp = outbound.request(method, url, json=json, params=params, headers=headers,
                                    timeout=_timeout(), max_bytes=SERVICE_MAX_RESPONSE_BYTES)
        except outbound.OutboundError as exc:
            raise _unreachable("The LMS could not be reached", exc) from None
        if resp.status_code == 401 and attempt == 1:
            log.info("platform %s answered 401: refreshing the access token", platform.id)
            forget_token(platform, scopes)
            continue
        if resp.status_code >= 400:
            raise _error_from(resp, f"The LMS answered {resp.status_code} to {method}")
        return resp
    raise AssertionError("unreachable")  # pragma: no cover


def blocked_token_message(platform: Platform, status: int) -> str:
    """Say in plain words why the token endpoint answered with an error page, and the cure."""
    cure = MOODLE_HTTP_SECURITY if platform.product_family == "moodle" else OTHER_LMS_CURE
    return (f"The LMS refused to give the tool an access token (it answered {status} with "
            f"an error page). This usually means the LMS cannot reach the tool to check its "
            f"keys. {cure} {WILL_RETRY}")


def _unreachable(prefix: str, exc: outbound.OutboundError) -> ServiceError:
    """Translate a failed call: a redirect or oversized answer is for good
    (ServiceRefused); a network failure or a passed deadline may heal (Unavailable); an
    address our policy refuses waits for the operator (ServiceBlocked)."""
    message = f"{prefix} ({type(exc).__name__}): {exc.message}"
    if isinstance(exc, outbound.OutboundRefused):
        return ServiceBlocked(
            f"{message}. The tool refuses to call private or internal addresses unless "
            f"allowed: the operator can allow the LMS's network with OUTBOUND_ALLOWED_NETWORKS."
            f" {WILL_RETRY}")
    if exc.retryable:
        return ServiceUnavailable(message)
    return ServiceRefused(message)


def _is_html(resp: requests.Response) -> bool:
    """Tell whether an answer is a web page rather than the service's JSON."""
    if "html" in resp.headers.get("Content-Type", "").lower():
        return True
    return resp.text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def _error_from(resp: requests.Response, prefix: str) -> ServiceError:
    """Translate an error answer into ServiceUnavailable or ServiceRefused with its reason
    (an error page is named as such, never quoted: people read these reasons)."""
    reason = "an error page instead of an answer" if _is_html(resp) else _reason(resp)
    message = f"{prefix}: {reason}" if reason else prefix
    if resp.status_code in RETRYABLE_STATUSES or resp.status_code >= 500:
        return ServiceUnavailable(message + ".", status=resp.status_code,
                                  retry_after=outbound.parse_retry_after(resp.headers.get("Retry-After")))
    return ServiceRefused(message + ".", status=resp.status_code)


def _reason(resp: requests.Response) -> str:
    """Return the platform's own words for an error, short and on one line."""
    text = ""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error_description", "reason", "message", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if isinstance(value, str) and value:
                text = value
                break
    if not text:
        text = (resp.text or resp.reason or "").strip()
    return " ".join(text.split())[:MAX_REASON_CHARS]


def _timeout() -> float:
    """Return the total deadline of one call to an LMS service."""
    return float(current_app.config.get("LTI_SERVICE_TIMEOUT_SECONDS", 15))


def iter_pages(platform: Platform, scopes: Iterable[str], url: str, *, accept: str,
               params: dict | None = None, max_pages: int = 1000):
    """Yield each page's JSON body of a paged service, following Link rel="next"."""
    seen = set()
    for _ in range(max_pages):
        resp = service_request(platform, scopes, "GET", url, accept=accept, params=params)
        try:
            yield resp.json()
        except ValueError:
            raise ServiceUnavailable("The LMS answered with something that is not JSON.",
                                     status=resp.status_code) from None
        next_url = resp.links.get("next", {}).get("url")
        if not next_url or next_url in seen:
            return
        seen.add(next_url)
        url, params = next_url, None  # the next link carries its own query
