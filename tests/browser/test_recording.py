"""Recording in the browser (static/js/recorder.js) in real Chromium with fake camera and
microphone: the recording is sent while it records and submitted seconds after Stop; a
lost network and a closed tab lose nothing; the longest length stops it; keyboard alone
works; axe-core finds nothing serious in its states; a frame that withholds the camera
gets "open in a new window"."""
from __future__ import annotations

import time

import pytest

from lti_tool.extensions import db
from lti_tool.models import Video
from tests.browser.a11y import assert_accessible, check_state
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER, _watch_console
from tests.uploading import room  # noqa: F401

MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]
COUNTDOWN_S = 3
# The recorder's own clock and the file's differ by a chunk's rounding and start-up.
DURATION_SLACK_S = 1.6


@pytest.fixture(scope="module")
def media_browser(browser):
    """A second Chromium, from the same Playwright, whose camera and microphone are fakes."""
    fake = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                       args=[*CHROMIUM_ARGS, *MEDIA_ARGS])
    yield fake
    fake.close()


@pytest.fixture
def context(media_browser, csp_violations):
    """A fresh context on the fake-device browser, failing the test on a CSP violation."""
    ctx = media_browser.new_context(permissions=["camera", "microphone"])
    ctx.expose_binding("__cspViolation", lambda source, report: csp_violations.append(report))
    ctx.add_init_script(CSP_LISTENER)
    ctx.on("page", lambda new_page: _watch_console(new_page, csp_violations))
    yield ctx
    ctx.close()
    if csp_violations:
        pytest.fail(f"Content-Security-Policy violations: {csp_violations}")


def open_recorder(context, live_server, room, who="student"):
    page = context.new_page()
    page.set_default_timeout(20000)
    launch = room.launch_as(who)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.wait_for_function("() => document.getElementById('submission').dataset.ready === 'true'"
                           " && document.getElementById('recorder').dataset.ready === 'true'")
    return page


def get_ready(page):
    page.click("#rec-prepare")
    page.wait_for_selector("#rec-live:not([hidden])")
    page.wait_for_function("() => document.getElementById('rec-preview').readyState >= 2")


def start_recording(page) -> float:
    """Press Start; return the moment recording began (after the countdown)."""
    page.click("#rec-start")
    page.wait_for_selector("#rec-stop:not([hidden])", timeout=(COUNTDOWN_S + 10) * 1000)
    return time.monotonic()


def stop_and_review(page, began: float) -> float:
    page.click("#rec-stop")
    seconds = time.monotonic() - began
    page.wait_for_selector("#rec-review:not([hidden])")
    return seconds


def submit_and_wait_ready(page):
    page.click("#rec-submit")
    page.wait_for_function("() => ['ready', 'error'].includes("
                           "document.getElementById('current-status').dataset.status)",
                           timeout=60000)
    assert page.get_attribute("#current-status", "data-status") == "ready", \
        page.inner_text("#current-status")


def latest_video(app) -> Video:
    with app.app_context():
        video = db.session.scalars(db.select(Video).order_by(Video.id.desc())).first()
        db.session.expunge(video)
        return video


def assert_plays_for_instructor(context, live_server, room, seconds: float):
    page = context.new_page()
    launch = room.launch(room.instructor)
    page.goto(f"{live_server.url}/review/students/{room.student.id}?launch={launch.id}")
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    duration = page.evaluate("document.getElementById('video').duration")
    assert abs(duration - seconds) < DURATION_SLACK_S, (duration, seconds)
    page.evaluate("() => { const v = document.getElementById('video'); v.muted = true;"
                  " return v.play(); }")
    page.wait_for_function("() => document.getElementById('video').currentTime > 0.5")
    page.close()


def test_a_recording_is_submitted_seconds_after_stop_and_plays_for_the_instructor(
        app, context, live_server, room):
    page = open_recorder(context, live_server, room)
    patches = []  # (moment, its Upload-Offset, the Upload-Length it declares)
    page.on("request", lambda r: r.method == "PATCH" and patches.append(
        (time.monotonic(), int(r.headers["upload-offset"]), r.headers.get("upload-length"))))
    get_ready(page)
    began = start_recording(page)
    page.wait_for_selector("#rec-upload-line:not([hidden])")  # chunks leave while recording
    page.wait_for_timeout(10000)
    seconds = stop_and_review(page, began)
    page.wait_for_function("() => document.getElementById('rec-playback').readyState >= 1")
    clicked = time.monotonic()
    chunks_before = len([p for p in patches if p[0] < clicked])
    page.click("#rec-submit")
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    after = [p for p in patches if p[0] >= clicked]
    # Submit only tells the length: every byte left while recording (or at Stop).
    assert chunks_before >= 3 and len(after) == 1, (chunks_before, after)
    told_at, offset, length = after[0]
    assert length is not None and int(length) == offset > 0
    assert told_at - clicked < 2
    video = latest_video(app)
    assert video.size_bytes == offset
    assert video.filename.startswith("recording-") and video.filename.endswith(".webm")
    assert video.media_info["video_codec"] in ("vp8", "vp9")
    assert video.media_info["plan"] == "transcode"  # no duration in a MediaRecorder file
    assert abs(video.duration_seconds - seconds) < DURATION_SLACK_S
    assert_plays_for_instructor(context, live_server, room, seconds)


def test_a_lost_network_loses_nothing(app, context, live_server, room):
    page = open_recorder(context, live_server, room)
    get_ready(page)
    began = start_recording(page)
    page.wait_for_timeout(4000)
    context.set_offline(True)
    page.wait_for_function("() => document.getElementById('rec-upload-line')"
                           ".textContent.includes('interrupted')", timeout=15000)
    page.wait_for_timeout(5000)
    context.set_offline(False)
    page.wait_for_function("() => document.getElementById('rec-upload-line')"
                           ".textContent.includes('already sent')", timeout=20000)
    page.wait_for_timeout(2000)
    seconds = stop_and_review(page, began)
    submit_and_wait_ready(page)
    video = latest_video(app)
    assert abs(video.duration_seconds - seconds) < DURATION_SLACK_S, (video.duration_seconds,
                                                                      seconds)


def test_a_closed_tab_leaves_the_recording_to_finish_later(app, context, live_server, room):
    page = open_recorder(context, live_server, room)
    get_ready(page)
    start_recording(page)
    context.set_offline(True)  # nothing more reaches the server: it waits in IndexedDB
    page.wait_for_timeout(7000)  # about seven chunks kept (one a second)
    page.close()
    context.set_offline(False)
    page = open_recorder(context, live_server, room)
    page.wait_for_selector("#rec-recovery:not([hidden])")
    assert "not completely sent" in page.inner_text("#rec-recovery-text")
    page.click("#rec-recover")
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    video = latest_video(app)
    # The chunks written before the tab closed: about seven of a second each.
    assert 5 <= video.duration_seconds <= 9.5, video.duration_seconds
    page.reload()
    page.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    assert page.is_hidden("#rec-recovery")  # sent, and forgotten by the browser


def test_a_second_tab_neither_offers_nor_deletes_the_recording_of_the_first(
        app, context, live_server, room):
    first = open_recorder(context, live_server, room)
    get_ready(first)
    began = start_recording(first)
    first.wait_for_function("() => document.getElementById('rec-upload-line')"
                            ".textContent.includes('already sent')", timeout=15000)
    # The same student opens the assignment again beside it (same browser, same IndexedDB).
    second = open_recorder(context, live_server, room)
    assert second.is_hidden("#rec-recovery")
    seconds = stop_and_review(first, began)
    submit_and_wait_ready(first)  # nothing of it was taken or deleted by the second tab
    video = latest_video(app)
    assert abs(video.duration_seconds - seconds) < DURATION_SLACK_S, (video.duration_seconds,
                                                                      seconds)
    # Once the first tab is gone, what it left (nothing here: it was sent) is the second's.
    first.close()
    second.reload()
    second.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    assert second.is_hidden("#rec-recovery")


def test_the_longest_length_stops_the_recording(app, context, live_server, room):
    room.update_assignment(max_duration_seconds=5)
    page = open_recorder(context, live_server, room)
    assert "0:05" in page.inner_text("#rec-limit")
    get_ready(page)
    start_recording(page)
    page.wait_for_selector("#rec-review:not([hidden])", timeout=12000)
    assert page.inner_text("#rec-timer") == "0:05"
    # live.js empties its region, then fills it a moment later (so it is read out again).
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           ".includes('longest length allowed')", timeout=5000)
    submit_and_wait_ready(page)
    assert latest_video(app).duration_seconds <= 5.5


def test_recording_with_the_keyboard_alone(app, context, live_server, room):
    page = open_recorder(context, live_server, room)

    def tab_to(element_id, limit=25):
        for _ in range(limit):
            if page.evaluate("document.activeElement.id") == element_id:
                return
            page.keyboard.press("Tab")
        pytest.fail(f"Tab never reached #{element_id}")

    tab_to("rec-prepare")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'rec-start'")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'rec-pause'",
                           timeout=(COUNTDOWN_S + 10) * 1000)
    page.wait_for_timeout(2000)
    page.keyboard.press("Enter")  # Pause
    page.wait_for_function("() => document.activeElement.id === 'rec-resume'")
    page.keyboard.press("Enter")  # Resume
    page.wait_for_function("() => document.activeElement.id === 'rec-pause'")
    page.wait_for_timeout(2000)
    tab_to("rec-stop")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'rec-review-text'")
    tab_to("rec-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)


def test_the_recorder_states_pass_axe(context, live_server, room):
    page = open_recorder(context, live_server, room)
    assert_accessible(page, "recorder: choose what to record")
    get_ready(page)
    # The fake microphone beeps: the level meter moves.
    page.wait_for_function("() => document.getElementById('rec-meter').value > 0.01")
    assert page.locator("#rec-camera option").count() >= 1
    assert_accessible(page, "recorder: ready")
    start_recording(page)
    page.wait_for_timeout(1000)
    check_state(page, "student-recording")
    page.click("#rec-pause")
    assert_accessible(page, "recorder: paused")
    page.click("#rec-resume")
    page.click("#rec-stop")
    page.wait_for_selector("#rec-review:not([hidden])")
    page.wait_for_function("() => document.getElementById('rec-playback').readyState >= 1")
    check_state(page, "student-recording-review")


FRAME_PAGE = """<!doctype html><html lang="en"><head><title>Course</title></head><body>
<iframe src="{src}" title="The tool" allow="camera 'none'; microphone 'none'"></iframe>
</body></html>"""


def test_a_frame_that_withholds_the_camera_offers_a_new_window(context, live_server, room):
    page = context.new_page()
    launch = room.launch(room.student)
    src = f"{live_server.url}/assignment?launch={launch.id}"
    outer = f"{live_server.url}/__course_page"
    page.route(outer, lambda route: route.fulfill(
        status=200, content_type="text/html", body=FRAME_PAGE.format(src=src)))
    page.goto(outer)
    frame = page.frame_locator("iframe")
    frame.locator("#recorder:not([hidden])").wait_for()
    frame.locator("#rec-prepare").click()
    frame.locator("#rec-blocked:not([hidden])").wait_for()
    assert "does not let this tool use the camera" in frame.locator("#rec-blocked").inner_text()
    link = frame.locator("#rec-new-window")
    assert link.is_visible() and link.get_attribute("href") == src
