"""Grading: grades, feedback, release to the student, time-coded comments, and the scores
they put in the outbox for the LMS gradebook.

Release policy: a grade is released when it is saved unless the grader unticks "release";
a held grade can be released later. The LMS gets the grade when it is released (while held,
the LMS shows the work as submitted and waiting for grading), so the tool and the gradebook
never disagree about what the student may see.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime

from lti_tool import audit
from lti_tool.database import get_or_create
from lti_tool.errors import Forbidden, ToolError
from lti_tool.extensions import db
from lti_tool.grading import outbox
from lti_tool.lti.ags import build_score, has_gradebook
from lti_tool.lti.ags_values import ActivityProgress, GradingProgress
from lti_tool.models import Assignment, Comment, Submission, User, Video, utcnow

log = logging.getLogger(__name__)

MAX_FEEDBACK_CHARS = 20_000
MAX_COMMENT_CHARS = 5_000
# A comment may sit a little past the reported duration (rounding of the player's clock).
DURATION_TOLERANCE_SECONDS = 1.0


class InvalidInput(ToolError):
    """A grade, feedback or comment that cannot be saved as given."""

    http_status = 422
    code = "invalid_input"
    title = "Please check what you entered"


# ---- submissions ----------------------------------------------------------------------------

def submission_for(assignment: Assignment, user: User) -> Submission:
    """Return the user's submission to the assignment, creating an empty one if needed."""
    submission, _ = get_or_create(Submission, {"assignment_id": assignment.id,
                                               "user_id": user.id})
    return submission


# ---- grades ---------------------------------------------------------------------------------

def parse_score(raw, maximum: float) -> float | None:
    """Return the score typed by the grader (None when left empty), or raise InvalidInput."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    limit = f"{maximum:g}"
    try:
        value = float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise InvalidInput(f"The grade must be a number between 0 and {limit}.") from None
    if not math.isfinite(value):
        raise InvalidInput(f"The grade must be a number between 0 and {limit}.")
    if value < 0 or value > maximum:
        raise InvalidInput(f"The grade must be between 0 and {limit}; you entered {value:g}.")
    return round(value, 4)


def save_grade(submission: Submission, grader: User, score: float | None,
               feedback: str | None, release: bool = True) -> Submission:
    """Record a grade and feedback; when released, queue it for the LMS in this transaction."""
    if feedback is not None and not isinstance(feedback, str):
        raise InvalidInput("Feedback must be text.")
    feedback = (feedback or "").strip() or None
    if feedback and len(feedback) > MAX_FEEDBACK_CHARS:
        raise InvalidInput(f"Feedback is limited to {MAX_FEEDBACK_CHARS} characters.")
    was_released = submission.released
    now = utcnow()
    submission.score_given = score
    submission.feedback = feedback
    submission.graded_at = now
    submission.graded_by_id = grader.id
    submission.released = release
    course = submission.assignment.course
    audit.record(audit.EventType.GRADE_SAVED, actor=grader, course_id=course.id,
                 target=submission, score=score, released=release)
    if release:
        audit.record(audit.EventType.GRADE_RELEASED, actor=grader, course_id=course.id,
                     target=submission)
    if release or was_released:
        queue_current_score(submission, now)
    return submission


def set_released(submission: Submission, actor: User, released: bool) -> Submission:
    """Release a held grade to the student (and the LMS), or hold it back again."""
    if submission.released == released:
        return submission
    submission.released = released
    if released:
        audit.record(audit.EventType.GRADE_RELEASED, actor=actor,
                     course_id=submission.assignment.course_id, target=submission)
    queue_current_score(submission, utcnow())
    return submission


def held_submissions(assignment: Assignment) -> list[Submission]:
    """Return the assignment's graded submissions whose grade is held from the student."""
    return list(db.session.scalars(db.select(Submission).where(
        Submission.assignment_id == assignment.id, Submission.graded_at.is_not(None),
        Submission.released.is_(False)).order_by(Submission.id)))


def release_all_held(assignment: Assignment, actor: User) -> int:
    """Release every held grade of the assignment to its student and the LMS; say how many."""
    held = held_submissions(assignment)
    for submission in held:
        set_released(submission, actor, True)
    return len(held)


def current_score(submission: Submission, timestamp: datetime, *,
                  new_submission: bool = False) -> dict:
    """Build the AGS score that says what the LMS should show for this submission now."""
    assignment = submission.assignment
    graded = submission.released and submission.score_given is not None
    if graded and not new_submission:
        activity, grading = ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED
    elif submission.submitted_at is not None:
        # A new attempt after a released grade keeps the grade but asks for a regrade.
        activity, grading = ActivityProgress.SUBMITTED, GradingProgress.PENDING_MANUAL
    else:
        activity, grading = ActivityProgress.INITIALIZED, GradingProgress.NOT_READY
    return build_score(
        user_sub=submission.user.sub, timestamp=timestamp, activity=activity, grading=grading,
        score_given=submission.score_given if graded else None,
        score_maximum=assignment.max_score,
        comment=submission.feedback if submission.released else None,
        submitted_at=submission.submitted_at, new_submission=new_submission,
        product_family=assignment.course.platform.product_family)


def queue_current_score(submission: Submission, timestamp: datetime, *,
                        new_submission: bool = False):
    """Put the submission's current score in the outbox (when the LMS has a gradebook)."""
    if not has_gradebook(submission.assignment):
        return None
    payload = current_score(submission, timestamp, new_submission=new_submission)
    return outbox.queue_score(submission, payload, timestamp)


def on_video_ready(video: Video, **_) -> None:
    """Tell the LMS the student submitted: Submitted / PendingManual at the submission time."""
    submission = video.submission
    if submission is None:
        return
    when = submission.submitted_at or video.ready_at or utcnow()
    # After a released grade the score keeps it; the LMS still learns of the new attempt.
    log.info("video %s ready: queueing the submitted score of submission %s", video.id,
             submission.id)
    queue_current_score(submission, when, new_submission=True)


# ---- comments -------------------------------------------------------------------------------

def _clean_body(body) -> str:
    text = (body or "").strip() if isinstance(body, str) else ""
    if not text:
        raise InvalidInput("A comment cannot be empty.")
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"A comment is limited to {MAX_COMMENT_CHARS} characters.")
    return text


def _clean_time(at_seconds, video: Video | None) -> float:
    try:
        value = float(at_seconds)
    except (TypeError, ValueError):
        raise InvalidInput("The comment's time must be a number of seconds.") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInput("The comment's time must be zero or more seconds.")
    duration = video.duration_seconds if video is not None else None
    if duration and value > duration + DURATION_TOLERANCE_SECONDS:
        raise InvalidInput(f"The comment's time ({value:.1f} s) is past the end of the video "
                           f"({duration:.1f} s).")
    return round(value, 3)


def add_comment(submission: Submission, author: User, at_seconds, body,
                video: Video | None = None) -> Comment:
    """Leave a comment anchored at a moment of one of the submission's videos."""
    if video is not None and video.submission_id != submission.id:
        raise InvalidInput("That video does not belong to this submission.")
    comment = Comment(submission_id=submission.id, video_id=video.id if video else None,
                      author_id=author.id, at_seconds=_clean_time(at_seconds, video),
                      body=_clean_body(body))
    comment.author = author
    db.session.add(comment)
    db.session.flush()
    audit.record(audit.EventType.COMMENT_ADDED, actor=author,
                 course_id=submission.assignment.course_id, target=comment)
    return comment


def _ensure_author(comment: Comment, actor: User) -> None:
    if comment.author_id != actor.id:
        raise Forbidden("You can only change your own comments.")


def edit_comment(comment: Comment, actor: User, body=None, at_seconds=None) -> Comment:
    """Change the text (and optionally the time) of one's own comment."""
    _ensure_author(comment, actor)
    if body is not None:
        comment.body = _clean_body(body)
    if at_seconds is not None:
        video = db.session.get(Video, comment.video_id) if comment.video_id else None
        comment.at_seconds = _clean_time(at_seconds, video)
    comment.updated_at = utcnow()
    return comment


def delete_comment(comment: Comment, actor: User) -> None:
    """Delete one's own comment."""
    _ensure_author(comment, actor)
    audit.record(audit.EventType.COMMENT_DELETED, actor=actor,
                 course_id=comment.submission.assignment.course_id, target=comment)
    db.session.delete(comment)


def released_feedback(submission: Submission | None) -> dict | None:
    """Return what the student may see of their grading, or None until it is released."""
    if submission is None or not submission.released:
        return None
    return {"score": submission.score_given, "max_score": submission.assignment.max_score,
            "feedback": submission.feedback, "graded_at": submission.graded_at,
            "comments": list(submission.comments)}
