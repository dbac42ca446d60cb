"""The phone hand-off's rate limits: guessing codes, and making links."""
from __future__ import annotations

import pytest

from tests.uploading import room  # noqa: F401


@pytest.fixture
def app_config(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="",
                      RATELIMIT_HANDOFF_CODE="3 per minute", RATELIMIT_HANDOFF_CREATE="2 per hour")
    return app_config


def test_guessing_codes_is_rate_limited_per_address(client):
    answers = [client.post("/api/handoff/claim", json={"code": "00000-00000"}).status_code
               for _ in range(5)]
    assert answers == [404, 404, 404, 429, 429]
    page = client.get("/h/00000-00000", headers={"Accept": "text/html"})
    assert page.status_code == 404  # each endpoint counts on its own


def test_making_links_is_rate_limited_per_student(client, room):
    launch = room.launch(room.student)
    answers = [client.post("/api/handoff", json={}, headers={"X-LTI-Launch": launch.id})
               .status_code for _ in range(3)]
    assert answers == [201, 201, 429]
