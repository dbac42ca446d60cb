"""The tus endpoint over real HTTP: tuspy against the live server, resume after a server
killed with SIGKILL (gunicorn, gthread worker), and memory that does not grow with the body.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from tusclient import client as tus_client

from lti_tool.extensions import db
from lti_tool.models import Upload, Video
from lti_tool.statuses import FINAL_VIDEO_STATES, VideoStatus
from lti_tool.storage.local.backend import LocalStorage
from lti_tool.tus.protocol import OFFSET_OCTET_STREAM, UPLOAD_OFFSET
from tests.uploading import TusClient, room, sample_mp4, sha256_of, tus_headers  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def _stored_file(app, video_id) -> Path:
    with app.app_context():
        video = db.session.get(Video, video_id)
        return LocalStorage(app.config).media_path(video.storage_uid)


def _start(base_url, launch_id, size, filename="clip.mp4") -> dict:
    import requests
    resp = requests.post(f"{base_url}/api/uploads", json={
        "filename": filename, "size_bytes": size, "content_type": "video/mp4"},
        headers={"X-LTI-Launch": launch_id}, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_tuspy_uploads_in_chunks_and_resumes_byte_exact(app, live_server, room, sample_mp4):
    launch = room.launch(room.student)
    data = sample_mp4.read_bytes()
    ticket = _start(live_server.url, launch.id, len(data))
    client = tus_client.TusClient(f"{live_server.url}/tus/", headers={"X-LTI-Launch": launch.id})
    first = client.uploader(file_path=str(sample_mp4), chunk_size=4096, upload_checksum=True,
                            metadata={"video_id": str(ticket["video_id"]),
                                      "filename": "clip.mp4"})
    first.upload(stop_at=8192)  # the connection "drops" after two chunks
    assert first.offset == 8192
    resumed = client.uploader(file_path=str(sample_mp4), url=first.url, chunk_size=4096)
    assert resumed.offset == 8192  # from HEAD
    resumed.upload()
    assert sha256_of(_stored_file(app, ticket["video_id"])) == sha256_of(sample_mp4)
    with app.app_context():
        assert db.session.get(Video, ticket["video_id"]).status == VideoStatus.READY


def test_tuspy_gets_the_protocol_errors_over_http(live_server, room):
    import requests
    launch = room.launch(room.student)
    ticket = _start(live_server.url, launch.id, 100)
    h = tus_headers(launch, **{"Upload-Length": str(100),
                               "Upload-Metadata": "video_id " + __import__("base64")
                               .b64encode(str(ticket["video_id"]).encode()).decode()})
    created = requests.post(f"{live_server.url}/tus/", headers=h, timeout=10)
    assert created.status_code == 201
    url = created.headers["Location"]
    patch = dict(tus_headers(launch), **{"Content-Type": OFFSET_OCTET_STREAM,
                                         UPLOAD_OFFSET: "5"})
    assert requests.patch(url, data=b"x", headers=patch, timeout=10).status_code == 409
    patch[UPLOAD_OFFSET] = "0"
    too_much = requests.patch(url, data=b"x" * 101, headers=patch, timeout=10)
    assert too_much.status_code == 413
    assert requests.head(url, headers={"X-LTI-Launch": launch.id}, timeout=10).status_code == 412


# --- a server killed in the middle of a PATCH ----------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """The app under gunicorn with one gthread worker, in its own process group."""

    def __init__(self, app, port: int):
        self.port = port
        self.env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                        LOCAL_STORAGE_DIR=app.config["LOCAL_STORAGE_DIR"],
                        SECRET_KEY=app.config["SECRET_KEY"], SCHEDULER_ENABLED="0",
                        LTI_KEYS_DIR=app.config["LTI_KEYS_DIR"], PROXY_COUNT="0",
                        # No worker runs beside it: process in the request (tus, not
                        # processing, is under test here).
                        PROCESSING_QUEUE="immediate", PYTHONPATH=str(ROOT))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "4",
             "--workers", "1", "--timeout", "60", "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=self.env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(os.environ.get("GUNICORN_LOG", os.devnull), "ab"))
        deadline = time.time() + 30
        while time.time() < deadline:  # ready when a worker answers, not when it listens
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError("gunicorn did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # master and worker, no clean-up
            self.proc.wait(timeout=10)


@pytest.fixture
def gunicorn(app):
    servers = []

    def start():
        server = Gunicorn(app, servers[0].port if servers else _free_port()).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


def _head_offset(port, path, launch_id) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("HEAD", path, headers=tus_headers(launch_id))
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200, resp.status
    return int(resp.getheader(UPLOAD_OFFSET))


def test_resume_after_the_server_is_killed_mid_patch(app, room, gunicorn, sample_mp4,
                                                     tmp_path):
    launch = room.launch(room.student)
    source = tmp_path / "big.mp4"  # a real video padded to 8 MiB
    source.write_bytes(sample_mp4.read_bytes() + os.urandom(8 * MIB - sample_mp4.stat().st_size))
    data = source.read_bytes()
    server = gunicorn()
    base = f"http://127.0.0.1:{server.port}"
    ticket = _start(base, launch.id, len(data))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    meta = "video_id " + __import__("base64").b64encode(str(ticket["video_id"]).encode()).decode()
    conn.request("POST", "/tus/", headers=tus_headers(launch, **{
        "Upload-Length": str(len(data)), "Upload-Metadata": meta}))
    created = conn.getresponse()
    created.read()
    path = "/tus/" + created.getheader("Location").rsplit("/", 1)[1]

    # Send 3 MiB of an 8 MiB body, wait for them to reach the disk, then kill -9.
    conn.putrequest("PATCH", path)
    for k, v in tus_headers(launch, **{"Content-Type": OFFSET_OCTET_STREAM,
                                       UPLOAD_OFFSET: "0",
                                       "Content-Length": str(len(data))}).items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(data[:3 * MIB])
    deadline = time.time() + 20
    while _head_offset(server.port, path, launch.id) < 3 * MIB and time.time() < deadline:
        time.sleep(0.1)
    server.kill()
    conn.close()

    server = gunicorn()  # a fresh process: nothing in memory survived
    offset = _head_offset(server.port, path, launch.id)
    assert offset == 3 * MIB
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("PATCH", path, body=data[offset:], headers=tus_headers(launch, **{
        "Content-Type": OFFSET_OCTET_STREAM, UPLOAD_OFFSET: str(offset)}))
    done = conn.getresponse()
    done.read()
    assert done.status == 204 and int(done.getheader(UPLOAD_OFFSET)) == len(data)
    assert sha256_of(_stored_file(app, ticket["video_id"])) == sha256_of(source)
    with app.app_context():
        video = db.session.get(Video, ticket["video_id"])
        assert video.status in FINAL_VIDEO_STATES
        assert db.session.scalar(db.select(Upload)).completed_at is not None


def test_a_second_concurrent_patch_is_refused_not_interleaved(app, room, live_server):
    launch = room.launch(room.student)
    ticket = _start(live_server.url, launch.id, 4 * MIB)
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    meta = "video_id " + __import__("base64").b64encode(str(ticket["video_id"]).encode()).decode()
    conn.request("POST", "/tus/", headers=tus_headers(launch, **{
        "Upload-Length": str(4 * MIB), "Upload-Metadata": meta}))
    created = conn.getresponse()
    created.read()
    path = "/tus/" + created.getheader("Location").rsplit("/", 1)[1]
    slow = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    slow.putrequest("PATCH", path)
    for k, v in tus_headers(launch, **{"Content-Type": OFFSET_OCTET_STREAM, UPLOAD_OFFSET: "0",
                                       "Content-Length": str(4 * MIB)}).items():
        slow.putheader(k, v)
    slow.endheaders()
    slow.send(b"a" * MIB)  # the first PATCH holds the lock while it waits for more
    time.sleep(0.5)
    second = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    second.request("PATCH", path, body=b"b" * 10, headers=tus_headers(launch, **{
        "Content-Type": OFFSET_OCTET_STREAM, UPLOAD_OFFSET: "0"}))
    refused = second.getresponse()
    refused.read()
    assert refused.status in (409, 423)
    slow.send(b"a" * 3 * MIB)
    finished = slow.getresponse()
    finished.read()
    assert finished.status == 204
    stored = _stored_file(app, ticket["video_id"]).read_bytes()
    assert stored == b"a" * 4 * MIB


# --- memory ------------------------------------------------------------------------------------

class Zeros:
    """A request body of `size` bytes produced on demand, never held whole."""

    def __init__(self, size: int):
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)

    def readinto(self, buf) -> int:
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


def test_a_200_mib_patch_uses_a_few_mib_of_memory(app, client, room):
    size = 200 * MIB
    tus = TusClient(client, room.launch(room.student))
    ticket = tus.start(filename="big.mp4", size=size)
    location = tus.create(ticket["video_id"], size).headers["Location"]
    path = "/tus/" + location.rsplit("/", 1)[1]
    tracemalloc.start()
    try:
        resp = client.patch(path, headers=tus_headers(tus.launch, **{
            "Content-Type": OFFSET_OCTET_STREAM, UPLOAD_OFFSET: "0"}),
            environ_overrides={"wsgi.input": Zeros(size), "CONTENT_LENGTH": str(size)})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert resp.status_code == 204 and resp.headers[UPLOAD_OFFSET] == str(size)
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB"
