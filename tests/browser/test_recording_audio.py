"""Recording the microphone alone (an assignment that accepts sound-only submissions) in
real Chromium with a fake microphone: no camera asked for, the level meter and the clock as
for video, axe-core on the new mode, and the recording plays for the instructor."""
from __future__ import annotations


from tests.browser.a11y import assert_accessible
from tests.browser.test_recording import (DURATION_SLACK_S, assert_plays_for_instructor,  # noqa: F401
                                          context, latest_video, media_browser, open_recorder,
                                          start_recording, stop_and_review, submit_and_wait_ready)
from tests.uploading import room  # noqa: F401


def test_a_microphone_recording_is_submitted_and_plays_for_the_instructor(
        app, context, live_server, room):
    room.update_assignment(accepts_audio=True)
    page = open_recorder(context, live_server, room)
    page.check("#rec-mode-microphone input")
    assert_accessible(page, "recorder: microphone only chosen")
    page.click("#rec-prepare")
    page.wait_for_selector("#rec-live:not([hidden])")
    # The fake microphone beeps: the level meter moves; no camera was asked for.
    page.wait_for_function("() => document.getElementById('rec-meter').value > 0.01")
    assert page.evaluate("document.getElementById('rec-preview').srcObject"
                         ".getVideoTracks().length") == 0
    assert page.is_hidden("#rec-camera-row") and page.is_hidden("#rec-preview")
    assert_accessible(page, "recorder: microphone only, ready")
    began = start_recording(page)
    page.wait_for_timeout(4000)
    assert page.inner_text("#rec-timer") in ("0:03", "0:04", "0:05")
    seconds = stop_and_review(page, began)
    page.wait_for_function("() => document.getElementById('rec-playback').readyState >= 1")
    submit_and_wait_ready(page)
    # The student's own player: the sound under a microphone picture, named for what it is.
    page.wait_for_function("() => (document.querySelector('#player-stage video') || {}).poster"
                           " && document.querySelector('#player-stage video').poster"
                           ".endsWith('/static/img/sound-only.svg')")
    assert page.get_attribute("#player-stage video", "aria-label") == "Audio recording"
    assert page.inner_text("#current-status").startswith("Your audio recording “")
    assert_accessible(page, "student page: a sound-only submission")
    video = latest_video(app)
    assert video.is_sound_only and video.media_info["video_codec"] is None
    assert video.media_info["audio_codec"] == "opus"
    assert video.media_info["plan"] == "transcode"  # no duration in a MediaRecorder file
    assert not video.has_thumbnail
    assert abs(video.duration_seconds - seconds) < DURATION_SLACK_S
    assert_plays_for_instructor(context, live_server, room, seconds)


def test_without_the_setting_the_recorder_has_no_microphone_only_mode(context, live_server,
                                                                      room):
    page = open_recorder(context, live_server, room)
    assert page.locator("#rec-mode-microphone").count() == 0
