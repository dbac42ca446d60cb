"""On Cloudflare Stream a recording is uploaded once finished: its tus upload is created with
the video's size, so an attempt of unknown size is refused and the page says record first."""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.models import Assignment
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


def test_sound_only_is_neither_offered_nor_lost_where_stream_refuses_it(app, client):
    """Stream refuses a file with no picture (ERR_NON_VIDEO): the recorder has no
    "Microphone only", the settings have no box for it, and saving them keeps the choice."""
    from tests.test_s3_recording_parts import page_data
    with app.app_context():
        room = Classroom()
        room.assignment.accepts_audio = True
        db.session.commit()
        assignment_id = room.assignment.id
        student = room.launch(room.student).id
        teacher = room.launch(room.instructor).id
    assert page_data(client, {"X-LTI-Launch": student})["accepts_audio"] is False
    page = client.get(f"/assignment?launch={student}").get_data(as_text=True)
    assert 'value="microphone"' not in page
    settings = client.get(f"/review/assignment/settings?launch={teacher}").get_data(
        as_text=True)
    assert 'name="accepts_audio"' not in settings
    assert "Sound-only submissions (audio recordings) are not available" in settings
    assert client.post("/review/assignment/settings",
                       data={"launch": teacher}).status_code == 302
    with app.app_context():
        assert db.session.get(Assignment, assignment_id).accepts_audio is True
