"""The student's upload page in real Chromium: upload through the UI, progress, ready
status, the preview player; and the drop zone reached and used with the keyboard alone."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.uploading import room, sample_mp4, sample_webm  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor" / "tus-js-client" / "tus.min.js"


@pytest.fixture(autouse=True)
def _vendor_installed():
    if not VENDOR.exists():
        pytest.fail("tus-js-client is not installed: run `npm ci` (the setup does it).")


def open_assignment(page, live_server, room):
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.wait_for_function("() => window.VideoUpload && window.VideoUpload.page")  # script ready
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
    assert "Choose a video file" in zone.get_attribute("aria-label")
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
                                                                tmp_path):
    """Pause half-way, reload, pick the same file: resume from the server's offset."""
    from tests.uploading import make_sample_video
    video = make_sample_video(tmp_path / "long.webm", seconds=20, size="640x480",
                              codec="libvpx")
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
