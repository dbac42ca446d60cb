"""What a user may see or do, decided from their role in the course the thing belongs to."""
from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from lti_tool.access.roles import GRADER_ROLES, STAFF_ROLES, Role
from lti_tool.errors import Forbidden, NotFound
from lti_tool.extensions import db
from lti_tool.models import Assignment, Course, Enrollment, Submission, User, Video


def is_admin(user: User | None) -> bool:
    """Tell whether the user administers the tool for their platform: an institution or
    system Administrator of the LMS (from their launches) or granted by an operator."""
    return user is not None and bool(user.is_platform_admin or user.admin_granted)


def role_in_course(user: User | None, course: Course) -> Role | None:
    """Return the user's role in the course, or None when they have none there.

    A platform administrator (is_admin) counts as admin in every course of their own
    platform only.
    """
    if user is None or user.platform_id != course.platform_id:
        return None
    enrollment = db.session.scalar(
        db.select(Enrollment).filter_by(course_id=course.id, user_id=user.id))
    return role_from(user, enrollment)


def role_from(user: User, enrollment: Enrollment | None) -> Role | None:
    """Decide the role of a user of the course's platform from their enrollment (or none).

    Staff roles come first; a platform administrator is admin where they are not staff;
    a learner is a learner; an enrollment the roster deactivated counts as none.
    """
    active = enrollment if enrollment is not None and enrollment.active else None
    if active is not None and active.role != Role.LEARNER:
        return Role(active.role)
    if is_admin(user):
        return Role.ADMIN
    return Role(active.role) if active is not None else None


def can_view_submission(user: User | None, submission: Submission) -> bool:
    """Tell whether the user may see this submission: its owner, or staff of its course."""
    if user is None:
        return False
    course = submission.assignment.course
    if user.platform_id != course.platform_id:
        return False
    if submission.user_id == user.id:
        return True
    return role_in_course(user, course) in STAFF_ROLES


def can_grade(user: User | None, assignment: Assignment) -> bool:
    """Tell whether the user may grade and comment in this assignment."""
    return role_in_course(user, assignment.course) in GRADER_ROLES


def get_visible_submission(user: User | None, submission_id: int) -> Submission:
    """Load a submission the user may see, or raise NotFound (never reveal it exists)."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or not can_view_submission(user, submission):
        raise NotFound("No such submission.")
    return submission


# One statement object for every call: its cache key is worked out once (a playback grant
# loads a video per play; bench/profile_launch.py).
_VISIBLE_VIDEO = (select(Video).options(joinedload(Video.submission)
                                        .joinedload(Submission.assignment)
                                        .joinedload(Assignment.course))
                  .where(Video.id == bindparam("video_id")))


def get_visible_video(user: User | None, video_id: int) -> Video:
    """Load a video the user may see, or raise NotFound.

    The video comes with its submission, assignment and course in one query: deciding who
    may see it needs all three.
    """
    video = db.session.execute(_VISIBLE_VIDEO, {"video_id": video_id}).scalar_one_or_none()
    if video is None or not can_view_submission(user, video.submission):
        raise NotFound("No such video.")
    return video


def ensure_grader(user: User | None, assignment: Assignment) -> None:
    """Raise Forbidden unless the user may grade this assignment."""
    if not can_grade(user, assignment):
        raise Forbidden("Only the course's instructors and teaching assistants may do this.")
