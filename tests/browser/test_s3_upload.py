"""The student page uploads to S3 in parts, in real Chromium, straight to moto's S3 server
(another origin, whose bucket CORS exposes ETag): progress, retries, resume after a reload,
and playback from the bucket. moto answers CORS preflights from the bucket's CORS rules
(and adds its own permissive headers), so no proxy is needed."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit
from pathlib import Path

import pytest

from lti_tool.extensions import db
from lti_tool.models import Video
from tests.s3_server import (admin_client, app_config, cors_rules, moto_server,  # noqa: F401
                             s3_bucket)
from tests.uploading import room, three_part_video  # noqa: F401

PART = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def big_mp4(tmp_path_factory) -> Path:
    """A real, playable MP4 of about 20 MB: three 8 MiB parts."""
    return three_part_video(tmp_path_factory.mktemp("s3video"), PART, seconds=2)


@pytest.fixture
def cors(live_server, moto_server, s3_bucket):
    admin_client(moto_server).put_bucket_cors(Bucket=s3_bucket,
                                              CORSConfiguration=cors_rules(live_server.url))


def part_puts(page, log: list):
    page.on("request", lambda r: log.append(r.url) if r.method == "PUT"
            and "partNumber=" in r.url else None)


def part_number(url: str) -> int:
    return int(url.split("partNumber=")[1].split("&")[0])


def test_student_uploads_in_parts_straight_to_the_bucket(page, live_server, room, cors,
                                                         big_mp4, moto_server, s3_bucket):
    puts = []
    part_puts(page, puts)
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.set_input_files("#file-input", str(big_mp4))
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    assert sorted(part_number(u) for u in puts) == [1, 2, 3]
    assert all(u.startswith(moto_server) for u in puts)
    # The submitted video plays from the bucket (range requests, no proxy through the tool).
    page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return v.currentSrc && v.readyState >= 1 && v.duration > 1; }", timeout=30000)
    assert page.evaluate("document.getElementById('player').currentSrc").startswith(moto_server)
    with live_server.app.app_context():
        video = db.session.scalars(db.select(Video)).one()
        key, size = video.storage_uid, video.size_bytes
    stored = admin_client(moto_server).get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert stored == big_mp4.read_bytes() and size == len(stored)


def test_upload_resumes_after_a_reload_without_sending_parts_twice(
        page, live_server, room, cors, big_mp4, moto_server, s3_bucket):
    puts = []
    part_puts(page, puts)
    # Part 2 cannot get through: the uploader retries it while parts 1 and 3 arrive.
    page.route("**/*partNumber=2*", lambda route: route.abort())
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.set_input_files("#file-input", str(big_mp4))
    page.wait_for_selector("#notice:has-text('Retrying')", timeout=30000)
    page.wait_for_function(
        "() => parseInt(document.getElementById('progress').getAttribute('aria-valuenow')) >= 60",
        timeout=30000)
    sent_before = sorted(part_number(u) for u in puts if "partNumber=2" not in u)
    assert sent_before == [1, 3]

    # The student closes the page and comes back later, in the same browser.
    context = page.context
    page.close()
    again = context.new_page()
    puts_after = []
    part_puts(again, puts_after)
    again.goto(f"{live_server.url}/assignment?launch={launch.id}")
    # What arrived is what the bucket holds: part 1 and the shorter last part 3.
    size = big_mp4.stat().st_size
    arrived = 100 * (size - PART) // size
    assert f"stopped at {arrived} %" in again.inner_text("#unfinished")
    again.set_input_files("#file-input", str(big_mp4))
    again.wait_for_selector("#resume-offer:not([hidden])")
    assert "Continue where it stopped" in again.inner_text("#resume-offer")
    assert f"({arrived} % arrived)" in again.inner_text("#resume-offer")
    again.click("#resume-yes")
    again.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    assert [part_number(u) for u in puts_after] == [2]
    with live_server.app.app_context():
        videos = db.session.scalars(db.select(Video)).all()
        assert len(videos) == 1 and videos[0].status == "ready"
        key = videos[0].storage_uid
    stored = admin_client(moto_server).get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert stored == big_mp4.read_bytes()


def test_pause_and_cancel(page, live_server, room, cors, big_mp4, moto_server, s3_bucket):
    launch = room.launch(room.student)
    page.route("**/*partNumber=3*", lambda route: route.abort())
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.set_input_files("#file-input", str(big_mp4))
    page.wait_for_selector("#notice:has-text('Retrying')", timeout=30000)
    page.click("#pause-btn")
    assert page.is_visible("#resume-btn")
    page.once("dialog", lambda dialog: dialog.accept())  # Cancel asks first
    page.click("#cancel-btn")
    page.wait_for_selector("#notice:has-text('Upload cancelled')")
    with live_server.app.app_context():
        video = db.session.scalars(db.select(Video)).one()
        assert video.status == "deleted" and video.error_code == "upload_cancelled"
    assert "Uploads" not in admin_client(moto_server).list_multipart_uploads(Bucket=s3_bucket)


def test_a_busy_bucket_is_asked_again_after_its_retry_after(page, live_server, room, cors,
                                                            big_mp4, moto_server, s3_bucket):
    tried = []
    held = []  # the other parts, let through only once part 2 was refused

    def part_number(route) -> str:
        return parse_qs(urlsplit(route.request.url).query)["partNumber"][0]

    def busy_once(route):
        if route.request.method != "PUT":
            route.continue_()
        elif part_number(route) == "2":
            tried.append(time.monotonic())
            if len(tried) == 1:
                route.fulfill(status=503, body="<Error><Code>SlowDown</Code></Error>",
                              headers={"Retry-After": "3", "Content-Type": "application/xml",
                                       "Access-Control-Allow-Origin": live_server.url,
                                       "Access-Control-Expose-Headers": "ETag, Retry-After"})
                # The other parts finish during the wait: finishing must not start part 2
                # again before the Retry-After is over.
                while held:
                    held.pop().continue_()
                return
            route.continue_()
        elif not tried:
            held.append(route)
        else:
            route.continue_()

    page.route("**/*partNumber=*", busy_once)
    launch = room.launch(room.student)
    page.goto(f"{live_server.url}/assignment?launch={launch.id}")
    page.set_input_files("#file-input", str(big_mp4))
    # The busy answer is told apart from a lost connection, with the wait it asked for.
    page.wait_for_selector("#notice:has-text('The video storage is busy. Retrying in 3 s')",
                           timeout=30000)
    page.wait_for_selector("#current-status[data-status='ready']", timeout=60000)
    assert len(tried) == 2 and tried[1] - tried[0] >= 2.9
