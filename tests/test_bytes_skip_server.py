"""Proof that in production the video never touches the tool: upload through each cloud
backend over real HTTP, doing exactly what the browser does, with the tool's WSGI app
wrapped in a middleware that records every request's path and the bytes its body carried.
"""
from __future__ import annotations

import io
import json
import os
import threading

import pytest
import requests
from tusclient import client as tus

from tests.conftest import LiveServer
from tests.factories import Classroom

from . import cloudflare_fake as cf
from .cloudflare_fake import fake_stream  # noqa: F401  (fixture)
from .s3_server import moto_server, s3_bucket, s3_settings  # noqa: F401
from .uploading import sample_mp4, video_of  # noqa: F401  (fixtures)

MIB = 1024 * 1024
MAX_REQUEST_BYTES = 4096  # the largest JSON body the tool may receive


class CountingInput:
    """Wrap wsgi.input, counting the bytes the app actually reads."""

    def __init__(self, stream, record):
        self.stream, self.record = stream, record

    def read(self, *args):
        data = self.stream.read(*args)
        self.record["read"] += len(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.record["read"] += len(data)
        return data

    def __iter__(self):
        return iter(self.readline, b"")


class RequestRecorder:
    """WSGI middleware: note each request's path, declared length and bytes read."""

    def __init__(self, app):
        self.app = app
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        record = {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
                  "declared": int(environ.get("CONTENT_LENGTH") or 0), "read": 0}
        environ["wsgi.input"] = CountingInput(environ["wsgi.input"], record)
        with self.lock:
            self.requests.append(record)
        return self.app(environ, start_response)

    def biggest(self) -> int:
        return max(max(r["declared"], r["read"]) for r in self.requests)

    def total(self) -> int:
        return sum(max(r["declared"], r["read"]) for r in self.requests)


@pytest.fixture
def recorded(app):
    """Serve the app over HTTP behind the recorder; yield (base URL, recorder, headers)."""
    with app.app_context():
        room = Classroom()
        headers = Classroom.headers(room.launch(room.student))
    recorder = RequestRecorder(app.wsgi_app)
    app.wsgi_app = recorder
    server = LiveServer(app).start()
    yield server.url, recorder, headers
    server.stop()


def assert_no_video_bytes(recorder: RequestRecorder, size: int) -> None:
    assert recorder.requests, "the tool saw no request at all"
    assert recorder.biggest() <= MAX_REQUEST_BYTES, recorder.requests
    assert recorder.total() < size / 1000, (recorder.total(), size)


def start(url, headers, name, size) -> dict:
    resp = requests.post(f"{url}/api/uploads", json={"filename": name, "size_bytes": size,
                                                     "content_type": "video/mp4"},
                         headers=headers, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()


def wait_final(url, headers, ticket) -> dict:
    status = requests.get(url + ticket["status_url"], headers=headers, timeout=30).json()
    assert status["final"], status
    return status


class TestS3:
    @pytest.fixture
    def app_config(self, app_config, moto_server, s3_bucket):
        app_config.update(s3_settings(moto_server, s3_bucket))
        return app_config

    def test_parts_go_to_the_bucket_not_the_tool(self, recorded, moto_server, video_of):
        url, recorder, headers = recorded
        data = video_of(20 * MIB + 5)  # a real video: the processing job probes it
        ticket = start(url, headers, "pitch.mp4", len(data))
        api = url + ticket["complete_url"].replace("/complete", "/multipart")
        size = ticket["chunk_size"]
        numbers = list(range(1, -(-len(data) // size) + 1))
        signed = requests.post(api + "/sign", json={"part_numbers": numbers}, headers=headers,
                               timeout=30).json()
        parts = []
        for part in signed["parts"]:
            assert part["url"].startswith(moto_server)
            n = part["part_number"]
            resp = requests.put(part["url"], data=data[(n - 1) * size: n * size], timeout=60)
            parts.append({"part_number": n, "etag": resp.headers["ETag"]})
        done = requests.post(api + "/complete", json={"parts": parts}, headers=headers,
                             timeout=30)
        assert done.status_code == 200, done.text
        requests.post(url + ticket["complete_url"], headers=headers, timeout=30)
        assert wait_final(url, headers, ticket)["status"] == "ready"
        # Playback comes from the bucket too.
        grant = requests.get(f"{url}/api/videos/{ticket['video_id']}/playback", headers=headers,
                             timeout=30).json()
        assert grant["url"].startswith(moto_server)
        assert requests.get(grant["url"], timeout=60).content == data
        assert_no_video_bytes(recorder, len(data))


class TestCloudflare:
    @pytest.fixture
    def app_config(self, app_config, fake_stream):
        app_config.update(cf.settings(CLOUDFLARE_API_BASE=fake_stream.api_base))
        return app_config

    def test_tus_goes_to_stream_not_the_tool(self, recorded, fake_stream):
        url, recorder, headers = recorded
        data = os.urandom(12 * MIB + 7)
        ticket = start(url, headers, "pitch.mp4", len(data))
        assert ticket["method"] == "tus" and ticket["endpoint"].startswith(fake_stream.url)
        uploader = tus.TusClient(ticket["endpoint"]).uploader(
            file_stream=io.BytesIO(data), url=ticket["endpoint"], chunk_size=ticket["chunk_size"])
        uploader.upload()
        requests.post(url + ticket["complete_url"], headers=headers, timeout=30)
        # Cloudflare reports the result by webhook: a small signed JSON body.
        (uid,) = fake_stream.videos
        body = json.dumps(cf.video_body(uid)).encode()
        hook = requests.post(f"{url}/webhooks/cloudflare-stream", data=body, timeout=30,
                             headers={"Webhook-Signature": cf.sign_webhook(body)})
        assert hook.status_code == 200
        assert wait_final(url, headers, ticket)["status"] == "ready"
        assert fake_stream.videos[uid]["data"] == data
        received = sum(n for m, p, n in fake_stream.requests if m == "PATCH")
        assert received == len(data)
        assert_no_video_bytes(recorder, len(data))


def test_the_recorder_notices_bytes_sent_to_the_tool(recorded):
    """The check above can fail: a large body sent to the tool is seen."""
    url, recorder, headers = recorded
    blob = "x" * (200 * 1024)
    requests.post(f"{url}/api/uploads", json={"filename": blob, "size_bytes": 1},
                  headers=headers, timeout=30)
    with pytest.raises(AssertionError):
        assert_no_video_bytes(recorder, 10 * MIB)
    assert recorder.biggest() >= 200 * 1024
