"""What a user may see or do, decided from their role in the course the thing belongs to."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

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
    return _role_in(user, course.id, course.platform_id)


def _role_in(user: User | None, course_id: int, course_platform_id: int) -> Role | None:
    """role_in_course of the course with this id on this platform (no Course row needed)."""
    if user is None or user.platform_id != course_platform_id:
        return None
    enrollment = db.session.scalar(
        db.select(Enrollment).filter_by(course_id=course_id, user_id=user.id))
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
    course = submission.assignment.course
    return _may_view(user, submission.user_id, course.id, course.platform_id)


def _may_view(user: User | None, owner_id: int, course_id: int, course_platform_id: int,
              known_role: tuple[int, Role | None] | None = None) -> bool:
    """can_view_submission from the submission's owner and its course's id and platform.

    `known_role` is (course id, the user's role_in_course there) when the caller has it
    already (the launch's course: its enrollment came with the launch)."""
    if user is None:
        return False
    if user.platform_id != course_platform_id:
        return False
    if owner_id == user.id:
        return True
    if known_role is not None and known_role[0] == course_id:
        return known_role[1] in STAFF_ROLES
    return _role_in(user, course_id, course_platform_id) in STAFF_ROLES


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


@dataclass(frozen=True)
class PlayableVideo:
    """What a playback grant reads of a video (lti_tool.playback.views.grant_playback): its
    own columns and its course, without the video, submission, assignment and course rows."""

    __tablename__: ClassVar[str] = Video.__tablename__  # an audit event's target type

    id: int
    status: str
    backend: str
    storage_uid: str | None
    has_thumbnail: bool
    media_info: dict[str, Any] | None
    course_id: int

    # The same flags, read from media_info, as the model's.
    has_rendition = Video.has_rendition
    is_sound_only = Video.is_sound_only

    @classmethod
    def of(cls, video: Video) -> "PlayableVideo":
        """Return the grant's view of a loaded video (the admin's video page)."""
        return cls(id=video.id, status=video.status, backend=video.backend,
                   storage_uid=video.storage_uid, has_thumbnail=bool(video.has_thumbnail),
                   media_info=video.media_info, course_id=video.submission.assignment.course_id)


# A playback grant per play (bench/profile_launch.py): one Core query for the columns the
# grant and the access check need, not the video with its submission, assignment and course
# as ORM objects. The check is can_view_submission's, from the same columns.
_PLAYABLE_VIDEO = (
    select(Video.id, Video.status, Video.backend, Video.storage_uid, Video.has_thumbnail,
           Video.media_info, Course.id.label("course_id"),
           Submission.user_id.label("owner_id"), Course.platform_id.label("course_platform_id"))
    .join(Submission, Submission.id == Video.submission_id)
    .join(Assignment, Assignment.id == Submission.assignment_id)
    .join(Course, Course.id == Assignment.course_id)
    .where(Video.id == bindparam("video_id")))


def get_playable_video(user: User | None, video_id: int,
                       known_role: tuple[int, Role | None] | None = None) -> PlayableVideo:
    """Return what a grant needs of a video the user may see (as get_visible_video decides),
    or raise NotFound. `known_role`: (course id, the user's role_in_course there), when the
    caller knows it, saves reading the enrollment again for a video of that course."""
    row = db.session.execute(_PLAYABLE_VIDEO, {"video_id": video_id}).first()
    if row is None or not _may_view(user, row.owner_id, row.course_id, row.course_platform_id,
                                    known_role):
        raise NotFound("No such video.")
    return PlayableVideo(id=row.id, status=row.status, backend=row.backend,
                         storage_uid=row.storage_uid, has_thumbnail=bool(row.has_thumbnail),
                         media_info=row.media_info, course_id=row.course_id)


def ensure_grader(user: User | None, assignment: Assignment) -> None:
    """Raise Forbidden unless the user may grade this assignment."""
    if not can_grade(user, assignment):
        raise Forbidden("Only the course's instructors and teaching assistants may do this.")
