"""The student page uploads over tus straight to (a fake) Cloudflare Stream in Chromium:
the one-time upload URL on another origin is resumed, not re-created, our launch id never
leaves for that origin, and a reload continues where the upload stopped."""
from __future__ import annotations

from pathlib import Path

import pytest

from lti_tool.extensions import db
from lti_tool.models import Video
from tests import cloudflare_fake as cf
from tests.cloudflare_fake import fake_stream  # noqa: F401  (fixture)
from tests.uploading import room, three_part_video  # noqa: F401

CHUNK = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A real MP4 of about 12 MB: three 5 MiB tus chunks."""
    return three_part_video(tmp_path_factory.mktemp("cfvideo"), CHUNK, seconds=1)


@pytest.fixture
def app_config(app_config, fake_stream):
    app_config.update(cf.settings(CLOUDFLARE_API_BASE=fake_stream.api_base,
                                  CLOUDFLARE_TUS_CHUNK_BYTES=CHUNK,
                                  CLOUDFLARE_UPLOAD_ORIGINS=fake_stream.url))
    return app_config


def tus_requests(fake_stream):
    return [(m, p) for m, p, _ in fake_stream.requests if p.startswith("/tus/")]


def test_student_uploads_straight_to_stream(page, live_server, room, fake_stream, clip):
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.set_input_files("#file-input", str(clip))
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    methods = [m for m, _ in tus_requests(fake_stream)]
    assert "POST" not in methods  # the upload was created by the tool, not by the browser
    assert methods.count("PATCH") == 3
    (video,) = fake_stream.videos.values()
    assert video["data"] == clip.read_bytes()
    tus_headers = [h for h, (_, p, _) in zip(fake_stream.headers_seen, fake_stream.requests)
                   if p.startswith("/tus/")]
    assert tus_headers and not any("X-Lti-Launch" in h or "Authorization" in h
                                   for h in tus_headers)
    with live_server.app.app_context():
        stored = db.session.scalars(db.select(Video)).one()
        assert stored.status == "ready" and stored.backend == "cloudflare"


def test_reload_resumes_at_the_offset_stream_holds(page, live_server, room, fake_stream, clip):
    # Only the first chunk gets through; later PATCHes fail until the student comes back.
    def block_later_chunks(route):
        if route.request.method == "PATCH" and route.request.headers.get("upload-offset") != "0":
            route.abort()
        else:
            route.continue_()
    page.route(f"{fake_stream.url}/tus/**", block_later_chunks)
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.set_input_files("#file-input", str(clip))
    page.wait_for_selector("#notice:has-text('Retrying')", timeout=30000)
    (video,) = fake_stream.videos.values()
    assert len(video["data"]) == CHUNK

    context = page.context
    page.close()
    again = context.new_page()
    again.goto(f"{live_server.url}/assignment?launch={launch.id}")
    again.set_input_files("#file-input", str(clip))
    again.wait_for_selector("#resume-offer:not([hidden])")
    again.click("#resume-yes")
    again.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    assert video["data"] == clip.read_bytes()
    assert len(fake_stream.videos) == 1  # the same one-time URL, no second upload
