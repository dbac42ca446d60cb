"""Recording in the browser with S3 storage when things go wrong, in real Chromium with fake
camera and microphone against moto's S3 server: a network lost while recording, a part
(and a completion) whose answer is lost, a part URL the bucket refuses, a busy bucket (503
SlowDown with Retry-After) and one that keeps refusing, the longest length and the
assignment's size limit (passed while recording, and by the last part at Submit). The camera films noise (a y4m file), which the encoder cannot squeeze: a 5 MiB part
fills in seconds, not in a minute. Where the recording reaches the bucket, the stored
object is compared byte for byte with what MediaRecorder handed the page."""
from __future__ import annotations

import base64
import subprocess
import time

import pytest

from lti_tool.statuses import VideoStatus
from tests.browser.a11y import assert_accessible
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_recording import (MEDIA_ARGS, context, get_ready,  # noqa: F401
                                          latest_video, open_recorder, start_recording,
                                          stop_and_review, submit_and_wait_ready)
from tests.s3_server import (admin_client, app_config, cors_rules, moto_server,  # noqa: F401
                             s3_bucket)
from tests.uploading import room  # noqa: F401

MIN_PART = 5 * 1024 * 1024
PART_WAIT_MS = 90000  # noise at the recorder's bit rate fills a part in about 20 s
PART_PUT = "**/*partNumber=*"
MAX_REFUSALS = 6  # recording-upload.js: refusals in a row before sending stops
# Every chunk MediaRecorder hands the page, kept aside for the test to read back.
KEEP_CHUNKS = """(() => {
  const Native = window.MediaRecorder;
  if (!Native) return;
  window.__recorded = [];
  window.MediaRecorder = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("dataavailable", (e) => {
        if (e.data && e.data.size) window.__recorded.push(e.data);
      });
    }
  };
})();"""
READ_RECORDED = """() => new Promise((resolve) => {
  const reader = new FileReader();
  reader.onload = () => resolve(reader.result.split(",")[1]);
  reader.readAsDataURL(new Blob(window.__recorded));
})"""
KEPT_IN_BROWSER = """() => new Promise((resolve) => {
  const req = indexedDB.open('video-recordings');
  req.onsuccess = () => { const tx = req.result.transaction(['sessions', 'chunks']);
    const s = tx.objectStore('sessions').count(), c = tx.objectStore('chunks').count();
    tx.oncomplete = () => resolve([s.result, c.result]); };
})"""


@pytest.fixture(scope="module")
def media_browser(browser, tmp_path_factory):
    """A Chromium whose fake camera films noise (what the encoder cannot make small)."""
    noise = tmp_path_factory.mktemp("camera") / "noise.y4m"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "nullsrc=s=640x480:r=30,geq=lum='random(1)*255':cb=128:cr=128",
                    "-t", "2", "-pix_fmt", "yuv420p", str(noise)], check=True)
    fake = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-video-capture={noise}"])
    yield fake
    fake.close()


@pytest.fixture
def cors(live_server, moto_server, s3_bucket):
    admin_client(moto_server).put_bucket_cors(Bucket=s3_bucket,
                                              CORSConfiguration=cors_rules(live_server.url))


def ready_recorder(context, live_server, room):  # noqa: F811
    """Open the student's page, ready to record, keeping aside what MediaRecorder hands it."""
    context.add_init_script(KEEP_CHUNKS)
    page = open_recorder(context, live_server, room)
    get_ready(page)
    return page


@pytest.fixture
def recorder(context, live_server, room, cors):  # noqa: F811
    return ready_recorder(context, live_server, room)


class Parts:
    """What the page asked of the tool and the bucket: signatures and part PUTs, in order."""

    def __init__(self, page):
        self.signed = []  # (moment, part number, size)
        self.puts = []  # (moment, part number)
        self.landed = []  # part numbers the bucket answered 200 to, as the browser saw it
        page.on("request", self._request)
        page.on("response", lambda r: r.request.method == "PUT" and "partNumber=" in r.url
                and r.status == 200 and self.landed.append(part_number(r.url)))

    def _request(self, r):
        if r.url.endswith("/multipart/sign"):
            body = r.post_data_json
            self.signed.append((time.monotonic(), body["part_number"], body["size"]))
        elif r.method == "PUT" and "partNumber=" in r.url:
            self.puts.append((time.monotonic(), part_number(r.url)))

    def numbers(self):
        return [n for _, n in self.puts]


def part_number(url: str) -> int:
    return int(url.split("partNumber=")[1].split("&")[0])


def wait_until(page, test, what: str, timeout_ms: int = PART_WAIT_MS):
    """Let the page run (its events) until `test()` holds."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not test():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(200)


def upload_line(page) -> str:
    return page.inner_text("#rec-upload-line")


def recorded_bytes(page) -> bytes:
    return base64.b64decode(page.evaluate(READ_RECORDED))


def stored_object(app, moto_server, s3_bucket) -> bytes:  # noqa: F811
    video = latest_video(app)
    return admin_client(moto_server).get_object(Bucket=s3_bucket,
                                                Key=video.storage_uid)["Body"].read()


def open_uploads(moto_server, s3_bucket) -> list:  # noqa: F811
    return admin_client(moto_server).list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])


def bucket_answer(route, live_server, status: int, code: str, **headers):
    """Answer a part's PUT as the bucket would refuse it (readable across origins)."""
    route.fulfill(status=status, body=f"<Error><Code>{code}</Code></Error>",
                  headers={"Content-Type": "application/xml",
                           "Access-Control-Allow-Origin": live_server.url,
                           "Access-Control-Expose-Headers": "ETag, Retry-After", **headers})


def spoil_first_puts(page, count, answer) -> list:
    """Route part PUTs: the first `count` get `answer(route)` (what it returns is kept in
    the list returned), the others reach the bucket."""
    spoiled = []

    def handle(route):
        if route.request.method != "PUT" or len(spoiled) >= count:
            route.continue_()
        else:
            spoiled.append(answer(route))

    page.route(PART_PUT, handle)
    return spoiled


def lose_answer(route):
    """The bucket stores the part, and the browser never hears it; return its answer."""
    stored = route.fetch()
    route.abort()
    return stored


def assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket):  # noqa: F811
    """The bucket holds exactly what MediaRecorder produced, sent in parts in order."""
    stored = stored_object(app, moto_server, s3_bucket)
    assert stored == recorded_bytes(page), (len(stored), parts.signed)
    landed = parts.landed
    assert landed == list(range(1, len(landed) + 1)), landed
    assert latest_video(app).size_bytes == len(stored)
    assert open_uploads(moto_server, s3_bucket) == []
    assert page.evaluate(KEPT_IN_BROWSER) == [0, 0]


def test_a_network_lost_while_recording_loses_nothing(
        app, recorder, moto_server, s3_bucket):  # noqa: F811
    page, context = recorder, recorder.context
    parts = Parts(page)
    began = start_recording(page)
    wait_until(page, lambda: parts.landed, "the first part")
    context.set_offline(True)
    # The next part falls due while offline: it waits, kept in the browser.
    page.wait_for_function("() => document.getElementById('rec-upload-line')"
                           ".textContent.includes('interrupted')", timeout=PART_WAIT_MS)
    assert page.is_visible("#rec-stop")
    context.set_offline(False)
    wait_until(page, lambda: len(parts.landed) >= 2, "the part that waited")
    seconds = stop_and_review(page, began)
    submit_and_wait_ready(page)
    assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket)
    assert [s for _, _, s in parts.signed][0] >= MIN_PART
    video = latest_video(app)
    assert abs(video.duration_seconds - seconds) < 2, (video.duration_seconds, seconds)


def test_a_part_whose_answer_is_lost_is_not_sent_twice(
        app, recorder, live_server, moto_server, s3_bucket):  # noqa: F811
    page = recorder
    parts = Parts(page)
    lost = spoil_first_puts(page, 1, lose_answer)
    began = start_recording(page)
    wait_until(page, lambda: lost, "the first part")
    assert lost[0].status == 200
    page.wait_for_function("() => document.getElementById('rec-upload-line')"
                           ".textContent.includes('already sent')", timeout=20000)
    stop_and_review(page, began)
    submit_and_wait_ready(page)
    # The bucket's list of parts told the page part 1 was held: it was not sent again.
    assert parts.numbers().count(1) == 1, parts.puts
    assert [n for _, n, _ in parts.signed].count(1) == 1, parts.signed
    parts.landed.insert(0, 1)  # the answer the browser never saw
    assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket)


def test_a_completion_whose_answer_is_lost_still_hands_the_recording_in(
        app, recorder, moto_server, s3_bucket):  # noqa: F811
    page = recorder
    parts = Parts(page)
    completed = []

    def complete_answer_lost_once(route):
        if completed:
            route.continue_()
        else:
            completed.append(lose_answer(route))

    page.route("**/multipart/complete", complete_answer_lost_once)
    began = start_recording(page)
    page.wait_for_timeout(4000)
    stop_and_review(page, began)
    asked = []
    page.on("request", lambda r: r.url.endswith("/multipart/complete") and asked.append(r))
    submit_and_wait_ready(page)
    assert completed[0].status == 200  # the tool completed it; the page asked again
    assert len(asked) == 2
    assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket)


def test_a_refused_part_url_is_signed_again(
        app, recorder, live_server, moto_server, s3_bucket):  # noqa: F811
    page = recorder
    parts = Parts(page)
    refused = spoil_first_puts(page, 1, lambda route: bucket_answer(
        route, live_server, 403, "AccessDenied"))
    began = start_recording(page)
    page.wait_for_timeout(4000)  # a chunk or two: the recording fits in one last part
    stop_and_review(page, began)
    submit_and_wait_ready(page)
    assert len(refused) == 1
    assert parts.numbers() == [1, 1], parts.puts
    # Signed again, not the refused URL sent again.
    assert [n for _, n, _ in parts.signed] == [1, 1], parts.signed
    assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket)


def test_a_busy_bucket_is_waited_out_as_it_asks(
        app, recorder, live_server, moto_server, s3_bucket):  # noqa: F811
    page = recorder
    parts = Parts(page)
    retry_after_s = 2
    busy = spoil_first_puts(page, 3, lambda route: bucket_answer(
        route, live_server, 503, "SlowDown", **{"Retry-After": str(retry_after_s)}))
    began = start_recording(page)
    page.wait_for_timeout(4000)
    stop_and_review(page, began)
    page.click("#rec-submit")
    page.wait_for_function("() => document.getElementById('rec-upload-line')"
                           ".textContent.includes('busy')")
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    assert len(busy) == 3 and len(parts.puts) == 4, parts.puts
    gaps = [b - a for (a, _), (b, _) in zip(parts.puts, parts.puts[1:])]
    assert all(gap >= retry_after_s - 0.1 for gap in gaps), gaps
    assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket)


def test_a_bucket_that_keeps_refusing_leaves_the_recording_in_the_browser(
        app, recorder, live_server, moto_server, s3_bucket):  # noqa: F811
    page = recorder
    parts = Parts(page)
    spoil_first_puts(page, float("inf"), lambda route: bucket_answer(
        route, live_server, 503, "SlowDown", **{"Retry-After": "1"}))
    began = start_recording(page)
    page.wait_for_function("() => document.getElementById('live-alert').textContent"
                           ".includes('kept in this browser')", timeout=PART_WAIT_MS)
    refused, asked = len(parts.puts), len(parts.signed)
    assert refused == MAX_REFUSALS, parts.puts
    assert page.is_visible("#rec-stop")  # the recording goes on, kept in the browser
    sessions, chunks = page.evaluate(KEPT_IN_BROWSER)
    assert sessions == 1 and chunks >= 1
    page.wait_for_timeout(4000)  # a chunk more: no part is signed or tried meanwhile
    assert (len(parts.puts), len(parts.signed)) == (refused, asked)
    stop_and_review(page, began)
    page.unroute(PART_PUT)
    submit_and_wait_ready(page)  # Submit sends what was kept
    assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket)


def test_the_longest_length_stops_the_recording_and_it_reaches_the_bucket(
        app, context, live_server, room, cors, moto_server, s3_bucket):  # noqa: F811
    room.update_assignment(max_duration_seconds=25)
    page = ready_recorder(context, live_server, room)
    parts = Parts(page)
    start_recording(page)
    page.wait_for_selector("#rec-review:not([hidden])", timeout=40000)
    assert page.inner_text("#rec-timer") == "0:25"
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           ".includes('longest length allowed')", timeout=5000)
    assert parts.landed, "no part left while recording"
    submit_and_wait_ready(page)
    assert_whole_in_bucket(app, page, parts, moto_server, s3_bucket)
    assert 23.5 <= latest_video(app).duration_seconds <= 25.5


def test_a_recording_past_the_size_limit_stops_and_leaves_nothing_open(
        app, context, live_server, room, cors, moto_server, s3_bucket):  # noqa: F811
    room.update_assignment(max_file_bytes=4 * 1024 * 1024)
    page = ready_recorder(context, live_server, room)
    parts = Parts(page)
    refused = []
    page.on("response", lambda r: r.url.endswith("/multipart/sign") and r.status == 413
            and refused.append(r.json()["error"]["code"]))
    start_recording(page)
    # The first part (5 MiB) is past the 4 MiB allowed: the tool will not sign it.
    page.wait_for_selector("#rec-review:not([hidden])", timeout=PART_WAIT_MS)
    assert refused == ["upload_too_large"]
    assert parts.puts == []
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           ".includes('larger than')", timeout=5000)
    said = page.inner_text("#live-status")
    assert "4 MB" in said and "stopped" in said, said
    assert "larger than" in page.inner_text("#rec-review-text")
    assert page.is_hidden("#rec-submit") and page.is_visible("#rec-retake")
    # Nothing half-done: the multipart upload is aborted, the attempt closed, the browser
    # keeps nothing to offer again.
    wait_until(page, lambda: not open_uploads(moto_server, s3_bucket), "the abort", 10000)
    video = latest_video(app)
    assert (video.status, video.error_code) == (VideoStatus.ERROR, "upload_too_large")
    page.wait_for_function(KEPT_IN_BROWSER.replace("resolve([s.result, c.result])",
                                                   "resolve(s.result + c.result === 0)"))
    page.reload()
    page.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    assert page.is_hidden("#rec-recovery")


def test_a_recording_past_the_size_limit_at_submit_cannot_be_submitted_again(
        app, context, live_server, room, cors, moto_server, s3_bucket):  # noqa: F811
    room.update_assignment(max_file_bytes=1024 * 1024)
    page = ready_recorder(context, live_server, room)
    parts = Parts(page)
    began = start_recording(page)
    page.wait_for_timeout(2000)  # a chunk or two, under a part: all of it leaves at Submit
    stop_and_review(page, began)
    assert parts.signed == []
    page.click("#rec-submit")
    page.wait_for_function("() => document.getElementById('rec-review-text').textContent"
                           ".includes('larger than')")
    assert page.is_hidden("#rec-submit") and page.is_visible("#rec-retake")
    assert "1 MB" in page.inner_text("#rec-review-text")
    # The keyboard is not left on the Submit button that went away.
    assert page.evaluate("document.activeElement.id") == "rec-review-text"
    assert_accessible(page, "recorder: a recording past the size limit")
    assert parts.puts == []
    wait_until(page, lambda: not open_uploads(moto_server, s3_bucket), "the abort", 10000)
    video = latest_video(app)
    assert (video.status, video.error_code) == (VideoStatus.ERROR, "upload_too_large")
    page.wait_for_function(KEPT_IN_BROWSER.replace("resolve([s.result, c.result])",
                                                   "resolve(s.result + c.result === 0)"))
