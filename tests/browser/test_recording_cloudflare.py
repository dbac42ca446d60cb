"""Recording in the browser with Cloudflare Stream storage, in real Chromium with fake camera
and microphone against a fake Stream: nothing can be sent while recording (Stream's upload
is created with its length), so every chunk is held in IndexedDB (recording-hold.js) until
the file uploader has sent the finished recording. A tab closed while recording or while
sending offers the recording again; "Discard it" forgets it; a browser that refuses to keep
it says so, and the recording is still submitted."""
from __future__ import annotations

import time

import pytest

from tests import cloudflare_fake as cf
from tests.browser.a11y import assert_accessible
from tests.browser.stream_fakes import FAKE_PLAYER, FAKE_SDK, SDK_URL
from tests.browser.test_recording import (context, get_ready, media_browser,  # noqa: F401
                                          open_recorder, start_recording, stop_and_review)
from tests.cloudflare_fake import fake_stream  # noqa: F401  (fixture)
from tests.uploading import room  # noqa: F401

CHUNK = 5 * 1024 * 1024
EBML = b"\x1a\x45\xdf\xa3"  # a WebM file's first bytes
RECORD_MS = 3000
# What the browser keeps of recordings: [sessions, chunks, bytes in chunks, held sessions].
KEPT = """() => new Promise((resolve, reject) => {
    const req = indexedDB.open('video-recordings');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const tx = req.result.transaction(['sessions', 'chunks']);
      const s = tx.objectStore('sessions').getAll(), c = tx.objectStore('chunks').getAll();
      tx.oncomplete = () => resolve([s.result.length, c.result.length,
        c.result.reduce((n, x) => n + x.blob.size, 0), s.result.filter((x) => x.held).length]);
    };
  })"""
# The browser refuses every IndexedDB write, as a full storage does.
STORAGE_FULL = """IDBObjectStore.prototype.put = function () {
  throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
};"""
# A full storage as browsers report it: the write's transaction is aborted (QuotaExceededError
# on the transaction), the request fails with it.
STORAGE_ABORTS = """(() => {
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (...args) {
    const request = put.apply(this, args);
    this.transaction.abort();
    return request;
  };
})();"""
# The browser has no IndexedDB to open, as some private windows do.
NO_INDEXEDDB = """IDBFactory.prototype.open = function () {
  throw new DOMException('IndexedDB is not available here.', 'InvalidStateError');
};"""


@pytest.fixture
def app_config(app_config, fake_stream):  # noqa: F811
    app_config.update(cf.settings(CLOUDFLARE_API_BASE=fake_stream.api_base,
                                  CLOUDFLARE_TUS_CHUNK_BYTES=CHUNK,
                                  CLOUDFLARE_UPLOAD_ORIGINS=fake_stream.url))
    return app_config


@pytest.fixture
def stream_context(context):  # noqa: F811
    """The fake-device context, with Cloudflare's player and SDK answered by the fakes."""
    context.route(f"https://{cf.SUBDOMAIN}/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body=FAKE_PLAYER))
    context.route(SDK_URL, lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=FAKE_SDK))
    return context


def kept(page) -> list[int]:
    return page.evaluate(KEPT)


def record(page) -> None:
    """Record a few seconds and stop."""
    get_ready(page)
    began = start_recording(page)
    page.wait_for_timeout(RECORD_MS)
    stop_and_review(page, began)


def record_and_close(context, live_server, room):  # noqa: F811
    """Record a few seconds, close the tab while recording; return the page opened again."""
    page = open_recorder(context, live_server, room)
    get_ready(page)
    start_recording(page)
    page.wait_for_timeout(RECORD_MS)
    page.close()
    return open_recorder(context, live_server, room)


def wait_submitted(page) -> None:
    page.wait_for_function("() => ['ready', 'error'].includes("
                           "document.getElementById('current-status').dataset.status)",
                           timeout=60000)
    assert page.get_attribute("#current-status", "data-status") == "ready", \
        page.inner_text("#current-status")


def wait_forgotten(page, timeout_s: float = 10) -> None:
    """Wait until the browser keeps nothing of any recording (IndexedDB answers only
    asynchronously, which wait_for_function does not await: it is asked again here)."""
    deadline = time.monotonic() + timeout_s
    while (left := kept(page))[:2] != [0, 0]:
        assert time.monotonic() < deadline, f"still kept: {left}"
        page.wait_for_timeout(100)


def tab_to(page, element_id, limit=40):
    for _ in range(limit):
        if page.evaluate("document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached #{element_id}")


def record_refused(context, live_server, room, refusal=STORAGE_FULL):  # noqa: F811
    """Start recording in a browser that refuses to keep it; check it is said (on the page
    and in the live region, accessibly); return the page and when it began."""
    context.add_init_script(refusal)
    page = open_recorder(context, live_server, room)
    get_ready(page)
    began = start_recording(page)
    page.wait_for_selector("#rec-not-kept:not([hidden])")
    assert "not kept in this browser" in page.inner_text("#rec-not-kept")
    page.wait_for_function("() => document.getElementById('live-alert').textContent"
                           ".includes('not kept in this browser')")
    assert_accessible(page, "recorder: the recording is not kept")
    return page, began


def block_stream_patches(page, fake_stream):  # noqa: F811
    """Make every PATCH to Stream fail, as a dead network does (the upload retries)."""
    page.route(f"{fake_stream.url}/tus/**", lambda route: route.abort()
               if route.request.method == "PATCH" else route.continue_())


def test_a_recording_is_held_in_the_browser_until_stream_has_it(
        stream_context, live_server, room, fake_stream):  # noqa: F811
    page = open_recorder(stream_context, live_server, room)
    record(page)
    sessions, chunks, held_bytes, held = kept(page)
    assert sessions == held == 1 and chunks >= 3, (sessions, chunks, held)  # a chunk a second
    page.click("#rec-submit")
    wait_submitted(page)
    (video,) = fake_stream.videos.values()
    # Every chunk was held, the last one too: the held bytes are the file Stream got.
    assert len(video["data"]) == video["length"] == held_bytes
    assert video["data"][:4] == EBML
    wait_forgotten(page)  # sent: the browser keeps nothing of it
    assert page.is_hidden("#rec-not-kept")


def test_a_tab_closed_while_recording_offers_the_recording_and_sends_it_by_keyboard(
        stream_context, live_server, room, fake_stream):  # noqa: F811
    page = record_and_close(stream_context, live_server, room)
    page.wait_for_selector("#rec-recovery:not([hidden])")
    assert "was not uploaded" in page.inner_text("#rec-recovery-text")
    assert page.inner_text("#rec-recover") == "Upload it"
    assert_accessible(page, "recorder: a held recording offered")
    held_bytes = kept(page)[2]
    assert held_bytes > 0
    tab_to(page, "rec-recover")
    page.keyboard.press("Enter")
    wait_submitted(page)
    # Focus followed the upload (Pause) and then its outcome, never dropped to the page.
    page.wait_for_function("() => document.activeElement.id === 'current-status'")
    (video,) = fake_stream.videos.values()
    assert len(video["data"]) == held_bytes and video["data"][:4] == EBML
    wait_forgotten(page)
    page.reload()
    page.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    assert page.is_hidden("#rec-recovery")


# The tab closes once the upload finished but before the recorder heard of it: the
# uploader's "sent" never reaches the recorder (a capture listener on the target runs first).
SENT_NEVER_HEARD = """document.addEventListener('recording:file-sent',
  (e) => e.stopImmediatePropagation(), true);"""


def test_a_recording_sent_before_the_tab_closed_is_not_offered_again(
        stream_context, live_server, room, fake_stream):  # noqa: F811
    page = open_recorder(stream_context, live_server, room)
    page.add_init_script(SENT_NEVER_HEARD)
    page.reload()
    page.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    record(page)
    page.click("#rec-submit")
    wait_submitted(page)
    assert kept(page)[3] == 1  # the hold was not told: still there
    page.close()
    page = open_recorder(stream_context, live_server, room)
    # Its attempt is on the server whole: nothing to offer, and the hold is forgotten.
    assert page.is_hidden("#rec-recovery")
    wait_forgotten(page)
    assert len(fake_stream.videos) == 1


def test_a_tab_closed_while_sending_offers_the_recording_and_continues_the_upload(
        stream_context, live_server, room, fake_stream):  # noqa: F811
    page = open_recorder(stream_context, live_server, room)
    block_stream_patches(page, fake_stream)
    record(page)
    page.click("#rec-submit")
    page.wait_for_selector("#notice:has-text('Retrying')", timeout=30000)
    assert kept(page)[3] == 1  # not sent yet: still held
    page.close()
    page = open_recorder(stream_context, live_server, room)
    page.wait_for_selector("#rec-recovery:not([hidden])")
    page.click("#rec-recover")
    # The same file (name, type, date): the uploader finds the upload the closed tab began.
    page.wait_for_selector("#resume-offer:not([hidden])")
    page.click("#resume-yes")
    wait_submitted(page)
    assert len(fake_stream.videos) == 1  # continued, not a second upload
    (video,) = fake_stream.videos.values()
    assert len(video["data"]) == video["length"] and video["data"][:4] == EBML
    wait_forgotten(page)


def test_a_held_recording_is_offered_to_its_student_only_and_discarding_forgets_it(
        stream_context, live_server, room, fake_stream):  # noqa: F811
    page = record_and_close(stream_context, live_server, room)
    page.wait_for_selector("#rec-recovery:not([hidden])")
    # Another student in the same browser is not offered it (nor is it lost for its own).
    other = open_recorder(stream_context, live_server, room, who="other_student")
    assert other.is_hidden("#rec-recovery")
    assert kept(other)[3] == 1
    other.close()
    tab_to(page, "rec-discard")
    page.keyboard.press("Enter")
    page.wait_for_selector("#rec-recovery", state="hidden")
    assert page.evaluate("document.activeElement.id") == "rec-prepare"
    wait_forgotten(page)
    page.reload()
    page.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    assert page.is_hidden("#rec-recovery")
    assert not fake_stream.videos


def test_cancelling_the_upload_of_a_recording_forgets_it(stream_context, live_server, room,
                                                         fake_stream):  # noqa: F811
    page = open_recorder(stream_context, live_server, room)
    block_stream_patches(page, fake_stream)
    record(page)
    page.click("#rec-submit")
    page.wait_for_selector("#notice:has-text('Retrying')", timeout=30000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-btn")
    page.wait_for_selector("#notice:has-text('Upload cancelled')")
    wait_forgotten(page)


@pytest.mark.parametrize("refusal", [STORAGE_FULL, STORAGE_ABORTS, NO_INDEXEDDB],
                         ids=["full", "aborted", "no-indexeddb"])
def test_a_browser_that_refuses_to_keep_the_recording_says_so_and_still_submits(
        stream_context, live_server, room, fake_stream, refusal):  # noqa: F811
    errors = []
    stream_context.on("weberror", lambda err: errors.append(str(err.error)))
    page, began = record_refused(stream_context, live_server, room, refusal)
    page.wait_for_timeout(RECORD_MS)
    stop_and_review(page, began)
    if refusal == STORAGE_FULL:
        assert kept(page)[1] == 0
    page.click("#rec-submit")
    wait_submitted(page)
    (video,) = fake_stream.videos.values()
    assert len(video["data"]) == video["length"] > 0 and video["data"][:4] == EBML
    # A refused write is said on the page, never left as an unhandled error.
    assert errors == []
