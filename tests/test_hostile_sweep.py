"""Every route, every method, every hostile input: no 5xx but the deliberate 501 and 502.

Each rule of the app's URL map is called with ids beyond the database's integers, NUL in
the query and in the launch header, and (for changes) each hostile JSON body, by nobody,
by a student and by an instructor. Run it on PostgreSQL too: NUL only breaks there.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests.review_fixtures import reviewed_classroom

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)

# The deliberate answers: an LMS or provider that cannot be reached, a missing capability.
DELIBERATE_5XX = {501, 502}
HUGE_IDS = (2**64, 2**31)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CHANGES = {"POST", "PUT", "PATCH"}
HOSTILE_BODIES = {
    "list": b"[1,2]",
    "string": b'"x"',
    "overflowing_number": b"1e999",
    "nested_5000_deep": b"[" * 5000 + b"]" * 5000,
    "lone_surrogate": b'{"body": "\\udfff", "filename": "\\udfff.mp4", "score": "1"}',
    "huge_whole_number": b'{"video_id": 18446744073709551616, "size_bytes": 1' + b"0" * 30
                         + b', "part_numbers": [18446744073709551616]}',
    "nan": b'{"score": NaN, "at_seconds": NaN, "size_bytes": NaN}',
    "nul": b'{"body": "a\\u0000b", "filename": "a\\u0000.mp4", "feedback": "\\u0000"}',
    "wrong_types": b'{"score": [1], "feedback": {"a": 1}, "body": [], "at_seconds": {},'
                   b' "video_id": "18446744073709551616", "filename": ["x"], "size_bytes": "1",'
                   b' "part_numbers": [{}], "parts": [{"part_number": "x"}], "then": "next",'
                   b' "next_url": "/%09/evil.example"}',
}
ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
# Values for the string arguments of rules (ids come from the room).
TEXT_ARGS = {"language": "en", "username": "student", "upload_id": "x" * 20,
             "login_key": "x", "filename": "x"}


@pytest.fixture
def app_config(app_config):
    app_config["CLOUDFLARE_WEBHOOK_SECRET"] = "sweep-secret"
    return app_config


@pytest.fixture
def world(app):
    """A classroom with a ready video and a comment; ids and launch headers only."""
    with app.app_context():
        made = reviewed_classroom()
        return SimpleNamespace(
            ids={"user_id": made.room.student.id, "video_id": made.video.id,
                 "comment_id": made.comment.id,
                 "course_id": 1, "link_id": 1, "lineitem_id": 1, "tool_id": 1},
            launches={"nobody": None, "student": made.student_launch,
                      "instructor": made.instructor_launch})


def _url(rule, world, huge_id: int | None) -> str:
    def fill(match):
        converter, name = match.group(1), match.group(2)
        if converter == "int":
            return str(huge_id if huge_id is not None else world.ids.get(name, 1))
        return TEXT_ARGS.get(name, "x")
    return ARG.sub(fill, rule.rule)


def _requests(app, world):
    """Yield (label, method, url, headers, body) for every rule and hostile input."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(set(METHODS) & rule.methods):
            for who, launch_id in world.launches.items():
                headers = {"Tus-Resumable": "1.0.0", "Accept": "application/json"}
                if launch_id:
                    headers["X-LTI-Launch"] = launch_id
                for huge in HUGE_IDS:
                    if "<int:" in rule.rule:
                        yield f"id {huge}", who, method, _url(rule, world, huge), headers, None
                url = _url(rule, world, None)
                yield "NUL in query", who, method, url + "?launch=a%00b&user=%00&iss=%00", \
                    headers, None
                if launch_id:
                    yield "NUL in launch header", who, method, url, \
                        dict(headers, **{"X-LTI-Launch": launch_id + "\x00"}), None
                if method in CHANGES:
                    for name, body in HOSTILE_BODIES.items():
                        yield f"body {name}", who, method, url, \
                            dict(headers, **{"Content-Type": "application/json"}), body


def test_no_hostile_input_gets_a_5xx_on_any_route(app, world):
    client = app.test_client()
    failures = []
    count = 0
    for label, who, method, url, headers, body in _requests(app, world):
        count += 1
        resp = client.open(url, method=method, headers=headers, data=body)
        if resp.status_code >= 500 and resp.status_code not in DELIBERATE_5XX:
            failures.append(f"{method} {url[:80]} ({label}, {who}) -> {resp.status_code}")
    assert count > 1000  # every rule was reached
    assert not failures, f"{len(failures)} answers were 5xx:\n" + "\n".join(failures[:60])
