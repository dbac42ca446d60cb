"""Cloudflare Stream passes the shared storage contract, against a fake Stream served over
HTTP on another port (its tus endpoint receives the bytes, as Cloudflare's would)."""
from __future__ import annotations

import io

import pytest
from tusclient import client as tus

from lti_tool.storage import current_storage
from tests.storage_contract import StorageContract
from tests.uploading import sample_mp4  # noqa: F401  (fixture of the contract)

from . import cloudflare_fake as cf
from .cloudflare_fake import fake_stream  # noqa: F401  (fixture)

TUS_CHUNK = 5 * 1024 * 1024  # the smallest chunk Cloudflare takes


@pytest.fixture
def app_config(app_config, fake_stream):
    app_config.update(cf.settings(CLOUDFLARE_API_BASE=fake_stream.api_base))
    return app_config


@pytest.fixture
def backend(app):
    with app.test_request_context():
        yield current_storage()


def upload_over_tus(upload_url: str, data: bytes) -> None:
    """Send the bytes to a one-time tus upload URL, as tus-js-client does in the browser."""
    uploader = tus.TusClient(upload_url).uploader(file_stream=io.BytesIO(data), url=upload_url,
                                                   chunk_size=TUS_CHUNK)
    uploader.upload()


class TestCloudflareStorageContract(StorageContract):
    def push_bytes(self, backend, ticket, data):
        upload_over_tus(ticket.endpoint, data)
        return {}
