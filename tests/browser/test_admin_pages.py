"""The admin area in real Chromium: the demo LMS's site admin lands on it; every page loads
under the Content-Security-Policy (the `page` fixture fails on a violation), is reachable by
keyboard, passes axe-core (no serious or critical violation), and is photographed into
docs/img/admin-*.png for docs/admin.md."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import (AuditEvent, JobRun, LaunchRecord, ScoreOutbox, Submission, User,
                             Video, utcnow)
from lti_tool.processing import messages
from lti_tool.statuses import OutboxStatus, VideoStatus
from tests.browser.a11y import assert_accessible, check_state
from tests.uploading import HAS_FFMPEG, make_sample_video

STUDENTS = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra")


def seed(app, launch_id: str, tmp_path) -> int:
    """Fill the admin's platform with a month of uploads, failures, grades and job runs;
    return the id of a video that plays."""
    with app.app_context():
        launch = db.session.get(LaunchRecord, launch_id)
        assignment, platform_id = launch.assignment, launch.platform_id
        now = utcnow()
        playable = None
        for n, name in enumerate(STUDENTS):
            user = User(platform_id=platform_id, sub=f"seed-{n}", name=name,
                        email=f"{name.split()[0].lower()}@example.edu")
            db.session.add(user)
            db.session.flush()
            sub = Submission(assignment_id=assignment.id, user_id=user.id)
            db.session.add(sub)
            db.session.flush()
            for attempt in range(1, 4):
                failed = (n + attempt) % 5 == 0
                video = Video(submission_id=sub.id, attempt=attempt, backend="local",
                              status=VideoStatus.ERROR if failed else VideoStatus.READY,
                              error_code="bad_format" if failed else None,
                              error_message="The file is not a video." if failed else None,
                              filename=f"{name.split()[0].lower()}-take-{attempt}.mp4",
                              size_bytes=(n + 1) * attempt * 40_000_000,
                              duration_seconds=60.0 * (n + attempt),
                              created_at=now - timedelta(days=3 * n + attempt))
                db.session.add(video)
                db.session.flush()
                if playable is None and not failed:
                    playable = video
            db.session.add(AuditEvent(event_type=EventType.PLAYBACK_GRANTED, actor_id=user.id,
                                      platform_id=platform_id, target_type="video",
                                      target_id=str(playable.id)))
        seed_processing_queue(assignment.id, platform_id, now)
        db.session.add(ScoreOutbox(submission_id=playable.submission_id,
                                   payload={"scoreGiven": 8}, status=OutboxStatus.FAILED,
                                   score_timestamp=now, last_error="HTTP 404 from the LMS"))
        db.session.add(JobRun(name="deliver_scores", started_at=now - timedelta(minutes=1),
                              finished_at=now, duration_seconds=0.4, ok=True,
                              counts={"delivered": 3, "failed": 0}))
        if HAS_FFMPEG:
            from tests.admin_fixtures import store_locally
            sample = make_sample_video(tmp_path / "sample.mp4", seconds=1)
            store_locally(playable, sample.read_bytes())
        db.session.commit()
        return playable.id


def seed_processing_queue(assignment_id: int, platform_id: int, now) -> None:
    """One student's videos in the processing queue: a failed conversion, one being
    converted, one waiting for a worker."""
    user = User(platform_id=platform_id, sub="seed-queue", name="Hedy Lamarr",
                email="hedy@example.edu")
    db.session.add(user)
    db.session.flush()
    sub = Submission(assignment_id=assignment_id, user_id=user.id)
    db.session.add(sub)
    db.session.flush()
    db.session.add_all([
        Video(submission_id=sub.id, attempt=1, backend="local", status=VideoStatus.ERROR,
              filename="hedy-lecture.wmv", processing_tries=3,
              error_code=messages.TRANSCODE_TIMEOUT,
              error_message=messages.MESSAGES[messages.TRANSCODE_TIMEOUT],
              created_at=now - timedelta(hours=3), uploaded_at=now - timedelta(hours=3)),
        Video(submission_id=sub.id, attempt=2, backend="local",
              status=VideoStatus.PROCESSING, filename="hedy-lab.avi", processing_tries=1,
              processing_percent=35.0, processing_lease_until=now + timedelta(minutes=5),
              created_at=now - timedelta(minutes=5), uploaded_at=now - timedelta(minutes=4)),
        Video(submission_id=sub.id, attempt=3, backend="local",
              status=VideoStatus.PROCESSING, filename="hedy-final.mkv",
              created_at=now - timedelta(minutes=2), uploaded_at=now - timedelta(minutes=1)),
    ])


@pytest.fixture
def admin_launch(launcher, app, tmp_path):
    """The demo LMS's site admin launched, their platform seeded; (launch id, video id)."""
    result = launcher.as_admin()
    assert "/admin/" in result.url
    with app.app_context():  # the operator's grant shows the add/remove parts of pages
        db.session.get(LaunchRecord, result.launch_id).user.admin_granted = True
        db.session.commit()
    return result.launch_id, seed(app, result.launch_id, tmp_path)


def open_admin(page, live_server, launch_id: str, path: str = "/admin/") -> None:
    sep = "&" if "?" in path else "?"
    page.goto(f"{live_server.url}{path}{sep}launch={launch_id}")


FOCUSED = "() => [document.activeElement.id, document.activeElement.textContent.trim()]"


def tab_to(page, name: str = "", element_id: str = "", limit: int = 60) -> None:
    """Press Tab until the focused element has the text `name` (or the id `element_id`);
    fail after `limit` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused_id, text = page.evaluate(FOCUSED)
        if (element_id and focused_id == element_id) or (name and text == name):
            return
    pytest.fail(f"{name or element_id!r} was not reached by keyboard in {limit} presses")


def test_the_demo_lms_site_admin_opens_the_dashboard(live_server, page):
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Alex Admin").first.click()
    tool = page.frame_locator("iframe.demo-frame")
    tool.get_by_role("heading", name="Dashboard", exact=True).wait_for()
    tool.get_by_role("navigation", name="Administration").wait_for()


def test_dashboard_by_keyboard_with_axe_and_screenshots(live_server, page, admin_launch):
    launch_id, _ = admin_launch
    open_admin(page, live_server, launch_id)
    page.get_by_role("heading", name="Dashboard", exact=True).wait_for()
    assert page.get_by_role("img", name="Uploads per day, last 30 days").is_visible()
    assert "off target" in page.get_by_test_id("rates").inner_text()
    page.get_by_text("Uploads per day as a table").click()
    queue = page.get_by_test_id("processing-queue").inner_text()
    assert re.search(r"Waiting for a worker\s*1\s*Being processed now\s*1", queue)
    assert "took longer than this site allows" in queue  # in plain words, not a code alone
    check_state(page, "admin-dashboard")
    page.goto(page.url)
    tab_to(page, "Retry processing hedy-lecture.wmv")
    tab_to(page, "Retry the refused grade")
    page.keyboard.press("Enter")
    # The flashed message is shown (the page's live region reads it out as well).
    page.locator(".alert").get_by_text("1 grade will be sent to the LMS again").wait_for()
    tab_to(page, "Videos")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Videos", exact=True).wait_for()


def test_videos_filter_play_and_delete_by_keyboard_with_axe(live_server, page, admin_launch):
    launch_id, video_id = admin_launch
    open_admin(page, live_server, launch_id, "/admin/videos")
    page.get_by_role("heading", name="Matching videos").wait_for()
    check_state(page, "admin-videos")
    tab_to(page, element_id="f-student")
    page.keyboard.type("grace")
    page.keyboard.press("Enter")
    page.wait_for_url("**student=grace**")
    rows = page.locator("tbody tr")
    assert rows.count() == 3 and "Grace Hopper" in rows.first.inner_text()
    open_admin(page, live_server, launch_id, f"/admin/videos/{video_id}")
    if HAS_FFMPEG:
        page.wait_for_function("() => document.querySelector('video').readyState >= 1")
    check_state(page, "admin-video")
    tab_to(page, "Delete…")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Delete").wait_for()
    check_state(page, "admin-video-delete")


@pytest.mark.parametrize("path, heading, name", [
    ("/admin/audit", "Audit log", "admin-audit"),
    ("/admin/platforms", "Your registration", "admin-platforms"),
    ("/admin/settings", "Site settings", "admin-settings"),
])
def test_other_admin_pages_with_axe_and_screenshots(live_server, page, admin_launch, path,
                                                    heading, name):
    launch_id, _ = admin_launch
    open_admin(page, live_server, launch_id, path)
    page.get_by_role("heading", name=heading).first.wait_for()
    check_state(page, name)


def test_settings_storage_secret_and_test_connection_by_keyboard(live_server, page,
                                                                 admin_launch):
    """A secret typed on the page is stored, shown as set and never sent back; "Test
    connection" is reached and pressed by keyboard and its results pass axe."""
    launch_id, _ = admin_launch
    secret = "browser-typed-secret-0f1e"
    open_admin(page, live_server, launch_id, "/admin/settings")
    page.get_by_role("heading", name="Video storage").wait_for()
    # Only the chosen backend's fieldset shows (storage-choice.js); the choice switches it.
    s3, cloudflare = (page.locator(f'fieldset[data-backend="{name}"]')
                      for name in ("s3", "cloudflare"))
    assert not s3.is_visible() and not cloudflare.is_visible()
    tab_to(page, element_id="set-STORAGE_BACKEND")
    page.keyboard.press("ArrowDown")  # This server's disk -> Amazon S3
    s3.wait_for(state="visible")
    assert not cloudflare.is_visible()
    tab_to(page, element_id="set-S3_SECRET_ACCESS_KEY")
    page.keyboard.type(secret)
    for _ in range(20):  # back to the choice, to keep the local disk
        page.keyboard.press("Shift+Tab")
        if page.evaluate(FOCUSED)[0] == "set-STORAGE_BACKEND":
            break
    page.keyboard.press("ArrowUp")
    s3.wait_for(state="hidden")
    tab_to(page, "Save settings")
    page.keyboard.press("Enter")
    page.locator(".alert").get_by_text("Saved: S3_SECRET_ACCESS_KEY.").wait_for()
    field = page.locator("#set-S3_SECRET_ACCESS_KEY")
    assert field.get_attribute("type") == "password" and field.input_value() == ""
    assert secret not in page.content()
    assert "Set on this page (stored encrypted)" in page.get_by_test_id(
        "state-S3_SECRET_ACCESS_KEY").inner_text()
    tab_to(page, "Test connection")
    page.keyboard.press("Enter")
    summary = page.get_by_test_id("test-summary")
    summary.wait_for()
    assert "every check of the connection test passed" in summary.inner_text()
    results = page.get_by_test_id("connection-test").inner_text()
    assert "Passed: Folder is writable." in results and secret not in page.content()
    check_state(page, "admin-settings-test")


def test_people_find_export_and_erase_by_keyboard_with_axe(live_server, page, app,
                                                          admin_launch):
    launch_id, _ = admin_launch
    with app.app_context():  # Ada asked for her data to be erased
        from lti_tool.privacy.requests import request_deletion
        ada = db.session.scalar(db.select(User).filter_by(sub="seed-0"))
        request_deletion(ada, ada)
        db.session.commit()
    open_admin(page, live_server, launch_id, "/admin/people")
    page.get_by_role("heading", name="Erasure requests waiting").wait_for()
    assert "Ada Lovelace" in page.get_by_test_id("erasure-requests").inner_text()
    tab_to(page, element_id="f-q")
    page.keyboard.type("grace")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=grace**")
    assert "Grace Hopper" in page.get_by_test_id("people").inner_text()
    check_state(page, "admin-people")
    tab_to(page, "Last seen")  # sorts on the server, the search kept
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=last_seen**")
    assert "q=grace" in page.url
    assert page.locator("th[aria-sort=descending]").inner_text().startswith("Last seen")
    assert_accessible(page, "admin-people-sorted")
    tab_to(page, "Grace Hopper")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Grace Hopper").wait_for()
    assert "3 videos" in page.get_by_test_id("counts").inner_text()
    check_state(page, "admin-person")
    tab_to(page, element_id="erase-confirm")
    page.keyboard.type("erase")
    page.keyboard.press("Enter")
    page.locator(".alert").get_by_text("Erased:").wait_for()
    with app.app_context():
        assert db.session.scalar(db.select(User).filter_by(sub="seed-1")) is None
