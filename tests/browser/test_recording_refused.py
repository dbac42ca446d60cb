"""A browser that refuses to keep a recording in IndexedDB (its storage full, or a private
window) while it is sent as it records (the local disk here; S3 takes the same path in
recording-upload.js): the page says the recording is not kept in this browser, and the
recording still goes to the server and is submitted."""
from __future__ import annotations

import pytest

from tests.browser.test_recording import (context, media_browser,  # noqa: F401
                                          stop_and_review, submit_and_wait_ready)
from tests.browser.test_recording_cloudflare import (KEPT, NO_INDEXEDDB, STORAGE_FULL,
                                                     record_refused)
from tests.uploading import room  # noqa: F401


@pytest.mark.parametrize("refusal", [STORAGE_FULL, NO_INDEXEDDB], ids=["full", "no-indexeddb"])
def test_a_refused_write_while_sending_says_the_recording_is_not_kept(
        context, live_server, room, refusal):  # noqa: F811
    page, began = record_refused(context, live_server, room, refusal)
    page.wait_for_selector("#rec-upload-line:has-text('already sent')")
    page.wait_for_timeout(2000)
    stop_and_review(page, began)
    if refusal == STORAGE_FULL:
        assert page.evaluate(KEPT)[1] == 0
    submit_and_wait_ready(page)
    assert page.is_hidden("#rec-not-kept")  # submitted: nothing left to lose
