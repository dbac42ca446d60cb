"""Screen recording in the browser (static/js/recorder.js, "Screen and microphone") in a
headless Chromium that chooses the screen by itself: a few seconds recorded, submitted and
ready with that length; with "Show my camera in a corner" (composite.js and its worker) the
recording is the screen with the camera's picture bottom right; changing the microphone
keeps the screen shared; a share ended before Start goes back to the setup."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from lti_tool.extensions import db
from lti_tool.models import Video
from lti_tool.statuses import VideoStatus
from tests.browser.a11y import assert_accessible, check_state
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_recording import (DURATION_SLACK_S, MEDIA_ARGS,  # noqa: F401
                                          assert_plays_for_instructor, context, get_ready,
                                          latest_video, open_recorder, start_recording,
                                          stop_and_review, submit_and_wait_ready)
from tests.uploading import room  # noqa: F401

# Chromium picks the screen without its chooser (the fake UI accepts the request).
SCREEN_ARGS = ["--auto-select-desktop-capture-source=Entire screen",
               "--enable-usermedia-screen-capturing"]
# The fake camera shows one flat colour (from a file) while the fake screen stays Chromium's
# green test pattern, so the camera's picture is told apart from the screen's by colour.
CAMERA_RGB = (255, 0, 255)
CAMERA_SIZE = "320x240"
CAMERA_FILE = "fake-camera.y4m"
# Where composite-worker.js puts the camera: a quarter of the width, keeping its aspect,
# this share of the width from the bottom-right edges.
CORNER_SHARE = 0.25
MARGIN_SHARE = 0.02

# Mean colour of a rectangle ([x, y, w, h] as shares of the picture) of a <video>'s current
# picture, drawn into a canvas at the video's own size.
MEAN_RGB = """([selector, boxes]) => {
  const video = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0);
  return boxes.map(([x, y, w, h]) => {
    const data = context.getImageData(Math.round(x * canvas.width), Math.round(y * canvas.height),
      Math.max(1, Math.round(w * canvas.width)), Math.max(1, Math.round(h * canvas.height))).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
    return sum.map((s) => s / (data.length / 4));
  });
}"""
# Count the page's requests to share the screen and keep the last screen shared.
WATCH_DISPLAY_MEDIA = """(() => {
  const devices = MediaDevices.prototype, share = devices.getDisplayMedia;
  window.__displayMediaCalls = 0;
  devices.getDisplayMedia = async function (...args) {
    window.__displayMediaCalls += 1;
    window.__sharedScreen = await share.apply(this, args);
    return window.__sharedScreen;
  };
})();"""


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory):
    """A short y4m of one flat colour, for the fake camera to loop.

    Chromium names the camera by its file's path, which the docs' screenshot shows: the
    path is the same on every run (written whole, then moved into place)."""
    path = Path(tempfile.gettempdir()) / CAMERA_FILE
    made = tmp_path_factory.mktemp("camera") / CAMERA_FILE
    colour = "0x{:02x}{:02x}{:02x}".format(*CAMERA_RGB)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"color=c={colour}:s={CAMERA_SIZE}:r=10", "-t", "1",
                    "-pix_fmt", "yuv420p", str(made)], check=True)
    shutil.move(made, path)
    return path


@pytest.fixture(scope="module")
def media_browser(browser, camera_file):
    """A Chromium whose camera and microphone are fakes and whose screen is shared without
    asking."""
    fake = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, *MEDIA_ARGS, *SCREEN_ARGS,
              f"--use-file-for-fake-video-capture={camera_file}"])
    yield fake
    fake.close()


def choose_screen(page, corner: bool = False):
    page.check("input[name='rec-mode'][value='screen']")
    if corner:
        page.check("#rec-corner")


def corner_box(width: int, height: int, camera_aspect: float) -> list[float]:
    """Return the middle half of where the camera's picture is, as shares of the picture."""
    w = CORNER_SHARE * width
    h = w / camera_aspect
    margin = MARGIN_SHARE * width
    x, y = width - w - margin, height - h - margin
    return [(x + w / 4) / width, (y + h / 4) / height, w / 2 / width, h / 2 / height]


# Left of the test pattern's disc, away from its corner squares: the screen's background.
SCREEN_BOX = [0.2, 0.4, 0.1, 0.1]


def assert_camera_in_the_corner(page, selector: str):
    """Fail unless the video's picture is the screen with the flat camera bottom right."""
    width, height = page.evaluate(
        f"[document.querySelector('{selector}').videoWidth,"
        f" document.querySelector('{selector}').videoHeight]")
    camera_aspect = 4 / 3  # CAMERA_SIZE
    boxes = [selector, [corner_box(width, height, camera_aspect), SCREEN_BOX]]
    # The worker draws on each source's frames: under load the camera's first frame may
    # come a moment after the screen's, so the picture is sampled until it arrives.
    deadline = time.monotonic() + 10
    corner, screen = page.evaluate(MEAN_RGB, boxes)
    while not (corner[0] > 180 and corner[2] > 180 and corner[1] < 90) \
            and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        corner, screen = page.evaluate(MEAN_RGB, boxes)
    r, g, b = corner
    assert r > 180 and b > 180 and g < 90, ("the corner is not the camera", corner)
    r, g, b = screen
    assert g > r + 60 and g > b + 60, ("the rest is not the screen", screen)


def test_a_screen_recording_is_submitted_with_its_length(app, context, live_server, room):
    page = open_recorder(context, live_server, room)
    choose_screen(page)
    assert page.inner_text("#rec-prepare") == "Choose the screen to record"
    get_ready(page)
    assert page.evaluate("document.getElementById('rec-preview').srcObject"
                         ".getVideoTracks()[0].getSettings().displaySurface") is not None
    assert page.is_hidden("#rec-camera-row")  # no camera recorded
    began = start_recording(page)
    page.wait_for_timeout(4000)
    seconds = stop_and_review(page, began)
    submit_and_wait_ready(page)
    video = latest_video(app)
    assert video.media_info["video_codec"] in ("vp8", "vp9")
    assert abs(video.duration_seconds - seconds) < DURATION_SLACK_S, (video.duration_seconds,
                                                                      seconds)


def test_the_camera_in_a_corner_is_recorded_over_the_screen(app, context, live_server, room):
    page = open_recorder(context, live_server, room)
    assert page.is_hidden("#rec-corner-row")  # a screen choice only
    choose_screen(page, corner=True)
    get_ready(page)
    assert page.is_visible("#rec-camera-row")  # the corner's camera can be chosen
    assert_camera_in_the_corner(page, "#rec-preview")
    began = start_recording(page)
    page.wait_for_timeout(4000)
    seconds = stop_and_review(page, began)
    submit_and_wait_ready(page)
    video = latest_video(app)
    assert video.media_info["width"] == page.evaluate(
        "document.getElementById('rec-playback').videoWidth"), video.media_info
    assert_plays_for_instructor(context, live_server, room, seconds)
    review = context.new_page()
    review.goto(f"{live_server.url}/review/students/{room.student.id}"
                f"?launch={room.launch(room.instructor).id}")
    review.wait_for_function("() => document.getElementById('video').readyState >= 1")
    review.evaluate("""() => new Promise((resolve) => {
      const video = document.getElementById("video");
      video.addEventListener("seeked", resolve, { once: true });
      video.currentTime = video.duration / 2;
    })""")
    assert_camera_in_the_corner(review, "#video")


def test_the_corner_choice_works_with_the_keyboard_and_passes_axe(context, live_server, room):
    page = open_recorder(context, live_server, room)
    page.focus("input[name='rec-mode'][value='camera']")
    page.keyboard.press("ArrowDown")  # radios move with the arrows: Screen and microphone
    assert page.evaluate("document.activeElement.value") == "screen"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "rec-corner"
    page.keyboard.press("Space")
    assert page.is_checked("#rec-corner")
    assert_accessible(page, "recorder: screen with the camera in a corner")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "rec-prepare"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'rec-start'")
    page.wait_for_function("() => document.getElementById('rec-preview').readyState >= 2")
    check_state(page, "student-recording-corner")


def test_without_insertable_streams_the_screen_is_recorded_alone(context, live_server, room):
    # Firefox and Safari have no window.MediaStreamTrackGenerator.
    context.add_init_script("delete window.MediaStreamTrackGenerator;")
    page = open_recorder(context, live_server, room)
    choose_screen(page)
    assert page.is_hidden("#rec-corner-row")
    get_ready(page)
    assert page.evaluate("document.getElementById('rec-preview').srcObject"
                         ".getVideoTracks()[0].getSettings().displaySurface") is not None
    assert page.is_hidden("#rec-camera-row")


def test_changing_the_microphone_keeps_the_screen(context, live_server, room):
    context.add_init_script(WATCH_DISPLAY_MEDIA)
    page = open_recorder(context, live_server, room)
    choose_screen(page)
    get_ready(page)
    screen = page.evaluate("document.getElementById('rec-preview').srcObject"
                           ".getVideoTracks()[0].id")
    using = page.evaluate("document.getElementById('rec-preview').srcObject"
                          ".getAudioTracks()[0].getSettings().deviceId")
    other = page.evaluate("(using) => [...document.querySelectorAll('#rec-mic option')]"
                          ".map((o) => o.value).filter((v) => v !== using)[0]", using)
    assert other, "the fake browser lists a single microphone"
    page.select_option("#rec-mic", other)
    page.wait_for_function("(other) => document.getElementById('rec-preview').srcObject"
                           ".getAudioTracks()[0].getSettings().deviceId === other", arg=other)
    assert page.evaluate("window.__displayMediaCalls") == 1
    track = page.evaluate("(() => { const t = document.getElementById('rec-preview').srcObject"
                          ".getVideoTracks()[0]; return [t.id, t.readyState]; })()")
    assert track == [screen, "live"]


def test_a_share_ended_before_start_goes_back_to_the_setup(context, live_server, room):
    context.add_init_script(WATCH_DISPLAY_MEDIA)
    page = open_recorder(context, live_server, room)
    choose_screen(page, corner=True)
    get_ready(page)
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           ".includes('Screen sharing and microphone are on')", timeout=5000)
    # The browser's "Stop sharing" ends the screen's track; headless Chromium has no such bar,
    # so the track's "ended" event is sent as the browser sends it.
    page.evaluate("window.__sharedScreen.getVideoTracks()[0].dispatchEvent(new Event('ended'))")
    page.wait_for_selector("#rec-setup:not([hidden])")
    assert page.is_hidden("#rec-live")
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           ".includes('Screen sharing ended')", timeout=5000)
    assert page.evaluate("document.activeElement.id") == "rec-prepare"
    assert page.evaluate("window.__sharedScreen.getVideoTracks()[0].readyState") == "ended"
    get_ready(page)  # and the screen can be chosen again
    assert page.evaluate("window.__displayMediaCalls") == 2


def test_a_share_ended_during_the_countdown_leaves_nothing_open(app, context, live_server,
                                                                 room):
    context.add_init_script(WATCH_DISPLAY_MEDIA)
    page = open_recorder(context, live_server, room)
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    choose_screen(page)
    get_ready(page)
    page.click("#rec-start")  # the 3-2-1 countdown; the recording's upload opens meanwhile
    page.evaluate("window.__sharedScreen.getVideoTracks()[0].dispatchEvent(new Event('ended'))")
    page.wait_for_selector("#rec-setup:not([hidden])")

    def statuses() -> list[str]:
        with app.app_context():
            return [v.status for v in db.session.scalars(db.select(Video))]

    # At the countdown's end the upload opened for it is cancelled: no attempt left open.
    deadline = time.monotonic() + 15
    while not statuses() or set(statuses()) & {VideoStatus.PENDING, VideoStatus.UPLOADING}:
        assert time.monotonic() < deadline, f"left open: {statuses()}, errors: {errors}"
        page.wait_for_timeout(200)
    assert statuses() == [VideoStatus.DELETED]
    assert page.is_hidden("#rec-live") and page.is_hidden("#rec-review")
    assert errors == []
