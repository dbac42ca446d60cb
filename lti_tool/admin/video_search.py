"""The videos of one platform, filtered, sorted and paged in the database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator, Mapping

from sqlalchemy import Select, func, or_, select

from lti_tool.admin.constants import CSV_MAX_ROWS, PAGE_SIZE
from lti_tool.admin.paging import (ListFilters, Page, arg_choice, arg_date, arg_desc, arg_id,
                                   arg_number, arg_page, arg_text, day_after, day_start,
                                   order_by_column)
from lti_tool.errors import NotFound
from lti_tool.extensions import db
from lti_tool.models import Assignment, Course, Submission, User, Video
from lti_tool.statuses import VideoStatus

MB = 1_000_000
SORTS = {
    "created": Video.created_at,
    "size": Video.size_bytes,
    "duration": Video.duration_seconds,
    "status": Video.status,
    "student": User.name,
    "course": Course.title,
}
DEFAULT_SORT = "created"
STATUSES = tuple(s.value for s in VideoStatus)


@dataclass(frozen=True)
class VideoFilters(ListFilters):
    """What the admin asked the videos list for."""

    course: int | None = None
    assignment: int | None = None
    student: str = ""
    status: str = ""
    since: date | None = None
    until: date | None = None
    min_mb: float | None = None
    max_mb: float | None = None
    sort: str = DEFAULT_SORT
    desc: bool = True
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "VideoFilters":
        """Read the filters from a query string (a bad one is a 400 naming it)."""
        return cls(course=arg_id(args, "course"), assignment=arg_id(args, "assignment"),
                   student=arg_text(args, "student"), status=arg_choice(args, "status", STATUSES),
                   since=arg_date(args, "since"), until=arg_date(args, "until"),
                   min_mb=arg_number(args, "min_mb"), max_mb=arg_number(args, "max_mb"),
                   sort=arg_choice(args, "sort", tuple(SORTS), DEFAULT_SORT),
                   desc=arg_desc(args, True), page=arg_page(args))


@dataclass(frozen=True)
class VideoRow:
    """One line of the list: the video and where it belongs."""

    video: Video
    assignment: Assignment
    course: Course
    student: User


def _query(platform_id: int, f: VideoFilters, *columns) -> Select:
    query = (select(*(columns or (Video, Assignment, Course, User)))
             .select_from(Video)
             .join(Submission, Video.submission_id == Submission.id)
             .join(Assignment, Submission.assignment_id == Assignment.id)
             .join(Course, Assignment.course_id == Course.id)
             .where(Course.platform_id == platform_id))
    # Every submission has its user (a non-null key), so the join drops no row: a count
    # needs it only to filter by student.
    if not columns or f.student:
        query = query.join(User, Submission.user_id == User.id)
    if f.course:
        query = query.where(Course.id == f.course)
    if f.assignment:
        query = query.where(Assignment.id == f.assignment)
    if f.student:
        like = f"%{f.student.lower()}%"
        query = query.where(or_(func.lower(User.name).like(like),
                                func.lower(User.email).like(like), User.sub == f.student))
    if f.status:
        query = query.where(Video.status == f.status)
    if f.since:
        query = query.where(Video.created_at >= day_start(f.since))
    if f.until:
        query = query.where(Video.created_at < day_after(f.until))
    if f.min_mb is not None:
        query = query.where(Video.size_bytes >= int(f.min_mb * MB))
    if f.max_mb is not None:
        query = query.where(Video.size_bytes <= int(f.max_mb * MB))
    return query


def _sorted(query: Select, f: VideoFilters) -> Select:
    # By date the database may walk ix_video_created; no size yet goes last.
    return order_by_column(query, SORTS[f.sort], f.desc, Video.id)


def search_videos(platform_id: int, filters: VideoFilters) -> Page:
    """Return one page of the platform's videos matching the filters."""
    total = db.session.scalar(_query(platform_id, filters, func.count(Video.id)))
    rows = db.session.execute(_sorted(_query(platform_id, filters), filters).limit(PAGE_SIZE)
                              .offset((filters.page - 1) * PAGE_SIZE)).all()
    return Page([VideoRow(*row) for row in rows], total, filters.page)


def iter_videos(platform_id: int, filters: VideoFilters) -> Iterator[VideoRow]:
    """Yield every matching video (up to CSV_MAX_ROWS), in the list's order, for a CSV."""
    query = _sorted(_query(platform_id, filters), filters).limit(CSV_MAX_ROWS)
    for row in db.session.execute(query.execution_options(yield_per=500)):
        yield VideoRow(*row)


def course_choices(platform_id: int) -> list:
    """Return the platform's courses (id, title) for a filter menu."""
    return db.session.execute(select(Course.id, Course.title).where(
        Course.platform_id == platform_id).order_by(Course.title, Course.id)).all()


def filter_choices(platform_id: int) -> dict[str, list]:
    """Return the platform's courses and assignments for the filter menus."""
    courses = course_choices(platform_id)
    assignments = db.session.execute(
        select(Assignment.id, Assignment.title, Course.title).join(Course)
        .where(Course.platform_id == platform_id).order_by(Course.title, Assignment.title)).all()
    return {"courses": courses, "assignments": assignments, "statuses": STATUSES}


def platform_video(platform_id: int, video_id: int) -> Video:
    """Return a video of the platform, or raise NotFound (another platform's is not found)."""
    video = db.session.scalar(
        select(Video).join(Submission, Video.submission_id == Submission.id)
        .join(Assignment).join(Course)
        .where(Video.id == video_id, Course.platform_id == platform_id))
    if video is None:
        raise NotFound("No such video on your platform.")
    return video
