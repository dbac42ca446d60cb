"""The demo LMS in real Chromium: one click on the home page opens the tool in the course iframe."""
from __future__ import annotations


def test_student_launch_opens_the_tool_inside_the_course_page(live_server, page):
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Ben Student").first.click()
    page.get_by_text("Signed in as").wait_for()
    assert "Learner" in page.locator(".demo-frame-head").inner_text()
    tool = page.frame_locator("iframe.demo-frame")
    tool.get_by_role("heading", name="Video pitch").wait_for()
    new_window = page.get_by_role("link", name="Open in a new window")
    assert new_window.get_attribute("target") == "_blank"


def test_instructor_adds_an_activity_by_deep_linking(live_server, page):
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Add an activity (deep linking, as Ines Instructor)").click()
    tool = page.frame_locator("iframe.demo-frame")
    tool.get_by_label("Title").fill("Screen test")
    tool.get_by_label("Maximum score").fill("25")
    tool.get_by_role("button", name="Add to the course").click()
    tool.get_by_role("heading", name="Activity added to Film Studies 101").wait_for()
    page.goto(f"{live_server.url}/demo-lms/")
    assert page.get_by_role("heading", name="▶ Screen test").is_visible()
    caption = page.locator("table.demo-gradebook caption", has_text="Screen test")
    assert "out of 25" in caption.inner_text()
