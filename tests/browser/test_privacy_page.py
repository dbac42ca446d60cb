"""The data privacy launch in real Chromium: from the demo LMS's people list to the tool's
privacy page in the course iframe, where the erasure request works by keyboard."""
from __future__ import annotations


def test_student_opens_their_privacy_page_and_asks_for_erasure(live_server, page):
    page.goto(f"{live_server.url}/demo-lms/")
    page.get_by_role("link", name="Ben Student").first.click()  # the tool now knows Ben
    page.frame_locator("iframe.demo-frame").get_by_role("heading", name="Video pitch") \
        .wait_for()
    page.goto(f"{live_server.url}/demo-lms/")
    page.locator("details summary", has_text="People").first.click()
    page.get_by_role("link", name="as Ben Student").first.click()
    tool = page.frame_locator("iframe.demo-frame")
    tool.get_by_role("heading", name="Your data in Video Assignments").wait_for()
    assert tool.get_by_role("link", name="Download all of it (JSON)").is_visible()
    button = tool.get_by_role("button", name="Ask for the data to be erased")
    button.focus()
    page.keyboard.press("Enter")
    tool.get_by_text("Erasure was requested").wait_for()
