"""On Cloudflare Stream a recording is uploaded once finished: its tus upload is created with
the video's size, so an attempt of unknown size is refused and the page says record first."""
from __future__ import annotations

import pytest

from tests.factories import Classroom

from . import cloudflare_fake as cf


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings())
    return app_config


def test_a_recording_of_unknown_size_is_refused_and_the_page_records_first(app, client):
    from tests.test_s3_recording_parts import page_data
    with app.app_context():
        room = Classroom()
        headers = Classroom.headers(room.launch(room.student))
    resp = client.post("/api/uploads", json={"filename": "recording.webm", "size_bytes": None,
                                             "content_type": "video/webm"}, headers=headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "length_required"
    assert page_data(client, headers)["upload_while_recording"] is False
