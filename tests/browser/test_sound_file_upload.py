"""A sound file chosen on the student page, where the assignment accepts sound-only
submissions, in real Chromium on the local disk: an .mp3 (served as it came) and then, as
its replacement, a .wav (served as the AAC rendition processing made) each end ready and
play in the instructor's player for their whole length, with no media error."""
from __future__ import annotations

import pytest

from tests.processing_fixtures import sample_file, samples_dir  # noqa: F401
from tests.uploading import room  # noqa: F401

SECONDS = 2.0  # the sound samples' length (tests/processing_fixtures.py SOUND_SAMPLES)
PLAYER = "document.getElementById('video')"


def choose_and_wait_ready(page, path) -> None:
    """Choose the file in the student page's file input; wait until it is the ready one."""
    page.set_input_files("#file-input", str(path))
    page.wait_for_function(
        "(name) => { const s = document.getElementById('current-status');"
        " return s.dataset.status === 'ready' && s.textContent.includes(name); }",
        arg=path.name, timeout=60000)


def assert_plays_for_instructor(context, live_server, room) -> list[str]:
    """Open the student's submission as the instructor (a page of its own) and play it;
    return the media types the player was served."""
    page = context.new_page()
    served = []
    page.on("response", lambda r: "/media" in r.url and served.append(
        r.headers.get("content-type")))
    launch = room.launch(room.instructor)
    page.goto(f"{live_server.url}/review/students/{room.student.id}?launch={launch.id}")
    page.wait_for_function(f"() => {PLAYER}.readyState >= 1")
    assert page.evaluate(f"{PLAYER}.duration") == pytest.approx(SECONDS, abs=0.2)
    page.evaluate(f"() => {{ const v = {PLAYER}; v.muted = true; return v.play(); }}")
    page.wait_for_function(f"() => {PLAYER}.currentTime > 0.5", timeout=15000)
    assert page.evaluate(f"{PLAYER}.error") is None
    page.close()
    return served


def test_an_mp3_and_then_a_wav_play_for_the_instructor(page, live_server, room, sample_file):
    room.update_assignment(accepts_audio=True)
    context = page.context
    page.goto(f"{live_server.url}/assignment?launch={room.launch(room.student).id}")
    page.wait_for_function(
        "() => document.getElementById('submission').dataset.ready === 'true'")
    accept = page.get_attribute("#file-input", "accept").split(",")
    assert ".mp3" in accept and ".wav" in accept and "audio/mpeg" in accept
    choose_and_wait_ready(page, sample_file("sound_mp3"))
    assert assert_plays_for_instructor(context, live_server, room) == ["audio/mpeg"]
    page.click("#replace-btn")
    choose_and_wait_ready(page, sample_file("sound_wav"))
    assert set(assert_plays_for_instructor(context, live_server, room)) == {"video/mp4"}
