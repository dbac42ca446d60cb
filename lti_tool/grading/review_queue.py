"""The instructor's queue of an assignment: every student with their submission state.

Built with a fixed number of queries whatever the class size (enrollments, submissions,
latest videos, outbox rows), then filtered and sorted in Python so the list page and
"next student" agree on the order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.grading.outbox import LmsState, is_notice, latest_items, lms_state
from lti_tool.models import Assignment, Enrollment, ScoreOutbox, Submission, User, Video
from lti_tool.statuses import VIDEO_STATUS_LABELS, OutboxStatus, VideoStatus
from lti_tool.uploads.deadlines import extensions_by_user, is_late


class RowStatus(StrEnum):
    """What the queue says about a student's submission."""

    NOT_SUBMITTED = "not_submitted"
    UPLOADING = "uploading"
    PROCESSING = "processing"
    READY = "ready"
    ERROR = "error"


# A row in a video state reads as that video status does (statuses.VIDEO_STATUS_LABELS).
STATUS_LABELS = {RowStatus.NOT_SUBMITTED: "Not submitted",
                 **{row: VIDEO_STATUS_LABELS[VideoStatus(row.value)] for row in RowStatus
                    if row != RowStatus.NOT_SUBMITTED}}
VIDEO_TO_ROW = {VideoStatus.PENDING: RowStatus.UPLOADING, VideoStatus.UPLOADING:
                RowStatus.UPLOADING, VideoStatus.PROCESSING: RowStatus.PROCESSING,
                VideoStatus.READY: RowStatus.READY, VideoStatus.ERROR: RowStatus.ERROR}
SORT_KEYS = ("name", "status", "submitted", "grade", "lms")
FILTER_GRADED = ("", "graded", "ungraded")
FILTER_LATE = ("", "late", "on_time")
USERS_BATCH = 1000  # users per query when a queue loads its students


@dataclass
class Filters:
    """What the grader chose to see, as carried in the list's query string."""

    status: str = ""
    late: str = ""
    graded: str = ""
    q: str = ""
    sort: str = "name"
    desc: bool = False

    @classmethod
    def from_args(cls, args) -> "Filters":
        """Read the filters from request args, ignoring values we do not know."""
        status = args.get("status", "")
        return cls(status=status if status in set(RowStatus) else "",
                   late=args.get("late", "") if args.get("late", "") in FILTER_LATE else "",
                   graded=(args.get("graded", "") if args.get("graded", "") in FILTER_GRADED
                           else ""),
                   q=(args.get("q") or "").strip()[:100],
                   sort=args.get("sort") if args.get("sort") in SORT_KEYS else "name",
                   desc=args.get("desc") == "1")

    def as_args(self) -> dict:
        """Return the non-default filters, for links that keep them."""
        values = {"status": self.status, "late": self.late, "graded": self.graded,
                  "q": self.q, "sort": "" if self.sort == "name" else self.sort,
                  "desc": "1" if self.desc else ""}
        return {k: v for k, v in values.items() if v}


@dataclass
class Row:
    """One student of the queue."""

    user: User
    submission: Submission | None
    video: Video | None  # the attempt to review (current, else the newest)
    newer_attempt: Video | None  # a newer attempt still in flight
    status: RowStatus
    late: bool
    outbox: ScoreOutbox | None
    in_roster: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def graded(self) -> bool:
        return self.submission is not None and self.submission.score_given is not None

    @property
    def submitted_at(self) -> datetime | None:
        return self.submission.submitted_at if self.submission else None

    @property
    def lms(self) -> LmsState:
        """Return what reached the LMS for this student, as the pages word it."""
        return lms_state(self.outbox, self.submission)

    @property
    def lms_state(self) -> str:
        """Return 'delivered', 'pending', 'failed' or '' (nothing sent)."""
        return self.outbox.status if self.outbox is not None else ""


def build_rows(assignment: Assignment) -> list[Row]:
    """Return a row for every active student of the course and everyone who submitted."""
    enrollments = db.session.scalars(
        select(Enrollment).where(Enrollment.course_id == assignment.course_id)).all()
    roles = {e.user_id: e for e in enrollments}
    submissions = db.session.scalars(
        select(Submission).options(joinedload(Submission.current_video))
        .where(Submission.assignment_id == assignment.id)).all()
    loaded = _load_users({e.user_id for e in enrollments} | {s.user_id for s in submissions})
    by_user = {s.user_id: s for s in submissions}
    newest = _newest_videos([s.id for s in submissions])
    outbox = latest_items([s.id for s in submissions])
    extensions = extensions_by_user(assignment)
    users: dict[int, User] = {e.user_id: e.user for e in enrollments
                              if e.active and e.role == Role.LEARNER}
    for submission in submissions:  # students who left still show with their work
        if submission.submitted_at or submission.id in newest or \
                submission.score_given is not None:
            users.setdefault(submission.user_id, submission.user)
    rows = []
    for user_id, user in users.items():
        submission = by_user.get(user_id)
        enrollment = roles.get(user_id)
        if submission is None:
            rows.append(Row(user, None, None, None, RowStatus.NOT_SUBMITTED, False, None))
            continue
        latest = newest.get(submission.id)
        video = submission.current_video or latest
        newer = latest if (latest is not None and video is not None and latest.id != video.id
                           and latest.status not in (VideoStatus.READY, VideoStatus.DELETED))\
            else None
        rows.append(Row(user, submission, video, newer, _row_status(video), is_late(
            submission, assignment, extensions), outbox.get(submission.id),
            in_roster=enrollment is not None and enrollment.active))
    del loaded  # the rows hold their users now
    return rows


def _load_users(user_ids: set[int]) -> list[User]:
    """Load these users by primary key, so `enrollment.user` and `submission.user` come from
    the session's identity map without a query each (as long as the caller holds the list:
    the identity map keeps no object alive by itself).

    Never joined to the enrollments: PostgreSQL then hashed every user of the site to find one
    course's (tests/test_review_queries.py).
    """
    ids = sorted(user_ids)
    users: list[User] = []
    for start in range(0, len(ids), USERS_BATCH):
        users.extend(db.session.scalars(
            select(User).where(User.id.in_(ids[start:start + USERS_BATCH]))))
    return users


def _newest_videos(submission_ids: list[int]) -> dict[int, Video]:
    if not submission_ids:
        return {}
    newest = (select(func.max(Video.id)).where(Video.submission_id.in_(submission_ids),
                                               Video.status != VideoStatus.DELETED)
              .group_by(Video.submission_id)).scalar_subquery()
    return {v.submission_id: v for v in db.session.scalars(select(Video).where(
        Video.id.in_(newest)))}


def _row_status(video: Video | None) -> RowStatus:
    if video is None:
        return RowStatus.NOT_SUBMITTED
    return VIDEO_TO_ROW.get(video.status, RowStatus.NOT_SUBMITTED)


def apply_filters(rows: list[Row], filters: Filters) -> list[Row]:
    """Keep the rows the filters ask for, in the order they ask for."""
    needle = filters.q.casefold()
    kept = [r for r in rows
            if (not filters.status or r.status == filters.status)
            and (not filters.late or r.late == (filters.late == "late"))
            and (not filters.graded or r.graded == (filters.graded == "graded"))
            and (not needle or needle in _search_text(r))]
    kept.sort(key=_sort_key(filters.sort), reverse=filters.desc)
    return kept


def _search_text(row: Row) -> str:
    user = row.user
    return " ".join(filter(None, (user.display_name, user.email, user.sub))).casefold()


def _sort_key(name: str):
    order = list(RowStatus)
    lms = {OutboxStatus.FAILED: 0, OutboxStatus.PENDING: 1, "": 2, OutboxStatus.DELIVERED: 3}
    keys = {
        "name": lambda r: r.user.display_name.casefold(),
        "status": lambda r: (order.index(r.status), r.user.display_name.casefold()),
        "submitted": lambda r: (r.submitted_at is None, r.submitted_at.timestamp()
                                if r.submitted_at else 0),
        "grade": lambda r: (not r.graded, r.submission.score_given if r.graded else 0),
        "lms": lambda r: (lms.get(r.lms_state, 2), r.user.display_name.casefold()),
    }
    return keys[name]


def next_to_grade(rows: list[Row], after_user_id: int) -> Row | None:
    """Return the next row (after the given student, wrapping) that is submitted, ungraded."""
    ids = [r.user.id for r in rows]
    start = ids.index(after_user_id) + 1 if after_user_id in ids else 0
    for row in rows[start:] + rows[:start]:
        if row.user.id != after_user_id and row.submission is not None and \
                row.submitted_at is not None and not row.graded:
            return row
    return None


def summary(rows: list[Row]) -> dict[str, int]:
    """Count students, submissions, graded ones and scores not yet in the LMS."""
    return {"students": len(rows),
            "submitted": sum(1 for r in rows if r.submitted_at is not None),
            "graded": sum(1 for r in rows if r.graded),
            "held": sum(1 for r in rows if r.lms.held),
            # A "submitted" notice the LMS did not take is no refused grade.
            "failed": sum(1 for r in rows if r.lms_state == OutboxStatus.FAILED
                          and not is_notice(r.outbox)),
            "pending": sum(1 for r in rows if r.lms_state == OutboxStatus.PENDING)}
