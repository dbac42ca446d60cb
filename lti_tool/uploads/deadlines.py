"""When a student's work is due and until when they may start a new attempt: the
assignment's due date and cut-off, or the extension an instructor granted that student.

An attempt is judged by when it started (`Video.created_at`): an upload that began before
the cut-off may finish after it (a 5 GB video on a slow line takes hours).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lti_tool.extensions import db
from lti_tool.models import Assignment, DeadlineExtension, Submission, User
from lti_tool.statuses import DueSource, VideoStatus

# How the student page names where the due date came from.
DUE_SOURCE_WORDS = {DueSource.LMS: "from the LMS gradebook",
                    DueSource.LMS_ASSIGNMENT: "from the LMS assignment",
                    DueSource.TOOL: "set by your instructor"}
# Attempts that count against Assignment.max_attempts: what was handed in.
HANDED_IN = (VideoStatus.PROCESSING, VideoStatus.READY)


@dataclass(frozen=True)
class Deadlines:
    """One student's due date and cut-off (None: none), and whether an extension set them."""

    due_at: datetime | None
    cutoff_at: datetime | None
    extended: bool = False


def extension_for(assignment: Assignment, user: User | None) -> DeadlineExtension | None:
    """Return the extension granted to this student, if any."""
    if user is None:
        return None
    return db.session.scalar(_EXTENSION, {"assignment_id": assignment.id, "user_id": user.id})


# One statement object for every call (the landing page of every launch asks).
_EXTENSION = db.select(DeadlineExtension).where(
    DeadlineExtension.assignment_id == db.bindparam("assignment_id"),
    DeadlineExtension.user_id == db.bindparam("user_id"))


def extensions_by_user(assignment: Assignment) -> dict[int, DeadlineExtension]:
    """Return the assignment's extensions by student id (one query, for lists)."""
    return {e.user_id: e for e in db.session.scalars(db.select(DeadlineExtension).filter_by(
        assignment_id=assignment.id))}


def deadlines_for(assignment: Assignment, user: User | None,
                  extensions: dict[int, DeadlineExtension] | None = None) -> Deadlines:
    """Return the due date and cut-off that hold for this student (`extensions`: the
    assignment's, from extensions_by_user, to spare a query per student)."""
    if extensions is not None:
        extension = extensions.get(user.id) if user is not None else None
    else:
        extension = extension_for(assignment, user)
    if extension is None:
        return Deadlines(assignment.due_at, assignment.cutoff_at)
    cutoff = extension.cutoff_at
    if cutoff is None and assignment.cutoff_at is not None:
        cutoff = max(assignment.cutoff_at, extension.due_at)  # never before the new due date
    return Deadlines(extension.due_at, cutoff, extended=True)


def attempts_handed_in(submission: Submission | None) -> int:
    """Count the videos a student handed in (refused, cancelled or unfinished ones are not)."""
    if submission is None:
        return 0
    return sum(1 for v in submission.videos if v.status in HANDED_IN)


def is_late(submission: Submission | None, assignment: Assignment,
            extensions: dict[int, DeadlineExtension] | None = None) -> bool:
    """Tell whether the submission came in after the student's own due date."""
    if submission is None or submission.submitted_at is None:
        return False
    due = deadlines_for(assignment, submission.user, extensions).due_at
    return bool(due and submission.submitted_at > due)
