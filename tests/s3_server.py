"""moto's S3 server over real HTTP on a free loopback port, and helpers for S3 tests.

Each test gets its own bucket on one server per session, so tests stay independent and the
server starts once. Presigned URLs point at this server, so a plain HTTP client (or the
browser) can PUT parts and GET ranges exactly as against AWS.
"""
from __future__ import annotations

import socket
import uuid

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"

def cors_rules(origin: str) -> dict:
    """The CORS configuration docs/storage-s3.md recommends, for `origin`."""
    from lti_tool.storage.s3.cli import recommended_cors
    return recommended_cors(origin)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """Start moto's S3 server once; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_server):
    """Create a fresh bucket on the moto server; yield its name."""
    name = f"videos-{uuid.uuid4().hex[:12]}"
    admin_client(moto_server).create_bucket(Bucket=name)
    return name


@pytest.fixture
def app_config(app_config, moto_server, s3_bucket):
    """Settings for an app whose storage is S3 on the moto server (import to use)."""
    app_config.update(s3_settings(moto_server, s3_bucket))
    return app_config


@pytest.fixture
def student(app):
    """Launch headers of a student in a fresh classroom; no app context stays open."""
    from tests.factories import Classroom
    with app.app_context():
        room = Classroom()
        return Classroom.headers(room.launch(room.student))


def admin_client(endpoint: str):
    """Return a boto3 client the test uses to look behind the tool's back."""
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=BotoConfig(s3={"addressing_style": "path"}))


def s3_settings(endpoint: str, bucket: str, **overrides) -> dict:
    """Return app settings for the S3 backend against the moto server."""
    values = {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_REGION": REGION,
        "S3_ENDPOINT_URL": endpoint,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "S3_KEY_PREFIX": "videos/",
    }
    values.update(overrides)
    return values


def put_parts(backend, ticket, data: bytes, numbers=None) -> list[dict]:
    """PUT parts to their presigned URLs over HTTP, as the browser's multipart transport
    does; return [{part_number, etag}]."""
    size = ticket.chunk_size
    numbers = numbers or list(range(1, ticket.backend_data["part_count"] + 1))
    parts = []
    for part in backend.sign_parts(ticket.storage_uid, ticket.backend_data, numbers):
        n = part.part_number
        resp = requests.put(part.url, data=data[(n - 1) * size: n * size], timeout=30)
        assert resp.status_code == 200, resp.text
        parts.append({"part_number": n, "etag": resp.headers["ETag"]})
    return parts
