"""The WSGI fast path for chunk PATCHes (lti_tool/tus/fast.py): it serves the plain case
with the same answer as the Flask view, also under gunicorn. Which door serves or refuses
each PATCH, the owner's, a stranger's, a bad one or the final one, is checked with the fast
path on and off in tests/test_tus_access.py."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time

import pytest

from lti_tool import create_app
from lti_tool.extensions import db
from lti_tool.tus.fast import SERVED_KEY
from lti_tool.tus.protocol import OFFSET_OCTET_STREAM, TUS_RESUMABLE, TUS_VERSION, UPLOAD_OFFSET
from tests.test_tus_live import ROOT, Gunicorn, _free_port
from tests.tus_doors import app_config, both_doors, doors, tus_fast_patch  # noqa: F401
from tests.uploading import Room, TusClient, _path, room  # noqa: F401

# The expiry slides with the clock; each answer carries its own request id.
VARYING = {"Date", "Upload-Expires", "X-Request-Id"}


def _open(client, room, size=100):
    tus = TusClient(client, room.launch(room.student))
    ticket = tus.start(size=size)
    return tus, tus.create(ticket["video_id"], size).headers["Location"]


@pytest.fixture
def flask_only(app_config):
    """The same app without the fast path, and its own classroom."""
    app = create_app({**app_config, "TUS_FAST_PATCH": False})
    with app.app_context():
        db.create_all()
    return app


def _compare(resp_fast, resp_flask):
    assert resp_fast.status_code == resp_flask.status_code
    assert resp_fast.get_data() == resp_flask.get_data()
    fast = {k: v for k, v in resp_fast.headers.items() if k not in VARYING}
    flask = {k: v for k, v in resp_flask.headers.items() if k not in VARYING}
    assert fast == flask
    assert (UPLOAD_OFFSET in resp_fast.headers) == (UPLOAD_OFFSET in resp_flask.headers)
    assert "X-Request-Id" in resp_fast.headers and "X-Request-Id" in resp_flask.headers
    assert ("Upload-Expires" in resp_fast.headers) == ("Upload-Expires" in resp_flask.headers)


def test_a_chunk_is_served_by_the_fast_path_with_the_views_answer(client, room, doors,
                                                                  flask_only):
    tus, location = _open(client, room)
    with doors.fast_path():
        fast = tus.patch(location, b"a" * 40, 0)
    assert fast.status_code == 204 and fast.headers[UPLOAD_OFFSET] == "40"
    assert "Upload-Expires" in fast.headers

    other_room = Room(flask_only)
    other_client = flask_only.test_client()
    slow_tus, slow_location = _open(other_client, other_room)
    _compare(fast, slow_tus.patch(slow_location, b"a" * 40, 0))

    # A wrong offset is found under the lock, after the fast path took the request:
    # rendered by the app's own handlers, the same JSON and headers as the view's.
    _compare(tus.patch(location, b"b" * 10, 5), slow_tus.patch(slow_location, b"b" * 10, 5))
    assert tus.patch(location, b"b" * 10, 5).get_json()["error"]["code"] == \
        "tus_offset_mismatch"
    # A bad checksum is refused and the part discarded, the same way on both paths.
    bad = {"Upload-Checksum": "sha1 " + "A" * 27 + "="}
    _compare(tus.patch(location, b"c" * 10, 40, **bad),
             slow_tus.patch(slow_location, b"c" * 10, 40, **bad))
    assert tus.head(location).headers[UPLOAD_OFFSET] == "40"


HOOK = """
def post_request(worker, req, environ, resp):
    if environ["REQUEST_METHOD"] == "PATCH":
        with open({out!r}, "a") as f:
            f.write(("fast" if environ.get({key!r}) else "flask") + "\\n")
"""


def test_gunicorn_serves_chunks_on_the_fast_path(app, room, tmp_path):
    out, conf = tmp_path / "patches.txt", tmp_path / "hook.conf.py"
    conf.write_text(HOOK.format(out=str(out), key=SERVED_KEY))
    server = Gunicorn(app, _free_port())
    launch = room.launch(room.student)
    with app.test_client() as client:
        tus = TusClient(client, launch)
        ticket = tus.start(size=30)
        location = tus.create(ticket["video_id"], 30).headers["Location"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(conf), "--worker-class", "gthread",
         "--workers", "1", "-b", f"127.0.0.1:{server.port}", "wsgi:app"],
        cwd=ROOT, env=server.env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        statuses = []
        for offset in (0, 10, 20):
            for _ in range(150):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                    conn.request("PATCH", _path(location), body=b"q" * 10, headers={
                        TUS_RESUMABLE: TUS_VERSION, UPLOAD_OFFSET: str(offset),
                        "Content-Type": OFFSET_OCTET_STREAM, "X-LTI-Launch": launch.id})
                    statuses.append(conn.getresponse().status)
                    break
                except OSError:
                    time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert statuses == [204, 204, 204]
    assert out.read_text().split() == ["fast", "fast", "flask"]  # the last one finishes


def _metric(client, name: str, **labels) -> float:
    """Read one sample from the /metrics page (as Prometheus would)."""
    from prometheus_client.parser import text_string_to_metric_families
    page = client.get("/metrics", headers={"Authorization": "Bearer metrics-token"}).text
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


@both_doors
def test_a_chunk_is_counted_on_metrics_through_either_door(app, client, room, doors):
    app.config["METRICS_TOKEN"] = "metrics-token"
    tus, location = _open(client, room)
    labels = {"route": "/tus/<upload_id>", "method": "PATCH", "status": "204"}
    requests_before = _metric(client, "lti_http_requests_total", **labels)
    bytes_before = _metric(client, "lti_tus_received_bytes_total")
    with doors.fast_path():
        assert tus.patch(location, b"a" * 40, 0).status_code == 204
    assert _metric(client, "lti_http_requests_total", **labels) == requests_before + 1
    assert _metric(client, "lti_tus_received_bytes_total") == bytes_before + 40
    assert tus.patch(location, b"b" * 60, 40).status_code == 204  # the last: the view's
    assert _metric(client, "lti_http_requests_total", **labels) == requests_before + 2
    assert _metric(client, "lti_tus_received_bytes_total") == bytes_before + 100
