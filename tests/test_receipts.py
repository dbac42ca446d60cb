"""The student's receipt: time, file name, size and a short code the tool can recompute."""
from __future__ import annotations

import re

from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.review_fixtures import ready_video
from lti_tool.uploads.receipts import receipt_code


def test_the_receipt_names_the_file_size_time_and_code(client, room):
    video = ready_video(room)
    launch = room.launch(room.student)
    state = client.get("/api/uploads", headers={"X-LTI-Launch": launch.id}).get_json()
    receipt = state["receipt"]
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", receipt["code"])
    assert receipt["code"] == receipt_code(video, video.uploaded_at or video.ready_at)
    resp = client.get(f"/assignment/receipt?launch={launch.id}")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    assert f'receipt-{receipt["code"]}.txt' in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    assert "File:        pitch.mp4" in text and "(1234 bytes)" in text
    assert f"Receipt:     {receipt['code']}" in text and " UTC" in text


def test_no_receipt_before_anything_was_handed_in(client, room):
    launch = room.launch(room.student)
    assert client.get(f"/assignment/receipt?launch={launch.id}").status_code == 404
    state = client.get("/api/uploads", headers={"X-LTI-Launch": launch.id}).get_json()
    assert state["receipt"] is None


def test_each_student_gets_only_their_own_receipt(client, room):
    ready_video(room)
    other = client.get(f"/assignment/receipt?launch={room.launch(room.other_student).id}")
    assert other.status_code == 404
