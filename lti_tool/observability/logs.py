"""Log lines with a request id: plain text by default, one JSON object per line with
LOG_FORMAT=json (for log collectors).

Each request gets an id: the X-Request-Id a proxy sent (when it is a sane token), else a
new one. It is on every log line written while the request runs and goes back in the
answer's X-Request-Id header, so a user's report, the proxy's log and the tool's log meet.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-Id"
NO_REQUEST = "-"
# What a proxy may hand us as an id: short, no spaces or quotes that could forge log lines.
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def request_id_for(given: str) -> str:
    """Return the id a request keeps: the one a proxy gave when it is sane, else a new one."""
    return given if SANE_ID.fullmatch(given) else uuid.uuid4().hex


def current_request_id() -> str:
    """Return this request's id ('-' outside a request)."""
    if not has_request_context():
        return NO_REQUEST
    if "request_id" not in g:
        g.request_id = request_id_for(request.headers.get(HEADER, ""))
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Put the request id on every record (`%(request_id)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """Write one JSON object per record: time, level, logger, message, request id, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc)
                 .isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name,
                 "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", NO_REQUEST)}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str, log_format: str) -> None:
    """Set up the root logger's one handler, unless the host program configured logging."""
    root = logging.getLogger()
    if root.handlers:
        for handler in root.handlers:  # keep the request id available to their formats
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter(PLAIN_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)


def _return_id(response):
    response.headers[HEADER] = current_request_id()
    return response


def init_app(app: Flask) -> None:
    """Give every answer its request id."""
    app.after_request(_return_id)
