"""The audit log of one platform, filtered, sorted and paged in the database."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator, Mapping

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from lti_tool.admin.constants import CSV_MAX_ROWS, PAGE_SIZE
from lti_tool.admin.paging import (ListFilters, Page, arg_choice, arg_date, arg_desc, arg_id,
                                   arg_page, arg_text, day_after, day_start)
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Course, User

ACTIONS = tuple(sorted(e.value for e in EventType))
Actor = aliased(User)
# The columns the list sorts by (?sort=...); newest first unless asked otherwise.
SORTS = {"at": AuditEvent.at, "action": AuditEvent.event_type,
         "user": func.lower(Actor.name), "course": func.lower(Course.title)}
DEFAULT_SORT = "at"


@dataclass(frozen=True)
class AuditFilters(ListFilters):
    """What the admin asked the audit log for."""

    user: str = ""
    course: int | None = None
    action: str = ""
    since: date | None = None
    until: date | None = None
    sort: str = DEFAULT_SORT
    desc: bool = True
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "AuditFilters":
        """Read the filters from a query string (a bad one is a 400 naming it)."""
        return cls(user=arg_text(args, "user"), course=arg_id(args, "course"),
                   action=arg_choice(args, "action", ACTIONS), since=arg_date(args, "since"),
                   until=arg_date(args, "until"),
                   sort=arg_choice(args, "sort", tuple(SORTS), DEFAULT_SORT),
                   desc=arg_desc(args, True), page=arg_page(args))


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    actor: User | None
    course: Course | None


def _query(platform_id: int, f: AuditFilters) -> Select:
    query = (select(AuditEvent, Actor, Course)
             .outerjoin(Actor, AuditEvent.actor_id == Actor.id)
             .outerjoin(Course, AuditEvent.course_id == Course.id)
             .where(AuditEvent.platform_id == platform_id))
    if f.user:
        like = f"%{f.user.lower()}%"
        query = query.where(or_(func.lower(Actor.name).like(like),
                                func.lower(Actor.email).like(like), Actor.sub == f.user))
    if f.course:
        query = query.where(AuditEvent.course_id == f.course)
    if f.action:
        query = query.where(AuditEvent.event_type == f.action)
    if f.since:
        query = query.where(AuditEvent.at >= day_start(f.since))
    if f.until:
        query = query.where(AuditEvent.at < day_after(f.until))
    return query


def _sorted(query: Select, f: AuditFilters) -> Select:
    # By time, exactly the index's order (at, id); by another column, empty ones last and
    # the newest first among equals.
    if f.sort == DEFAULT_SORT:
        return query.order_by(*((AuditEvent.at.desc(), AuditEvent.id.desc()) if f.desc
                                else (AuditEvent.at, AuditEvent.id)))
    column = SORTS[f.sort]
    return query.order_by(column.is_(None), column.desc() if f.desc else column.asc(),
                          AuditEvent.at.desc(), AuditEvent.id.desc())


def search_events(platform_id: int, filters: AuditFilters) -> Page:
    """Return one page of the platform's audit events, in the order asked (newest first)."""
    query = _query(platform_id, filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(_sorted(query, filters).limit(PAGE_SIZE)
                              .offset((filters.page - 1) * PAGE_SIZE)).all()
    return Page([AuditRow(*row) for row in rows], total, filters.page)


def iter_events(platform_id: int, filters: AuditFilters) -> Iterator[AuditRow]:
    """Yield every matching event (up to CSV_MAX_ROWS), in the list's order, for a CSV."""
    query = _sorted(_query(platform_id, filters), filters).limit(CSV_MAX_ROWS)
    for row in db.session.execute(query.execution_options(yield_per=1000)):
        yield AuditRow(*row)
