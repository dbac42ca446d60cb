"""Captions on the local disk in real Chromium: the review page's captions panel uploads a
WebVTT file (no "generate" here), the player picks it up as a <track> from its signed URL
and shows its cue; the student's preview carries the same tracks."""
from __future__ import annotations

import pytest

from lti_tool.extensions import db
from lti_tool.storage import storage_for
from tests.factories import Classroom
from tests.review_fixtures import make_test_video, ready_video

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nHello, class.\n"
CUE_TEXT = ("sel => { const t = [...document.querySelector(sel).textTracks]"
            ".find(t => t.language === 'en'); return t && t.cues && t.cues.length"
            " ? t.cues[0].text : null; }")


@pytest.fixture
def urls(app, live_server, tmp_path):
    with app.app_context():
        room = Classroom()
        video = ready_video(room, duration=3.0, file=make_test_video(tmp_path / "clip.mp4"))
        uid = video.storage_uid
        review = (f"{live_server.url}/review/students/{room.student.id}"
                  f"?launch={room.launch(room.instructor).id}")
        student = f"{live_server.url}/assignment?launch={room.launch(room.student).id}"
        db.session.remove()
    return {"review": review, "student": student, "uid": uid}


def cue_text(page, video_selector: str):
    return page.evaluate(CUE_TEXT, video_selector)


def test_uploaded_captions_show_in_the_review_player(page, urls, tmp_path):
    vtt = tmp_path / "talk.vtt"
    vtt.write_text(VTT)
    page.goto(urls["review"])
    page.locator("#captions-empty").wait_for()
    assert page.locator("#captions-generate").count() == 0  # the disk cannot transcribe
    assert page.locator("#captions-select:visible").count() == 0  # no tracks yet

    page.select_option("#captions-upload-language", "en")
    page.set_input_files("#captions-file", str(vtt))
    page.locator("#captions-upload button[type=submit]").click()
    page.wait_for_selector("#captions-list li[data-language=en]")

    # The player reloads its grant and offers the new track in its captions menu.
    page.wait_for_selector("#captions-select:not([hidden]) option[value=en]", state="attached")
    page.select_option("#captions-select", "en")
    page.wait_for_function("() => [...document.getElementById('video').textTracks]"
                           ".some(t => t.language === 'en' && t.mode === 'showing')")
    page.wait_for_function("() => { const t = [...document.getElementById('video').textTracks]"
                           ".find(t => t.language === 'en'); return t.cues && t.cues.length; }")
    assert cue_text(page, "#video") == "Hello, class."
    src = page.get_attribute("#video track[srclang=en]", "src")
    assert "/captions/en.vtt?token=" in src


def test_the_student_preview_carries_the_tracks(app, page, urls):
    with app.app_context():
        storage_for("local").upload_captions(urls["uid"], "en", VTT.encode())
    page.goto(urls["student"])
    page.wait_for_selector("#player track[srclang=en]", state="attached")
    assert page.get_attribute("#player track[srclang=en]", "kind") == "captions"
    assert page.get_attribute("#player track[srclang=en]", "label") == "English"
    # Native controls offer the track; turned on, its cue loads from the signed URL.
    page.evaluate("[...document.getElementById('player').textTracks]"
                  ".forEach(t => { t.mode = 'hidden'; })")
    page.wait_for_function("() => { const t = document.getElementById('player').textTracks[0];"
                           " return t.cues && t.cues.length; }")
    assert cue_text(page, "#player") == "Hello, class."
