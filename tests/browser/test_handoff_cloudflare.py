"""The phone hand-off to (a fake) Cloudflare Stream in Chromium: the phone's page resumes the
one-time tus URL the tool created, in 5 MiB chunks, with no launch id sent to Stream; the
desktop page shows the video submitted."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests import cloudflare_fake as cf
from tests.browser.test_handoff_phone import open_assignment, open_phone_page, phone_context  # noqa: F401
from tests.cloudflare_fake import fake_stream  # noqa: F401  (fixture)
from tests.uploading import room, three_part_video  # noqa: F401

CHUNK = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A real MP4 of about 12 MB: three 5 MiB tus chunks."""
    return three_part_video(tmp_path_factory.mktemp("cfphone"), CHUNK, seconds=1)


@pytest.fixture
def app_config(app_config, fake_stream):
    # Stream's own chunk size is larger: the phone's smaller one (HANDOFF_CHUNK_BYTES) wins.
    app_config.update(cf.settings(CLOUDFLARE_API_BASE=fake_stream.api_base,
                                  CLOUDFLARE_TUS_CHUNK_BYTES=4 * CHUNK,
                                  CLOUDFLARE_UPLOAD_ORIGINS=fake_stream.url),
                      HANDOFF_CHUNK_BYTES=CHUNK)
    return app_config


def test_the_phone_uploads_straight_to_stream(page, live_server, room, fake_stream, clip,
                                              phone_context):
    open_assignment(page, live_server, room)
    page.click("#handoff-start")
    page.wait_for_selector("#handoff-qr:not([hidden])")
    url = page.get_attribute("#handoff-short", "href")
    phone = open_phone_page(phone_context(), url)
    phone.set_input_files("#phone-pick", str(clip))
    phone.wait_for_selector("#phone-status[data-status='ready']", timeout=60000)
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    tus = [(m, h) for (m, p, _), h in zip(fake_stream.requests, fake_stream.headers_seen)
           if p.startswith("/tus/")]
    assert [m for m, _ in tus].count("PATCH") == 3  # 5 MiB chunks
    assert not any("X-Lti-Launch" in h for _, h in tus)
    (video,) = fake_stream.videos.values()
    assert video["data"] == clip.read_bytes()
