"""The student's upload page in real Chromium: upload through the UI, progress, ready
status, the preview player; and the drop zone reached and used with the keyboard alone."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.uploading import long_webm, room, sample_mp4, sample_webm  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor" / "tus-js-client" / "tus.min.js"


@pytest.fixture(autouse=True)
def _vendor_installed():
    if not VENDOR.exists():
        pytest.fail("tus-js-client is not installed: run `npm ci` (the setup does it).")


def open_assignment(page, live_server, room):
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.wait_for_function(  # uploader.js ready
        "() => document.getElementById('submission').dataset.ready === 'true'")
    return launch


def wait_until_submitted(page):
    page.wait_for_function(
        "() => document.getElementById('progress').getAttribute('aria-valuenow') === '100'"
        " || document.getElementById('current-status').dataset.status === 'ready'")
    page.wait_for_selector("#current-status[data-status='ready']", timeout=30000)
    page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return v.currentSrc && v.readyState >= 1 && v.duration > 1; }", timeout=30000)


def test_student_uploads_a_video_and_sees_it_ready(page, live_server, room, sample_webm):
    open_assignment(page, live_server, room)
    progress_seen = []
    page.expose_function("reportProgress", lambda v: progress_seen.append(int(v)))
    page.evaluate("""() => new MutationObserver(() => window.reportProgress(
        document.getElementById('progress').getAttribute('aria-valuenow'))).observe(
        document.getElementById('progress'), {attributes: true})""")
    page.set_input_files("#file-input", str(sample_webm))
    wait_until_submitted(page)
    assert max(progress_seen) == 100
    assert "is submitted" in page.inner_text("#current-status")
    assert page.is_visible("#player")
    rows = page.locator("#history tbody tr")
    assert rows.count() == 1 and "Ready" in rows.first.inner_text()
    assert page.is_visible("#replace-btn")


def test_a_wrong_file_type_is_refused_before_upload(page, live_server, room, tmp_path):
    open_assignment(page, live_server, room)
    doc = tmp_path / "essay.pdf"
    doc.write_bytes(b"%PDF-1.7 not a video")
    page.set_input_files("#file-input", str(doc))
    page.wait_for_selector("#notice:not([hidden])")
    assert "not an accepted video format" in page.inner_text("#notice")
    assert page.is_hidden("#progress-area")


def test_the_drop_zone_works_with_the_keyboard_alone(page, live_server, room, sample_webm):
    choosers = []
    # Listen before any key is pressed: Playwright starts intercepting file choosers when the
    # first listener is added, and a chooser opened before that would never be reported.
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    open_assignment(page, live_server, room)
    zone = page.locator("#dropzone")
    assert zone.get_attribute("role") == "button"
    # Its accessible name is its visible text (axe: label-content-name-mismatch).
    assert page.get_by_role("button", name="Drop your video here, or choose a file").is_visible()
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "dropzone":
            break
    else:
        pytest.fail("the drop zone cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_timeout(100)
    for _ in range(50):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert choosers, "Enter on the drop zone did not open the file picker"
    choosers[0].set_files(str(sample_webm))
    wait_until_submitted(page)


def test_after_a_reload_the_page_offers_to_resume_the_same_file(app, page, live_server, room,
                                                                long_webm):
    """Pause half-way, reload, pick the same file: resume from the server's offset."""
    video = long_webm
    app.config["UPLOAD_CHUNK_BYTES"] = 32 * 1024
    patches = []

    def slow_patch(route):
        if route.request.method == "PATCH":
            patches.append(route.request.headers.get("upload-offset"))
            page.wait_for_timeout(60)
        route.continue_()

    page.route("**/tus/**", slow_patch)
    launch = open_assignment(page, live_server, room)
    page.set_input_files("#file-input", str(video))
    page.wait_for_function(
        "() => +document.getElementById('progress').getAttribute('aria-valuenow') >= 20")
    page.click("#pause-btn")
    page.wait_for_selector("#resume-btn:not([hidden])")

    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.wait_for_selector("#unfinished:not([hidden])")
    assert "Choose the same file again" in page.inner_text("#unfinished")
    page.set_input_files("#file-input", str(video))
    page.wait_for_selector("#resume-offer:not([hidden])")
    first_resumed = len(patches)
    page.click("#resume-yes")
    wait_until_submitted(page)
    resumed_offsets = [int(o) for o in patches[first_resumed:] if o is not None]
    assert resumed_offsets and resumed_offsets[0] > 0  # continued, did not start over
    assert page.locator("#history tbody tr").count() == 1


# --- what the page says, and how it writes sizes and moments ---------------------------------

POLITE_REGIONS = ("() => [...document.querySelectorAll("
                  "'[aria-live=polite], [role=status], [role=log]')].map(e => e.id)")
ALERT_REGIONS = ("() => [...document.querySelectorAll("
                 "'[aria-live=assertive], [role=alert]')].map(e => e.id)")
# Each <time datetime> as shown, beside what one viewer-locale formatter makes of it.
MOMENTS = """() => {
  const viewer = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
  return [...document.querySelectorAll("time[datetime]")].map((t) => {
    const iso = t.getAttribute("datetime");
    const moment = new Date(/(Z|[+-]\\d\\d:?\\d\\d)$/.test(iso) ? iso : iso + "Z");
    return [t.textContent, viewer.format(moment)];
  });
}"""
BUSY_BODY = '{"error": {"code": "rate_limited", "message": "Too many requests."}}'


def busy_answer(seconds: int) -> dict:
    """A 429 as the tool sends it: JSON error, Retry-After."""
    return {"status": 429, "body": BUSY_BODY,
            "headers": {"Retry-After": str(seconds), "Content-Type": "application/json",
                        "Tus-Resumable": "1.0.0"}}


def record_live_regions(page) -> list:
    """Record, in order, what the page's live regions say."""
    said: list = []
    page.expose_function("reportSaid", lambda region, text: said.append((region, text)))
    page.evaluate("""() => ["live-status", "live-alert"].forEach((id) => {
        const region = document.getElementById(id);
        new MutationObserver(() => { if (region.textContent) window.reportSaid(id, region.textContent); })
          .observe(region, {childList: true, characterData: true, subtree: true});
      })""")
    return said


def test_state_changes_are_announced_and_progress_is_not(page, live_server, room, sample_webm):
    open_assignment(page, live_server, room)
    assert page.evaluate(POLITE_REGIONS) == ["live-status"]  # one polite region, no ticker
    assert sorted(page.evaluate(ALERT_REGIONS)) == ["live-alert", "player-error"]  # errors only
    said = record_live_regions(page)
    page.set_input_files("#file-input", str(sample_webm))
    wait_until_submitted(page)
    page.wait_for_function(
        "() => document.getElementById('live-status').textContent === 'Your video is submitted.'")
    assert said[0] == ("live-status", "Uploading “sample.webm”.")
    # "Upload complete. Checking your video…" may be overtaken by the answer: the newest wins.
    assert said[-1] == ("live-status", "Your video is submitted.")
    assert not any("%" in text or "left" in text for _, text in said)  # no progress tick
    # One visible message, the status line; what is said does not repeat it word for word.
    assert page.is_hidden("#notice")
    status = page.inner_text("#current-status")
    assert "sample.webm" in status and status != said[-1][1]


def test_while_the_video_is_prepared_the_status_line_is_the_one_message(page, live_server,
                                                                        room, sample_webm):
    """Not "Upload complete. Checking your video…" above "Upload complete. Preparing …"."""
    open_assignment(page, live_server, room)
    answered = []

    def first_answer_still_processing(route):
        if answered:  # later checks as the server answers them
            return route.continue_()
        real = route.fetch()
        body = dict(real.json(), status="processing", final=False, processing_percent=40,
                    processing_eta_seconds=3)
        answered.append(body)
        route.fulfill(response=real, json=body)

    page.route("**/api/videos/*/status", first_answer_still_processing)
    page.set_input_files("#file-input", str(sample_webm))
    page.wait_for_selector("#current-status[data-status='processing']")
    assert "Preparing your video “sample.webm” for playback (40 %" in page.inner_text(
        "#current-status")
    assert page.is_hidden("#notice")
    wait_until_submitted(page)


def test_an_error_is_said_at_once(page, live_server, room, tmp_path):
    open_assignment(page, live_server, room)
    doc = tmp_path / "essay.pdf"
    doc.write_bytes(b"%PDF-1.7 not a video")
    page.set_input_files("#file-input", str(doc))
    page.wait_for_function(
        "() => document.getElementById('live-alert').textContent.includes('not an accepted')")
    assert page.inner_text("#live-alert") == page.inner_text("#notice")
    assert page.get_attribute("#notice", "role") is None


def test_sizes_and_moments_read_as_on_every_page(page, live_server, room, sample_webm):
    from datetime import datetime, timezone

    from lti_tool.web.formatting import format_size
    room.update_assignment(due_at=datetime(2031, 3, 1, 9, 5, tzinfo=timezone.utc))
    open_assignment(page, live_server, room)
    page.set_input_files("#file-input", str(sample_webm))
    wait_until_submitted(page)
    size = page.locator("#history tbody tr td").nth(2).inner_text()
    assert size == format_size(sample_webm.stat().st_size)  # decimal, as the server writes
    moments = page.evaluate(MOMENTS)
    assert len(moments) == 3  # the due date, the upload and its receipt
    assert all(shown == expected and expected for shown, expected in moments), moments
    assert page.get_attribute(".due time", "title") == "2031-03-01 09:05 UTC"


def test_a_busy_upload_server_is_asked_again_after_its_retry_after(page, live_server, room,
                                                                   sample_webm):
    patches: list = []

    def busy_once(route):
        if route.request.method == "PATCH":
            patches.append(time.monotonic())
            if len(patches) == 1:
                route.fulfill(**busy_answer(2))
                return
        route.continue_()

    page.route("**/tus/**", busy_once)
    open_assignment(page, live_server, room)
    page.set_input_files("#file-input", str(sample_webm))
    page.wait_for_selector("#notice:has-text('Retrying in 2 s')")
    wait_until_submitted(page)
    assert len(patches) >= 2 and patches[1] - patches[0] >= 1.9


def test_a_busy_server_while_checking_the_video_shows_a_countdown(page, live_server, room,
                                                                  sample_webm):
    checks: list = []

    def busy_once(route):
        checks.append(route.request.url)
        if len(checks) == 1:
            route.fulfill(**busy_answer(3))
        else:
            route.continue_()

    page.route(re.compile(r".*/videos/\d+/status(\?.*)?$"), busy_once)
    open_assignment(page, live_server, room)
    page.set_input_files("#file-input", str(sample_webm))
    page.wait_for_selector("#notice:has-text('The server is busy. Checking your video again in 3 s.')")
    page.wait_for_selector("#notice:has-text('The server is busy. Checking your video again in 1 s.')")
    page.wait_for_selector("#current-status[data-status='ready']", timeout=30000)
    assert page.is_hidden("#notice") and "is submitted" in page.inner_text("#current-status")
    assert len(checks) >= 2
