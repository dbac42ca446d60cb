"""static/js/api.js, the one way pages call the tool, over real HTTP: Node's fetch (the same
Fetch API as the browser's) calls a small local server that answers as scripted.

Every failure comes back in one shape (kind, status, code, message, hint, retryAfterMs);
a busy server's Retry-After is waited out a bounded number of times, or reported at once.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

API_JS = Path(__file__).resolve().parents[1] / "static" / "js" / "api.js"
NODE = shutil.which("node")
NODE_TIMEOUT_SECONDS = 60
LAUNCH = "launch-123"

# Runs one call of ApiClient (or a function of api.js) and prints what came of it.
SCRIPT = """
import { readFileSync } from "node:fs";
import * as api from %s;
const plan = JSON.parse(readFileSync(0, "utf8"));
const waits = [];
const started = Date.now();
const out = (value) => process.stdout.write(JSON.stringify(
  {...value, waits, elapsedMs: Date.now() - started}));
if (plan.parse !== undefined) {
  out({value: plan.parse.map((v) => api.parseRetryAfter(v, plan.now))});
} else {
  const client = new api.ApiClient(%s, plan.timeoutMs ? {timeoutMs: plan.timeoutMs} : {});
  const options = {...(plan.options || {}), onBusy: (ms) => waits.push(ms)};
  if (plan.busy) options.busy = api.BusyPolicy[plan.busy];
  client.request(plan.method || "GET", plan.url, options).then(
    (data) => out({data}),
    (e) => out({error: {isApiError: e instanceof api.ApiError, kind: e.kind, status: e.status,
                        code: e.code, message: e.message, hint: e.hint,
                        retryAfterMs: e.retryAfterMs, busy: e.busy}}));
}
"""


class Scripted:
    """A local HTTP server that gives the scripted answers in order and records requests."""

    def __init__(self):
        self.answers: list[tuple] = []
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                owner.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers),
                                       "body": self.rfile.read(length).decode()})
                status, headers, body, delay = owner.answers.pop(0)
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/thing"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, body="", headers=None, delay: float = 0.0):
        if not isinstance(body, str):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.answers.append((status, headers or {}, body, delay))
        return self


@pytest.fixture
def server():
    scripted = Scripted()
    yield scripted
    scripted.server.shutdown()
    scripted.server.server_close()


def run(plan: dict) -> dict:
    """Carry out one call of api.js under Node and return what came of it."""
    if NODE is None:
        pytest.fail("node is not installed; the README's setup installs it.")
    script = SCRIPT % (json.dumps(API_JS.as_uri()), json.dumps(LAUNCH))
    done = subprocess.run([NODE, "--input-type=module", "-e", script], input=json.dumps(plan),
                          capture_output=True, text=True, timeout=NODE_TIMEOUT_SECONDS,
                          env={**os.environ, "NO_PROXY": "127.0.0.1"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


SERVER_ERROR = {"error": {"code": "upload_closed", "message": "The assignment is closed.",
                          "hint": "Ask your instructor."}}


def test_a_call_sends_the_launch_and_json_and_reads_json(server):
    server.answer(200, {"ok": True, "n": 3})
    result = run({"url": server.url, "method": "POST", "options": {"json": {"a": 1}}})
    assert result["data"] == {"ok": True, "n": 3}
    (sent,) = server.requests
    assert sent["method"] == "POST" and json.loads(sent["body"]) == {"a": 1}
    assert sent["headers"]["X-LTI-Launch"] == LAUNCH
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["headers"]["Accept"] == "application/json"
    assert sent["headers"]["X-Requested-With"] == "fetch"


def test_the_servers_error_comes_back_with_its_code_message_and_hint(server):
    server.answer(409, SERVER_ERROR)
    error = run({"url": server.url})["error"]
    assert error == {"isApiError": True, "kind": "http", "status": 409, "code": "upload_closed",
                     "message": "The assignment is closed.", "hint": "Ask your instructor.",
                     "retryAfterMs": None, "busy": False}


def test_an_error_page_that_is_not_json_has_the_same_shape(server):
    server.answer(502, "<html>Bad gateway</html>", {"Content-Type": "text/html"})
    error = run({"url": server.url})["error"]
    assert error["isApiError"] and error["kind"] == "http" and error["status"] == 502
    assert error["code"] == "http_502" and error["hint"] == ""
    assert error["message"] == "The server answered with an error (HTTP 502)."


def test_a_success_that_is_not_json_is_an_unreadable_answer(server):
    server.answer(200, "<html>Sign in</html>", {"Content-Type": "text/html"})
    error = run({"url": server.url})["error"]
    assert error["isApiError"] and error["kind"] == "bad_answer" and error["code"] == "bad_answer"
    assert error["status"] == 200 and "could not be read" in error["message"]


def test_no_answer_at_all_is_a_network_error(server):
    url = server.url
    server.server.shutdown()
    server.server.server_close()
    error = run({"url": url})["error"]
    assert error["isApiError"] and error["kind"] == "network" and error["status"] == 0
    assert error["code"] == "network_error"
    assert error["message"] == "The tool could not be reached. Check your connection and try again."


def test_an_answer_after_the_deadline_is_a_timeout(server):
    server.answer(200, {"late": True}, delay=1.5)
    result = run({"url": server.url, "timeoutMs": 300})
    assert result["error"]["isApiError"] and result["error"]["kind"] == "timeout"
    assert result["error"]["code"] == "timeout"
    assert result["elapsedMs"] < 1400


def test_a_busy_server_is_waited_out_for_its_retry_after(server):
    server.answer(429, {"error": {"code": "rate_limited", "message": "Too many."}},
                  {"Retry-After": "1"})
    server.answer(200, {"ok": True})
    result = run({"url": server.url, "method": "POST", "options": {"json": {"a": 1}}})
    assert result["data"] == {"ok": True}
    assert result["waits"] == [1000] and result["elapsedMs"] >= 1000
    assert [r["body"] for r in server.requests] == ['{"a":1}', '{"a":1}']


def test_a_busy_server_given_an_http_date_is_waited_out_too(server):
    server.answer(503, {"error": {"code": "busy", "message": "Busy."}},
                  {"Retry-After": formatdate(time.time() + 2, usegmt=True)})
    server.answer(200, {"ok": True})
    result = run({"url": server.url})
    assert result["data"] == {"ok": True}
    assert len(result["waits"]) == 1 and 0 < result["waits"][0] <= 2000


def test_waiting_is_bounded(server):
    for _ in range(3):
        server.answer(503, {"error": {"code": "busy", "message": "Busy."}}, {"Retry-After": "0"})
    error = run({"url": server.url})["error"]
    assert error["status"] == 503 and error["busy"] and error["retryAfterMs"] == 0
    assert len(server.requests) == 3  # the call and two more after waiting


def test_a_wait_longer_than_the_bound_is_reported_not_waited(server):
    server.answer(429, {"error": {"code": "rate_limited", "message": "Wait a minute."}},
                  {"Retry-After": "60"})
    result = run({"url": server.url})
    assert result["error"]["retryAfterMs"] == 60000 and result["error"]["busy"]
    assert result["error"]["message"] == "Wait a minute."
    assert result["waits"] == [] and len(server.requests) == 1


def test_a_call_may_ask_to_see_the_wait_at_once(server):
    server.answer(429, {"error": {"code": "rate_limited", "message": "Too many."}},
                  {"Retry-After": "2"})
    result = run({"url": server.url, "busy": "REPORT"})
    assert result["error"]["retryAfterMs"] == 2000 and result["error"]["status"] == 429
    assert result["waits"] == [] and len(server.requests) == 1


def test_other_errors_are_not_sent_again(server):
    server.answer(500, {"error": {"code": "oops", "message": "Broken."}}, {"Retry-After": "1"})
    error = run({"url": server.url})["error"]
    assert error["status"] == 500 and not error["busy"] and len(server.requests) == 1


def test_retry_after_is_delta_seconds_or_an_http_date():
    now = 1_700_000_000_000
    values = ["3", " 7 ", "0", "Tue, 14 Nov 2023 22:13:30 GMT", "1.5", "-1", "soon", "", None]
    assert run({"parse": values, "now": now})["value"] == \
        [3000, 7000, 0, 10000, None, None, None, None, None]
