"""Grading domain: validation, release, comments, and the score queued on submission."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lti_tool.errors import Forbidden
from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.models import ScoreOutbox, utcnow
from lti_tool.signals import video_ready
from tests.agsfake import fake, room  # noqa: F401  (fixtures)
from tests.review_fixtures import ready_video

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


@pytest.mark.parametrize("raw,maximum,expected", [("7", 10, 7.0), ("7,5", 10, 7.5),
                                                  (" 0 ", 10, 0.0), ("10", 10, 10.0),
                                                  ("", 10, None), (None, 10, None)])
def test_parse_score_accepts(raw, maximum, expected):
    assert grading.parse_score(raw, maximum) == expected


@pytest.mark.parametrize("raw,message", [("11", "between 0 and 10; you entered 11"),
                                         ("-1", "between 0 and 10"), ("abc", "must be a number"),
                                         ("nan", "must be a number"), ("inf", "must be a number")])
def test_parse_score_refuses_with_clear_message(raw, message):
    with pytest.raises(grading.InvalidInput, match=message):
        grading.parse_score(raw, 10)


def test_video_ready_queues_submitted_pending_manual_at_submission_time(app, room, fake):
    fake.link()
    video = ready_video(room)
    video_ready.send(video)
    db.session.commit()
    [row] = db.session.scalars(db.select(ScoreOutbox)).all()
    assert row.payload["activityProgress"] == "Submitted"
    assert row.payload["gradingProgress"] == "PendingManual"
    assert "scoreGiven" not in row.payload
    assert row.score_timestamp == video.submission.submitted_at


def test_resubmission_after_grade_asks_for_regrade_and_keeps_grade(app, room, fake):
    fake.link()
    video = ready_video(room)
    grading.save_grade(video.submission, room.instructor, 6, "ok")
    db.session.commit()
    second = ready_video(room, attempt=2)
    second.submission.submitted_at = utcnow() + timedelta(seconds=1)
    video_ready.send(second)
    db.session.commit()
    newest = db.session.scalars(db.select(ScoreOutbox).order_by(ScoreOutbox.id.desc())).first()
    assert newest.payload["gradingProgress"] == "PendingManual"
    assert newest.payload["scoreGiven"] == 6


def test_nothing_queued_without_a_gradebook(app, room):
    video = ready_video(room)
    video_ready.send(video)
    grading.save_grade(video.submission, room.instructor, 5, None)
    db.session.commit()
    assert db.session.scalars(db.select(ScoreOutbox)).all() == []
    assert video.submission.score_given == 5


def test_comments_are_anchored_validated_and_owned(app, room):
    video = ready_video(room, duration=20)
    submission = video.submission
    comment = grading.add_comment(submission, room.instructor, "12.3456", " Nice cut ", video)
    assert (comment.at_seconds, comment.body) == (12.346, "Nice cut")
    with pytest.raises(grading.InvalidInput, match="past the end"):
        grading.add_comment(submission, room.instructor, 40, "x", video)
    with pytest.raises(grading.InvalidInput, match="cannot be empty"):
        grading.add_comment(submission, room.instructor, 1, "   ", video)
    with pytest.raises(grading.InvalidInput, match="zero or more"):
        grading.add_comment(submission, room.instructor, -2, "x", video)
    with pytest.raises(Forbidden):
        grading.edit_comment(comment, room.ta, "mine now")
    with pytest.raises(Forbidden):
        grading.delete_comment(comment, room.ta)
    grading.edit_comment(comment, room.instructor, "Nicer cut", at_seconds=3)
    assert (comment.body, comment.at_seconds) == ("Nicer cut", 3.0)
    grading.delete_comment(comment, room.instructor)
    db.session.commit()
    assert submission.comments == []


def test_student_sees_feedback_only_once_released(app, room):
    video = ready_video(room)
    submission = video.submission
    grading.add_comment(submission, room.instructor, 2, "Look here", video)
    grading.save_grade(submission, room.instructor, 9, "Great", release=False)
    assert grading.released_feedback(submission) is None
    grading.set_released(submission, room.instructor, True)
    shown = grading.released_feedback(submission)
    assert shown["score"] == 9 and shown["feedback"] == "Great"
    assert [c.body for c in shown["comments"]] == ["Look here"]
