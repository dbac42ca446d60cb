"""A WSGI fast path for the PATCH of a chunk: `PATCH /tus/<id>` without Flask's routing,
session, hooks and ORM loading of the launch and its user. It is a second door into tus
uploads, kept because it saves about a third of the worker's CPU per GiB at 1-8 MiB chunks
(bench/README.md, "The tus fast path: worth a second door?"); TUS_FAST_PATCH=0 takes it
out. Who may write is decided by the view's own function, `uploads.owned_upload`, and
tests/test_tus_access.py runs every PATCH case through both doors.

It serves only the plain case, which it can answer exactly as the Flask view would: tus
1.0.0, Content-Type application/offset+octet-stream, a valid Upload-Offset, the launch in
the X-LTI-Launch header, no NUL there or in the path (Flask's hook refuses those), and a
live launch whose user owns the unexpired, unfinished upload of known length (no
Upload-Length header: a deferred length is told to the view), found in one query; and
only a PATCH that cannot finish the upload (a known Content-Length ending before the
upload's end), so completion (video checks, signals, audit) always runs in the Flask
view. Every other request, including every refusal before the body is read, goes to
Flask unchanged. Errors raised while writing are rendered by the app's own error
handlers and after-request hooks. Each PATCH served here is counted for /metrics as the
view's would be (lti_tool.observability.metrics: the request under the view's route, and
its bytes), since Flask's hooks never see it.
"""
from __future__ import annotations

import re
import time
from typing import Callable, Iterable

from flask import Flask
from werkzeug.http import http_date, parse_options_header
from werkzeug.wsgi import get_content_length, get_input_stream

from lti_tool.access.launches import LAUNCH_HEADER
from lti_tool.extensions import db
from lti_tool.models import Upload, utcnow
from lti_tool.observability import logs, metrics
from lti_tool.tus import uploads as service
from lti_tool.tus.body import body_reader
from lti_tool.tus.protocol import OFFSET_OCTET_STREAM, TUS_VERSION, UPLOAD_EXPIRES, UPLOAD_OFFSET
from lti_tool.web.proxies import PROXY_LAYERS
from lti_tool.web.request_input import NUL
from lti_tool.web.security_headers import HEADERS as SECURITY_HEADERS

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

_PATH = re.compile(r"/tus/([^/]{1,64})")
_DIGITS = re.compile(r"\d{1,19}")
_TUS_RESUMABLE = "HTTP_TUS_RESUMABLE"
_LAUNCH = "HTTP_" + LAUNCH_HEADER.upper().replace("-", "_")  # the header as WSGI names it
_OFFSET = "HTTP_UPLOAD_OFFSET"
_CHECKSUM = "HTTP_UPLOAD_CHECKSUM"
_LENGTH = "HTTP_UPLOAD_LENGTH"  # a deferred length told (or contradicted): the view's
_REQUEST_ID = "HTTP_" + logs.HEADER.upper().replace("-", "_")
SERVED_KEY = "lti_tool.tus.fast_patch"  # set in the environ of each PATCH served here


class FastPatch:
    """WSGI middleware: serve a non-final chunk PATCH directly, pass the rest to Flask."""

    def __init__(self, app: Flask, inner: WSGIApp, protocol_headers: Callable[[], dict]):
        self.app, self.inner, self.protocol_headers = app, inner, protocol_headers
        self.served = 0  # PATCHes answered here (tests and benchmarks read it)
        self._route = ""  # the Flask view's URL rule, the label /metrics counts PATCHes by

    def __call__(self, environ: dict, start_response):
        if environ.get("REQUEST_METHOD") != "PATCH":
            return self.inner(environ, start_response)
        match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
        offset = environ.get(_OFFSET, "")
        launch_id = environ.get(_LAUNCH, "")
        content_length = get_content_length(environ)
        if (match is None or environ.get(_TUS_RESUMABLE) != TUS_VERSION
                or not 0 < len(launch_id) <= 64 or NUL in launch_id or NUL in match.group(1)
                or not _DIGITS.fullmatch(offset)
                or content_length is None or _LENGTH in environ
                or parse_options_header(environ.get("CONTENT_TYPE", ""))[0].lower()
                != OFFSET_OCTET_STREAM):
            return self.inner(environ, start_response)
        with self.app.app_context():
            upload = service.owned_upload(match.group(1), launch_id=launch_id)
            if (upload is None or upload.completed_at is not None
                    or upload.expires_at < utcnow()
                    or upload.length is None  # deferred: its Upload-Length is the view's
                    or int(offset) + content_length >= upload.length):
                db.session.rollback()
                response = None  # refusals and the final PATCH: the Flask view
            else:
                response = self._write(environ, upload, int(offset), content_length)
        if response is None:
            return self.inner(environ, start_response)
        return response(environ, start_response)

    def _write(self, environ: dict, upload: Upload, offset: int, content_length: int):
        from lti_tool.tus.views import parse_checksum
        started = time.perf_counter()
        try:
            checksum = parse_checksum(environ.get(_CHECKSUM))
            stream = get_input_stream(environ, max_content_length=None)
            progress = service.write(upload, body_reader(environ, stream), offset,
                                     content_length, checksum)
        except Exception as err:  # rendered as the Flask view's error would be
            db.session.rollback()
            with self.app.request_context(environ) as ctx:
                ctx.match_request()  # so the after-request hooks (metrics) see the route
                return self.app.finalize_request(self.app.handle_user_exception(err))
        headers = {**self.protocol_headers(), UPLOAD_OFFSET: str(progress.offset)}
        if progress.unfinished:
            headers[UPLOAD_EXPIRES] = http_date(progress.expires_at)
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        headers["Vary"] = "Cookie"  # as Flask says of every answer (flask-login reads the session)
        headers[logs.HEADER] = logs.request_id_for(environ.get(_REQUEST_ID, ""))
        self.served += 1
        environ[SERVED_KEY] = True
        metrics.count_request(self._rule(environ), "PATCH", 204, time.perf_counter() - started)
        return self.app.response_class("", 204, headers)


    def _rule(self, environ: dict) -> str:
        """Return the URL rule of the Flask view this PATCH bypassed (looked up once)."""
        if not self._route:
            rule, _ = self.app.url_map.bind("fast-path").match(
                environ["PATH_INFO"], method="PATCH", return_rule=True)
            self._route = rule.rule
        return self._route


def install(app: Flask, protocol_headers: Callable[[], dict]) -> None:
    """Put the fast path in front of Flask (inside the proxy middleware, which must see
    requests first)."""
    if isinstance(app.wsgi_app, PROXY_LAYERS):
        app.wsgi_app.app = fast = FastPatch(app, app.wsgi_app.app, protocol_headers)
    else:
        app.wsgi_app = fast = FastPatch(app, app.wsgi_app, protocol_headers)
    app.extensions["tus_fast_patch"] = fast
