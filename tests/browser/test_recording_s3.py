"""Recording in the browser with S3 storage, in real Chromium with fake camera and
microphone against moto's S3 server (another origin, whose bucket CORS exposes ETag): the
recording leaves in parts of at least 5 MiB while it records, straight to the bucket, and
Submit sends the last part and completes the upload with the recording's size."""
from __future__ import annotations

import time

import pytest

from tests.browser.test_recording import (context, get_ready, latest_video,  # noqa: F401
                                          media_browser, open_recorder, start_recording,
                                          stop_and_review)
from tests.s3_server import (admin_client, app_config, cors_rules, moto_server,  # noqa: F401
                             s3_bucket)
from tests.uploading import room  # noqa: F401

MIN_PART = 5 * 1024 * 1024
FIRST_PART_WAIT_S = 120  # the fake camera fills 5 MiB in about a minute


@pytest.fixture
def cors(live_server, moto_server, s3_bucket):
    admin_client(moto_server).put_bucket_cors(Bucket=s3_bucket,
                                              CORSConfiguration=cors_rules(live_server.url))


def test_a_recording_goes_to_the_bucket_in_parts_while_it_records(
        app, context, live_server, room, cors, moto_server, s3_bucket):  # noqa: F811
    puts = []  # (moment, part number) of each part PUT to the bucket
    signed = {}  # part number: the size its URL was signed for (the PUT must carry exactly it)
    context.on("request", lambda r: r.method == "PUT" and "partNumber=" in r.url and puts.append(
        (time.monotonic(), int(r.url.split("partNumber=")[1].split("&")[0]))))
    context.on("request", lambda r: r.url.endswith("/multipart/sign") and signed.update(
        {r.post_data_json["part_number"]: r.post_data_json["size"]}))
    page = open_recorder(context, live_server, room)
    get_ready(page)
    began = start_recording(page)
    deadline = time.monotonic() + FIRST_PART_WAIT_S
    while not puts and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert puts, "no part left while recording"
    assert page.is_visible("#rec-stop")  # still recording when the first part left
    page.wait_for_selector("#rec-upload-line:has-text('already sent')")
    seconds = stop_and_review(page, began)
    page.wait_for_function("() => document.getElementById('rec-playback').readyState >= 1")
    page.click("#rec-submit")
    page.wait_for_function("() => ['ready', 'error'].includes("
                           "document.getElementById('current-status').dataset.status)",
                           timeout=60000)
    assert page.get_attribute("#current-status", "data-status") == "ready", \
        page.inner_text("#current-status")
    numbers = [n for _, n in puts]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 2, puts
    assert sorted(signed) == numbers, signed
    assert all(signed[n] >= MIN_PART for n in numbers[:-1]), signed
    video = latest_video(app)
    stored = admin_client(moto_server).get_object(Bucket=s3_bucket,
                                                  Key=video.storage_uid)["Body"].read()
    assert video.size_bytes == len(stored) == sum(signed.values())
    assert video.filename.endswith(".webm") and stored[:4] == b"\x1a\x45\xdf\xa3"  # EBML
    assert video.duration_seconds and abs(video.duration_seconds - seconds) < 2
    # Nothing of the recording is left in the browser once the bucket holds it.
    left = page.evaluate("""() => new Promise((resolve) => {
        const req = indexedDB.open('video-recordings');
        req.onsuccess = () => { const tx = req.result.transaction(['sessions', 'chunks']);
          const s = tx.objectStore('sessions').count(), c = tx.objectStore('chunks').count();
          tx.oncomplete = () => resolve([s.result, c.result]); };
      })""")
    assert left == [0, 0]


def test_a_closed_tab_leaves_the_recording_to_finish_in_the_bucket(
        app, context, live_server, room, cors, moto_server, s3_bucket):  # noqa: F811
    page = open_recorder(context, live_server, room)
    get_ready(page)
    start_recording(page)
    page.wait_for_timeout(7000)  # about seven chunks kept, too few bytes for a part: none left yet
    page.close()
    page = open_recorder(context, live_server, room)
    page.wait_for_selector("#rec-recovery:not([hidden])")
    assert "not completely sent" in page.inner_text("#rec-recovery-text")
    page.click("#rec-recover")
    page.wait_for_function("() => ['ready', 'error'].includes("
                           "document.getElementById('current-status').dataset.status)",
                           timeout=60000)
    assert page.get_attribute("#current-status", "data-status") == "ready", \
        page.inner_text("#current-status")
    video = latest_video(app)
    assert 5 <= video.duration_seconds <= 9.5, video.duration_seconds
    stored = admin_client(moto_server).get_object(Bucket=s3_bucket,
                                                  Key=video.storage_uid)["Body"].read()
    assert video.size_bytes == len(stored) > 0
    page.reload()
    page.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    assert page.is_hidden("#rec-recovery")  # sent, and forgotten by the browser
