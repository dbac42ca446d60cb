"""S3 passes the shared storage contract against moto's S3 server over real HTTP."""
from __future__ import annotations

import pytest

from lti_tool.storage import current_storage
from tests.storage_contract import StorageContract
from tests.uploading import sample_mp4  # noqa: F401  (fixture of the contract)

from .s3_server import app_config, moto_server, put_parts, s3_bucket  # noqa: F401


@pytest.fixture
def backend(app):
    with app.test_request_context():
        yield current_storage()


class TestS3StorageContract(StorageContract):
    def push_bytes(self, backend, ticket, data):
        parts = put_parts(backend, ticket, data)
        backend.complete_multipart(ticket.storage_uid, ticket.backend_data, parts)
        return {}
