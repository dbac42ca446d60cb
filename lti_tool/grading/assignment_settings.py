"""An assignment's deadlines as its instructors set them in the tool: due date, cut-off,
number of attempts, closed, whether sound-only recordings are accepted, and per-student
extensions. Dates are entered and shown in UTC
(the form says so); every change is audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from lti_tool import audit
from lti_tool.errors import NotFound
from lti_tool.grading.service import InvalidInput
from lti_tool.extensions import db
from lti_tool.models import Assignment, DeadlineExtension, Enrollment, User
from lti_tool.statuses import DueSource

# What <input type="datetime-local"> sends (seconds optional).
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
MAX_ATTEMPTS_LIMIT = 100


@dataclass(frozen=True)
class DeadlineSettings:
    """Parsed form values (None: not set)."""

    due_at: datetime | None
    cutoff_at: datetime | None
    max_attempts: int | None
    locked: bool = False
    accepts_audio: bool = False


def _checked(form, name: str) -> bool:
    """Tell whether a checkbox was ticked (a form's "on" or "1", JSON's true)."""
    return str(form.get(name, "")).lower() in ("1", "on", "true")


def parse_moment(raw, label: str) -> datetime | None:
    """Read a UTC moment from a datetime-local field; None when empty."""
    text = (raw or "").strip()
    if not text:
        return None
    for fmt in DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise InvalidInput(f"{label}: write a date and time such as 2031-03-01T09:00.")


def parse_settings(form) -> DeadlineSettings:
    """Read and check the settings form: a cut-off never before the due date."""
    due = parse_moment(form.get("due_at"), "Due date")
    cutoff = parse_moment(form.get("cutoff_at"), "Cut-off")
    if due and cutoff and cutoff < due:
        raise InvalidInput("The cut-off must not come before the due date.")
    raw = (form.get("max_attempts") or "").strip()
    attempts = None
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ATTEMPTS_LIMIT:
            raise InvalidInput(f"Attempts: a whole number from 1 to {MAX_ATTEMPTS_LIMIT}, "
                               "or empty for no limit.")
        attempts = int(raw)
    return DeadlineSettings(due, cutoff, attempts, _checked(form, "locked"),
                            _checked(form, "accepts_audio"))


def apply_settings(assignment: Assignment, actor: User, values: DeadlineSettings) -> None:
    """Store the settings; a due date set here is kept over the LMS's line item date."""
    changed = values.due_at != assignment.due_at
    assignment.due_at = values.due_at
    if changed:
        assignment.due_source = DueSource.TOOL if values.due_at else None
    assignment.cutoff_at = values.cutoff_at
    assignment.max_attempts = values.max_attempts
    assignment.locked = values.locked
    assignment.accepts_audio = values.accepts_audio
    audit.record(audit.EventType.ASSIGNMENT_SETTINGS_CHANGED, actor=actor,
                 course_id=assignment.course_id, target=assignment,
                 due_at=values.due_at.isoformat() if values.due_at else None,
                 cutoff_at=values.cutoff_at.isoformat() if values.cutoff_at else None,
                 max_attempts=values.max_attempts, locked=values.locked,
                 accepts_audio=values.accepts_audio)


def course_student(assignment: Assignment, user_id) -> User:
    """Return a student of the assignment's course (404 for anyone else)."""
    enrollment = db.session.scalar(db.select(Enrollment).filter_by(
        course_id=assignment.course_id, user_id=user_id))
    if enrollment is None:
        raise NotFound("No such student in this course.")
    return enrollment.user


def grant_extension(assignment: Assignment, student: User, actor: User, form) -> DeadlineExtension:
    """Give one student a later due date (and optionally a cut-off); replaces an earlier one."""
    due = parse_moment(form.get("due_at"), "New due date")
    if due is None:
        raise InvalidInput("Give the new due date.")
    cutoff = parse_moment(form.get("cutoff_at"), "New cut-off")
    if cutoff and cutoff < due:
        raise InvalidInput("The cut-off must not come before the due date.")
    extension = db.session.scalar(db.select(DeadlineExtension).filter_by(
        assignment_id=assignment.id, user_id=student.id))
    if extension is None:
        extension = DeadlineExtension(assignment_id=assignment.id, user_id=student.id, due_at=due)
        db.session.add(extension)
    extension.due_at, extension.cutoff_at, extension.granted_by_id = due, cutoff, actor.id
    audit.record(audit.EventType.EXTENSION_GRANTED, actor=actor, course_id=assignment.course_id,
                 target=assignment, student_id=student.id, due_at=due.isoformat())
    return extension


def remove_extension(assignment: Assignment, student: User, actor: User) -> None:
    """Take a student's extension back (their due date is the assignment's again)."""
    extension = db.session.scalar(db.select(DeadlineExtension).filter_by(
        assignment_id=assignment.id, user_id=student.id))
    if extension is not None:
        db.session.delete(extension)
        audit.record(audit.EventType.EXTENSION_REMOVED, actor=actor,
                     course_id=assignment.course_id, target=assignment, student_id=student.id)


def extensions(assignment: Assignment) -> list[DeadlineExtension]:
    """Return the assignment's extensions, by student name."""
    rows = db.session.scalars(db.select(DeadlineExtension).filter_by(
        assignment_id=assignment.id)).all()
    return sorted(rows, key=lambda e: (e.user.display_name or "").casefold())
