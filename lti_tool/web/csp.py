"""The Content-Security-Policy of every page, and the endpoint browsers report violations to.

The policy allows no inline script or style: scripts and styles come from our own origin
(and the storage provider's player SDK), data for scripts travels in data attributes or
`<script type="application/json">` blocks. Beside 'self' it names exactly the origins the
storage backend declares (StorageBackend.browser_origins) and, for framing the tool and
for posting forms to, the LMS registrations' origins (lti/origins.py): the launching
platform's when the request carries a launch or a view named the platform (use_platform),
else those of every active registration (cached per process for CACHE_TTL_SECONDS).
"""
from __future__ import annotations

import json
import logging
import re
import time
from typing import Callable, Iterable, Mapping, TypeVar

from flask import Blueprint, Flask, current_app, g, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.access.launches import current_launch
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.lti.origins import (normalize_origin, normalize_pattern, origin_inputs,
                                  platform_origins)
from lti_tool.models import Platform
from lti_tool.storage import active_backend_name, backends_in_use, storage_for
from lti_tool.storage.base import BrowserDirective
from lti_tool.web.rate_limits import limit_by_address
from lti_tool.web.urls import public_url

log = logging.getLogger(__name__)

bp = Blueprint("csp", __name__)

CSP_HEADER = "Content-Security-Policy"
REPORTING_HEADER = "Reporting-Endpoints"
REPORT_GROUP = "csp"
SELF = "'self'"
NONE = "'none'"
HTML = "text/html"
BODYLESS_STATUSES = frozenset({204, 304})  # Flask labels these text/html too; no page
CACHE_TTL_SECONDS = 60
_CACHE_KEY = "lti_tool.web.csp"
# Policies and registration origins already worked out, by everything they are made from
# (so a changed registration or backend gives a new key, never a stale value); the memo
# is emptied when it holds this many.
_MEMO_KEY = "lti_tool.web.csp.memo"
MEMO_MAX_ENTRIES = 512
_G_PLATFORMS = "csp_platforms"
_G_FRAME_ORIGINS = "csp_frame_origins"
_G_NO_FRAMING = "csp_no_framing"

# /csp-report: what it takes, and how much of a report reaches the log.
REPORT_MAX_BYTES = 16 * 1024
CSP_REPORT_TYPE = "application/csp-report"  # report-uri (CSP 2)
REPORTS_TYPE = "application/reports+json"  # report-to (Reporting API)
CSP_VIOLATION = "csp-violation"
LOGGED_VALUE_LENGTH = 200
LOGGED_REPORTS_PER_REQUEST = 20
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")

T = TypeVar("T")


# ---- what views tell the policy ----
def use_platform(platform: Platform | None) -> None:
    """Let this request's page be framed by (and post forms to) this platform's origins."""
    if platform is not None:
        chosen = g.setdefault(_G_PLATFORMS, [])
        if platform not in chosen:
            chosen.append(platform)


def allow_frame_origin(url: str | None) -> None:
    """Let this request's page also be framed from the origin of `url` (dynamic registration)."""
    origin = normalize_origin(url)
    if origin is not None:
        g.setdefault(_G_FRAME_ORIGINS, []).append(origin)


def forbid_framing() -> None:
    """Let no site frame this request's page, not even the LMS (frame-ancestors 'none')."""
    g.setdefault(_G_NO_FRAMING, True)


# ---- the policy ----
def _sources(values: Iterable[str]) -> list[str]:
    """Return the valid origins among `values`, deduplicated, logging what was dropped."""
    found = []
    for value in values:
        source = normalize_pattern(value) if value else None
        if source is None:
            log.warning("CSP: %r is not an origin; left out of the policy", value)
        else:
            found.append(source)
    return list(dict.fromkeys(found))


def build_policy(platform_sources: Iterable[str],
                 storage: Mapping[BrowserDirective, Iterable[str]],
                 report_uri: str, frame_extra: Iterable[str] = (), framable: bool = True
                 ) -> str:
    """Return the Content-Security-Policy value for a page."""
    platforms = _sources(platform_sources)

    def provider(directive: BrowserDirective) -> list[str]:
        return _sources(storage.get(directive) or ())

    directives = [
        ("default-src", [SELF]),
        ("script-src", [SELF, *provider(BrowserDirective.SCRIPT)]),
        ("style-src", [SELF]),
        ("img-src", [SELF, "data:", *provider(BrowserDirective.IMG)]),
        ("media-src", [SELF, "blob:", *provider(BrowserDirective.MEDIA)]),
        ("connect-src", [SELF, *provider(BrowserDirective.CONNECT)]),
        ("frame-src", [SELF, *provider(BrowserDirective.FRAME)]),
        # Workers only from our own files (the recorder's compositing worker), never blob: and
        # never the provider's origins that script-src may name.
        ("worker-src", [SELF]),
        ("frame-ancestors",
         [SELF, *platforms, *_sources(frame_extra)] if framable else [NONE]),
        ("form-action", [SELF, *platforms]),
        ("base-uri", [NONE]),
        ("object-src", [NONE]),
        ("report-uri", [report_uri]),
        ("report-to", [REPORT_GROUP]),
    ]
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives)


def _cached(name: str, compute: Callable[[], T]) -> T:
    """Return a value computed at most once per CACHE_TTL_SECONDS in this process (per app)."""
    cache = current_app.extensions.setdefault(_CACHE_KEY, {})
    now = time.monotonic()
    hit = cache.get(name)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    cache[name] = (now + CACHE_TTL_SECONDS, value)
    return value


def _memo(key: tuple, compute: Callable[[], T]) -> T:
    """Return compute() for `key`, worked out once per process (per app) while remembered."""
    memo = current_app.extensions.setdefault(_MEMO_KEY, {})
    try:
        return memo[key]
    except KeyError:
        pass
    if len(memo) >= MEMO_MAX_ENTRIES:
        memo.clear()
    value = memo[key] = compute()
    return value


def _origins(platform: Platform) -> list[str]:
    """Return platform_origins(platform), remembered by the columns it reads."""
    return _memo(("origins", *origin_inputs(platform)), lambda: platform_origins(platform))


def _active_platforms_origins() -> list[str]:
    platforms = db.session.scalars(db.select(Platform).filter_by(active=True)
                                   .order_by(Platform.id))
    return list(dict.fromkeys(o for p in platforms for o in platform_origins(p)))


def _storage_origins() -> dict[BrowserDirective, list[str]]:
    """Return the origins of the backend new uploads go to, and of every backend that still
    holds videos (after an admin switched storage, the old videos keep playing)."""
    merged: dict[BrowserDirective, list[str]] = {}
    try:
        names = backends_in_use()
    except Exception:  # a header must never break the page; the cause is logged once a minute
        db.session.rollback()
        log.exception("CSP: the storage backends in use could not be read")
        names = [current_app.config["STORAGE_BACKEND"]]  # the environment's, then
    for name in names:
        try:
            origins = storage_for(name).browser_origins()
        except Exception:  # noqa: BLE001  (as above)
            log.exception("CSP: the origins of the storage backend %s could not be read", name)
            continue
        for directive, values in origins.items():
            merged.setdefault(directive, []).extend(values)
    return merged


def _storage_key() -> str:
    """Name the cached storage origins after the active backend, so a switch shows at once."""
    try:
        return "storage:" + active_backend_name()
    except SQLAlchemyError:
        db.session.rollback()
        return "storage"


def _launch_platform() -> Platform | None:
    launch = current_launch()
    return launch.platform if launch is not None else None


def platform_sources() -> list[str]:
    """Return the LMS origins this request's page may be framed by and post forms to."""
    platforms = g.get(_G_PLATFORMS)
    try:
        if platforms is None:
            launched = _launch_platform()
            platforms = [launched] if launched is not None else None
        if platforms is None:
            return _cached("platforms", _active_platforms_origins)
        return [o for p in platforms for o in _origins(p)]
    except SQLAlchemyError as exc:  # e.g. the schema is missing: that page still gets a CSP
        db.session.rollback()
        log.warning("CSP: registrations unreadable (%s); only 'self' may frame this page",
                    type(exc).__name__)
        return []


def page_policy() -> str:
    """Return the policy for the page this request answers with."""
    platforms, storage = platform_sources(), _cached(_storage_key(), _storage_origins)
    report_uri, frame_extra = url_for("csp.report"), tuple(g.get(_G_FRAME_ORIGINS, ()))
    framable = not g.get(_G_NO_FRAMING)
    key = ("policy", tuple(platforms),
           tuple(sorted((str(k), tuple(v)) for k, v in storage.items())),
           report_uri, frame_extra, framable)
    return _memo(key, lambda: build_policy(platforms, storage, report_uri, frame_extra,
                                           framable=framable))


def init_app(app: Flask) -> None:
    """Give every HTML response the policy (other responses run no script)."""

    @app.after_request
    def _add_policy(response):
        if (response.mimetype == HTML and response.status_code not in BODYLESS_STATUSES
                and CSP_HEADER not in response.headers):
            response.headers[CSP_HEADER] = page_policy()
            response.headers[REPORTING_HEADER] = \
                f'{REPORT_GROUP}="{public_url("csp.report")}"'
        return response


# ---- violation reports ----
def _logged(value: object) -> str:
    """Return a report field fit for one log line: no query string, printable, truncated."""
    text = value if isinstance(value, str) else json.dumps(value)
    if "://" in text:  # a URL: its query may hold a launch id or a signature
        text = text.split("?", 1)[0].split("#", 1)[0]
    return _UNPRINTABLE.sub("?", text)[:LOGGED_VALUE_LENGTH]


def violations(content_type: str, body: object) -> list[dict]:
    """Return the violation bodies of a report-uri or report-to request body."""
    if content_type == CSP_REPORT_TYPE:
        report = body.get("csp-report") if isinstance(body, dict) else None
        return [report] if isinstance(report, dict) else []
    reports = body if isinstance(body, list) else []
    return [r["body"] for r in reports if isinstance(r, dict) and r.get("type") == CSP_VIOLATION
            and isinstance(r.get("body"), dict)]


def _field(report: dict, *names: str) -> object:
    return next((report[n] for n in names if report.get(n) not in (None, "")), "-")


@bp.post("/csp-report")
@limit_by_address("RATELIMIT_CSP_REPORT")
def report():
    """Log each Content-Security-Policy violation a browser reports, one warning line each."""
    if request.mimetype not in (CSP_REPORT_TYPE, REPORTS_TYPE):
        raise ToolError(f"Send CSP reports as {CSP_REPORT_TYPE} or {REPORTS_TYPE}.",
                        code="unsupported_report_type", http_status=415)
    raw = request.stream.read(REPORT_MAX_BYTES + 1)
    if len(raw) > REPORT_MAX_BYTES:
        raise ToolError(f"A CSP report may have at most {REPORT_MAX_BYTES} bytes.",
                        code="report_too_large", http_status=413)
    try:
        body = json.loads(raw)
    except ValueError:
        raise ToolError("The CSP report is not JSON.", code="bad_report") from None
    found = violations(request.mimetype, body)
    for violation in found[:LOGGED_REPORTS_PER_REQUEST]:
        log.warning("CSP violation: %s blocked %s on %s (%s:%s)",
                    _logged(_field(violation, "effectiveDirective", "effective-directive",
                                   "violatedDirective", "violated-directive")),
                    _logged(_field(violation, "blockedURL", "blocked-uri")),
                    _logged(_field(violation, "documentURL", "document-uri")),
                    _logged(_field(violation, "sourceFile", "source-file")),
                    _logged(_field(violation, "lineNumber", "line-number")))
    if not found:
        log.info("CSP report without a violation from %s", request.remote_addr)
    return "", 204
