"""The people of one platform, found by name, email or LMS user id, sorted and paged in the
database."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import func, or_, select

from lti_tool.admin.paging import (ListFilters, Page, arg_choice, arg_desc, arg_page, arg_text,
                                   order_by_column, page_of)
from lti_tool.models import User

# The columns the list sorts by (?sort=...); by name, A to Z, unless asked otherwise.
SORTS = {"name": func.lower(User.name), "email": func.lower(User.email), "sub": User.sub,
         "last_seen": User.last_seen_at}
DEFAULT_SORT = "name"


@dataclass(frozen=True)
class PeopleFilters(ListFilters):
    """What the admin asked the People list for."""

    q: str = ""
    sort: str = DEFAULT_SORT
    desc: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "PeopleFilters":
        """Read the filters from a query string (a bad one is a 400 naming it)."""
        return cls(q=arg_text(args, "q"),
                   sort=arg_choice(args, "sort", tuple(SORTS), DEFAULT_SORT),
                   desc=arg_desc(args, False), page=arg_page(args))


def search_people(platform_id: int, filters: PeopleFilters) -> Page:
    """Return one page of the platform's users whose name or email holds the query, or whose
    LTI sub is it; everyone when there is no query."""
    query = select(User).where(User.platform_id == platform_id)
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        query = query.where(or_(User.sub == filters.q, func.lower(User.name).like(pattern),
                                func.lower(User.email).like(pattern)))
    ordered = order_by_column(query, SORTS[filters.sort], filters.desc, User.id)
    return page_of(query, ordered, filters.page)
