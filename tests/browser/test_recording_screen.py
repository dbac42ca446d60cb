"""Screen recording in the browser (static/js/recorder.js, "Screen and microphone") in a
headless Chromium that chooses the screen by itself: a few seconds recorded, submitted and
ready with that length."""
from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_recording import (DURATION_SLACK_S, MEDIA_ARGS, context,  # noqa: F401
                                          get_ready, latest_video, open_recorder,
                                          start_recording, stop_and_review,
                                          submit_and_wait_ready)
from tests.uploading import room  # noqa: F401

# Chromium picks the screen without its chooser (the fake UI accepts the request).
SCREEN_ARGS = ["--auto-select-desktop-capture-source=Entire screen",
               "--enable-usermedia-screen-capturing"]


@pytest.fixture(scope="module")
def media_browser(browser):
    """A Chromium whose microphone is a fake and whose screen is shared without asking."""
    fake = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                       args=[*CHROMIUM_ARGS, *MEDIA_ARGS, *SCREEN_ARGS])
    yield fake
    fake.close()


def test_a_screen_recording_is_submitted_with_its_length(app, context, live_server, room):
    page = open_recorder(context, live_server, room)
    page.check("input[name='rec-mode'][value='screen']")
    assert page.inner_text("#rec-prepare") == "Choose the screen to record"
    get_ready(page)
    assert page.evaluate("document.getElementById('rec-preview').srcObject"
                         ".getVideoTracks()[0].getSettings().displaySurface") is not None
    began = start_recording(page)
    page.wait_for_timeout(4000)
    seconds = stop_and_review(page, began)
    submit_and_wait_ready(page)
    video = latest_video(app)
    assert video.media_info["video_codec"] in ("vp8", "vp9")
    assert abs(video.duration_seconds - seconds) < DURATION_SLACK_S, (video.duration_seconds,
                                                                      seconds)
