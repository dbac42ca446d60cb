"""Helpers for Cloudflare Stream tests: settings, signing keys, video bodies, webhook signing.

`responses` fakes Cloudflare's HTTP API at a non-default CLOUDFLARE_API_BASE, which proves
the setting is honoured. FakeStream (below) is a real HTTP server on another port standing
in for Cloudflare (API plus tus upload endpoint) for end-to-end tests.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from functools import lru_cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API_BASE = "https://cf-api.test/client/v4"
ACCOUNT = "acct123"
TOKEN = "cf-secret-api-token-do-not-log"
SUBDOMAIN = "customer-abc123.cloudflarestream.com"
WEBHOOK_SECRET = "85011ed3a913c6ad5f9cf6c5573cc0a7"
STREAM = f"{API_BASE}/accounts/{ACCOUNT}/stream"


@lru_cache(maxsize=1)
def rsa_key():
    """Return one RSA private key for the test session (generating one is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem() -> str:
    return rsa_key().private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()).decode()


def private_pem_b64() -> str:
    """The key as Cloudflare's POST /stream/keys returns it: base64 of the PEM."""
    return base64.b64encode(private_pem().encode()).decode()


def settings(**overrides) -> dict:
    """Return app settings for the Cloudflare backend against the fake API."""
    values = {
        "STORAGE_BACKEND": "cloudflare",
        "CLOUDFLARE_API_BASE": API_BASE,
        "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_CUSTOMER_SUBDOMAIN": SUBDOMAIN,
        "CLOUDFLARE_SIGNING_KEY_ID": "key-1",
        "CLOUDFLARE_SIGNING_KEY_PEM": private_pem_b64(),
        "CLOUDFLARE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CLOUDFLARE_API_BACKOFF_SECONDS": 0,
    }
    values.update(overrides)
    return values


def envelope(result, success: bool = True, errors=None) -> dict:
    return {"result": result, "success": success, "errors": errors or [], "messages": []}


def video_body(uid: str, state: str = "ready", **extra) -> dict:
    """Return a Stream video object like the API and webhooks send."""
    body = {
        "uid": uid, "creator": "7", "readyToStream": state == "ready",
        "thumbnail": f"https://{SUBDOMAIN}/{uid}/thumbnails/thumbnail.jpg",
        "status": {"state": state, "pctComplete": "100.000000" if state == "ready" else "0",
                   "errorReasonCode": "", "errorReasonText": ""},
        "meta": {"name": "video", "lti_video_id": "1"},
        "created": "2026-01-01T10:00:00.000000Z", "modified": "2026-01-01T10:05:00.000000Z",
        "size": 383631, "duration": 5.5 if state == "ready" else -1,
        "input": {"width": 560, "height": 320} if state == "ready" else
                 {"width": -1, "height": -1},
        "requireSignedURLs": True, "maxDurationSeconds": 600,
    }
    body.update(extra)
    return body


def sign_webhook(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """Return a Webhook-Signature header as Cloudflare computes it."""
    at = int(time.time()) if at is None else at
    sig = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"time={at},sig1={sig}"


class FakeStream:
    """Cloudflare Stream on a loopback port: the tus creation API and the upload endpoint.

    It speaks just enough tus 1.0 (HEAD, PATCH with offsets) for tus clients, keeps the
    bytes in memory, and counts what it received.
    """

    def __init__(self):
        self.videos: dict[str, dict] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.headers_seen: list[dict] = []
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.api_base = f"{self.url}/client/v4"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.lock = threading.Lock()

    def start(self) -> "FakeStream":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)

    def wsgi(self, environ, start_response):
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        cors = {"Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "POST, GET, HEAD, PATCH, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": "*",
                "Access-Control-Expose-Headers": "Upload-Offset, Location, Upload-Length, "
                                                 "Tus-Resumable, stream-media-id"}
        if request.method == "OPTIONS":
            return Response(status=204, headers=cors)
        length = int(request.headers.get("Content-Length") or 0)
        with self.lock:
            self.requests.append((request.method, request.path, length))
            self.headers_seen.append(dict(request.headers))
        api = re.fullmatch(rf"/client/v4/accounts/{ACCOUNT}/stream(?:/([^/]+))?", request.path)
        if api:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return Response(json.dumps(envelope(None, False, [
                    {"code": 10000, "message": "Authentication error"}])), status=403,
                    content_type="application/json")
            uid = api.group(1)
            if request.method == "POST" and uid is None:
                return self.create(request)
            if request.method == "GET" and uid is None:
                listed = sorted((self.video_json(u) for u in self.videos),
                                key=lambda v: v["created"])
                after = request.args.get("start")
                listed = [v for v in listed if not after or v["created"] >= after]
                return Response(json.dumps(envelope(listed)), content_type="application/json")
            if request.method == "GET" and uid == "storage-usage":
                return Response(json.dumps(envelope({"totalStorageMinutes": 1.5,
                                                     "totalStorageMinutesLimit": 1000,
                                                     "videoCount": len(self.videos)})),
                                content_type="application/json")
            if request.method == "GET" and uid in self.videos:
                return Response(json.dumps(envelope(self.video_json(uid))),
                                content_type="application/json")
            if request.method == "DELETE" and uid in self.videos:
                del self.videos[uid]
                return Response(json.dumps(envelope("")), content_type="application/json")
            return Response(json.dumps(envelope(None, False, [
                {"code": 10003, "message": "Not found"}])), status=404,
                content_type="application/json")
        tus = re.fullmatch(r"/tus/([0-9a-f]+)", request.path)
        if tus and tus.group(1) in self.videos:
            video = self.videos[tus.group(1)]
            headers = dict(cors, **{"Tus-Resumable": "1.0.0"})
            if request.method == "HEAD":
                headers.update({"Upload-Offset": str(len(video["data"])),
                                "Upload-Length": str(video["length"]),
                                "Cache-Control": "no-store"})
                return Response(status=200, headers=headers)
            if request.method == "PATCH":
                offset = int(request.headers.get("Upload-Offset", "-1"))
                if offset != len(video["data"]):
                    return Response(status=409, headers=headers)
                video["data"] += request.get_data()
                headers["Upload-Offset"] = str(len(video["data"]))
                return Response(status=204, headers=headers)
        return Response(status=404, headers=cors)

    def create(self, request: Request) -> Response:
        if request.args.get("direct_user") != "true" or "Upload-Length" not in request.headers:
            return Response(status=400)
        uid = uuid.uuid4().hex
        meta = {}
        for item in request.headers.get("Upload-Metadata", "").split(","):
            key, _, value = item.strip().partition(" ")
            meta[key] = base64.b64decode(value).decode() if value else ""
        with self.lock:
            created = f"2026-01-01T10:00:{len(self.videos):02d}.000000Z"
        self.videos[uid] = {"length": int(request.headers["Upload-Length"]), "data": b"",
                            "meta": meta, "created": created,
                            "creator": request.headers.get("Upload-Creator")}
        return Response(status=201, headers={"Location": f"{self.url}/tus/{uid}",
                                             "stream-media-id": uid, "Tus-Resumable": "1.0.0"})

    def video_json(self, uid: str) -> dict:
        video = self.videos[uid]
        done = len(video["data"]) == video["length"]
        return video_body(uid, "ready" if done else "pendingupload", size=video["length"],
                          meta=video["meta"], created=video["created"],
                          creator=video["creator"], uploadExpiry="2999-01-01T00:00:00Z")


@pytest.fixture
def fake_stream():
    """Serve a fake Stream (API and tus endpoint) on a free loopback port for one test."""
    server = FakeStream().start()
    yield server
    server.stop()
