"""The tool's errors, each with its HTTP status and a message a person can act on."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Where a view's rate limit keeps, on flask.g, when the window that refused a request ends
# (lti_tool.web.rate_limits.check_limit), for the 429's Retry-After.
RATE_LIMIT_RESET_KEY = "rate_limit_reset_at"


class ToolError(Exception):
    """Base of every error the tool shows to a user or a script."""

    http_status = 400
    code = "bad_request"
    title = "Something is not right"

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None,
                 hint: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.headers = headers or {}
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status


class LaunchError(ToolError):
    """An LTI launch, login or registration was refused."""

    code = "launch_refused"
    title = "This launch could not be accepted"


class NotAuthenticated(ToolError):
    http_status = 401
    code = "not_authenticated"
    title = "Please open this tool from your course"


class Forbidden(ToolError):
    http_status = 403
    code = "forbidden"
    title = "You may not see this"


class NotFound(ToolError):
    http_status = 404
    code = "not_found"
    title = "Not found"


class Conflict(ToolError):
    http_status = 409
    code = "conflict"
    title = "Conflict"


class StorageError(ToolError):
    """A storage backend failed or refused; message is safe to show."""

    http_status = 502
    code = "storage_error"
    title = "The video storage did not answer as expected"


def wants_json() -> bool:
    """Tell whether the caller is a script (JSON) rather than a person (HTML)."""
    if request.path.startswith(("/api/", "/tus/", "/lti/jwks", "/.well-known/", "/csp-report")):
        return True
    if request.is_json or request.headers.get("X-Requested-With") == "fetch":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def render_error(status: int, code: str, title: str, message: str, hint: str | None = None,
                 headers: dict | None = None):
    """Render one error as JSON for scripts or an HTML page for people."""
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if hint:
            body["error"]["hint"] = hint
        resp = jsonify(body)
    else:
        resp = render_template("error.html", status=status, code=code, title=title,
                               message=message, hint=hint)
        resp = (resp, status)
        from flask import make_response
        resp = make_response(resp)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def is_schema_missing(err: Exception) -> bool:
    """Tell whether a database error means the schema was never created or is out of date."""
    orig = getattr(err, "orig", err)
    text = f"{type(orig).__name__} {orig}".lower()
    return ("no such table" in text or "no such column" in text or "undefinedtable" in text
            or "undefinedcolumn" in text)


def schema_missing_response():
    """Render the page that tells an operator to run the migrations."""
    log.error("%s %s: the database schema is missing or out of date; run "
              "`flask --app wsgi db upgrade`", request.method, request.path)
    return render_error(503, "database_not_migrated", "The tool's database is not set up",
                        "The database has no tables yet, or they are older than this "
                        "version of the tool.",
                        hint="An administrator runs: flask --app wsgi db upgrade")


def _retry_after_seconds() -> int:
    """Return how long the rate limit that just refused this request lasts (whole seconds)."""
    from lti_tool.extensions import limiter
    reset_at = g.get(RATE_LIMIT_RESET_KEY)  # a view's own limit (rate_limits.check_limit)
    if reset_at is None:
        current = getattr(limiter, "current_limit", None)  # Flask-Limiter's decorator
        if current is None:
            return 60
        reset_at = current.reset_at
    return max(1, int(reset_at - time.time()) + 1)


def init_app(app: Flask) -> None:
    """Register one set of handlers that renders every error the same way."""

    @app.errorhandler(ToolError)
    def handle_tool_error(err: ToolError):
        log.warning("%s %s -> %s %s: %s", request.method, request.path, err.http_status,
                    err.code, err.message)
        return render_error(err.http_status, err.code, err.title, err.message, err.hint,
                            err.headers)

    @app.errorhandler(429)
    def handle_rate_limited(err: HTTPException):
        wait = _retry_after_seconds()
        log.warning("%s %s -> 429 rate limited (%s); retry after %ss", request.method,
                    request.path, err.description, wait)
        return render_error(429, "rate_limited", "Too many requests",
                            f"Too many requests of this kind ({err.description}). Please "
                            f"wait {wait} seconds and try again.",
                            headers={"Retry-After": str(wait)})

    @app.errorhandler(HTTPException)
    def handle_http_error(err: HTTPException):
        status = err.code or 500
        if status >= 500:
            log.error("%s %s -> %s", request.method, request.path, status)
        else:
            log.info("%s %s -> %s", request.method, request.path, status)
        return render_error(status, (err.name or "error").lower().replace(" ", "_"),
                            err.name or "Error", err.description or "")

    @app.errorhandler(DBAPIError)
    def handle_database_error(err: DBAPIError):
        from lti_tool.extensions import db
        db.session.rollback()
        if is_schema_missing(err):
            return schema_missing_response()
        return handle_unexpected(err)

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return render_error(500, "internal_error", "Something went wrong on our side",
                            "The error has been logged. Please try again in a moment; "
                            "nothing you sent has been lost.")
