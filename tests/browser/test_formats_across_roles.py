"""Sizes and moments read the same for every role: one video's size and hand-in time are
written alike on the student's page (its uploads table and receipt, written in the browser
by format.js) and on the instructor's list and review page (written by the server's
filters, then put in the viewer's locale by format.js)."""
from __future__ import annotations

from datetime import datetime, timezone

from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.web.formatting import format_size
from tests.factories import Classroom
from tests.review_fixtures import ready_video

SIZE = 5_432_109  # "5.2 MB": a decimal, where two ways of rounding would differ
HANDED_IN = datetime(2031, 3, 1, 9, 5, 42, tzinfo=timezone.utc)
# The text of every <time> element that stands for HANDED_IN, whatever its ISO spelling.
TIMES_OF = """(target) => [...document.querySelectorAll("time[datetime]")]
  .filter((t) => {
    const iso = t.getAttribute("datetime");
    const moment = new Date(/(Z|[+-]\\d\\d:?\\d\\d)$/.test(iso) ? iso : iso + "Z");
    return Math.floor(moment.getTime() / 60000) === Math.floor(Date.parse(target) / 60000);
  }).map((t) => t.textContent.trim())"""


def test_one_video_reads_the_same_for_student_and_instructor(app, page, live_server):
    with app.app_context():
        room = Classroom()
        video = ready_video(room)
        video.size_bytes = SIZE
        video.created_at = video.uploaded_at = video.ready_at = HANDED_IN
        grading.submission_for(room.assignment, room.student).submitted_at = HANDED_IN
        db.session.commit()
        instructor = room.launch(room.instructor).id
        urls = {"student": f"/assignment?launch={room.launch(room.student).id}",
                "list": f"/review/assignment?launch={instructor}",
                "review": f"/review/students/{room.student.id}?launch={instructor}"}
        db.session.remove()

    seen = {}
    for name, path in urls.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        times = page.evaluate(TIMES_OF, HANDED_IN.isoformat())
        assert times, f"{name}: no time element for the hand-in moment"
        seen[name] = (set(times), format_size(SIZE) in page.inner_text("main"))
        if name == "student":
            assert page.locator("#history tbody tr td").nth(2).inner_text() == "5.2 MB"
            assert "5.2 MB" in page.inner_text("#receipt-text")
    texts = {t for shown, _ in seen.values() for t in shown}
    assert len(texts) == 1, seen  # one date format, one rounding of the time
    assert all(size_shown for _, size_shown in seen.values()), seen
