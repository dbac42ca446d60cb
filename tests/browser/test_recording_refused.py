"""A browser that refuses to keep a recording in IndexedDB (its storage full, or a private
window) while it is sent as it records (the local disk here; S3 takes the same path in
recording-upload.js): the page says the recording is not kept in this browser, and the
recording still goes to the server and is submitted."""
from __future__ import annotations

from tests.browser.a11y import assert_accessible
from tests.browser.test_recording import (context, get_ready, media_browser,  # noqa: F401
                                          open_recorder, start_recording, stop_and_review,
                                          submit_and_wait_ready)
from tests.browser.test_recording_cloudflare import KEPT, REFUSE_WRITES
from tests.uploading import room  # noqa: F401


def test_a_refused_write_while_sending_says_the_recording_is_not_kept(
        context, live_server, room):  # noqa: F811
    context.add_init_script(REFUSE_WRITES)
    page = open_recorder(context, live_server, room)
    get_ready(page)
    began = start_recording(page)
    page.wait_for_selector("#rec-not-kept:not([hidden])")
    assert "not kept in this browser" in page.inner_text("#rec-not-kept")
    page.wait_for_function("() => document.getElementById('live-alert').textContent"
                           ".includes('not kept in this browser')")
    assert_accessible(page, "recorder: sending, the recording is not kept")
    page.wait_for_selector("#rec-upload-line:has-text('already sent')")
    page.wait_for_timeout(2000)
    stop_and_review(page, began)
    assert page.evaluate(KEPT)[1] == 0
    submit_and_wait_ready(page)
    assert page.is_hidden("#rec-not-kept")  # submitted: nothing left to lose
