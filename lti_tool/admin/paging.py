"""Filters read from a page's query string, the order asked for, and a page of results:
shared by the admin lists."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping, Sequence

from sqlalchemy import Select, func, select

from lti_tool.admin.constants import PAGE_SIZE
from lti_tool.extensions import db
from lti_tool.web.request_input import BadInput, parse_id

MAX_PAGE = 100_000


def arg_text(args: Mapping[str, str], name: str, max_chars: int = 200) -> str:
    """Return a trimmed text filter, refusing one longer than `max_chars`."""
    value = (args.get(name) or "").strip()
    if len(value) > max_chars:
        raise BadInput(f"The filter {name!r} is longer than {max_chars} characters.",
                       code="bad_filter")
    return value


def arg_id(args: Mapping[str, str], name: str) -> int | None:
    """Return an id filter (None when empty), refusing anything but an id."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise BadInput(f"The filter {name!r} must be an id from the list.", code="bad_filter")
    return value


def arg_date(args: Mapping[str, str], name: str) -> date | None:
    """Return a YYYY-MM-DD date filter (None when empty)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"The date {name!r} must look like 2026-01-31.", code="bad_filter") from None


def arg_number(args: Mapping[str, str], name: str) -> float | None:
    """Return a non-negative number filter (None when empty)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0 or value > 1e12:
        raise BadInput(f"The filter {name!r} must be a positive number.", code="bad_filter")
    return value


def arg_page(args: Mapping[str, str]) -> int:
    """Return the page number asked for (1 when absent)."""
    raw = (args.get("page") or "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadInput("The page number must be a whole number from 1.", code="bad_filter")
    return int(raw)


def arg_choice(args: Mapping[str, str], name: str, choices, default: str = "") -> str:
    """Return a value that must be one of `choices` (or `default` when empty)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise BadInput(f"The filter {name!r} must be one of: {', '.join(choices)}.",
                       code="bad_filter")
    return raw


def day_start(day: date) -> datetime:
    """Return the first moment of a day, UTC."""
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def day_after(day: date) -> datetime:
    """Return the first moment of the next day, UTC (an inclusive end date's bound)."""
    return day_start(day + timedelta(days=1))


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, the total and where it stands."""

    rows: Sequence[Any]
    total: int
    number: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.size)


def arg_desc(args: Mapping[str, str], default: bool) -> bool:
    """Return whether the list is sorted descending (?desc=1), `default` when absent."""
    return args.get("desc", "1" if default else "0") == "1"


def order_by_column(query: Select, column, desc: bool, tie) -> Select:
    """Sort by `column` as asked, rows without a value last either way, `tie` (a unique
    column) keeping pages stable."""
    order = column.desc() if desc else column.asc()
    ties = tie.desc() if desc else tie
    if getattr(column, "nullable", True) is False:  # the database may walk an index as is
        return query.order_by(order, ties)
    return query.order_by(column.is_(None), order, ties)


def page_of(query: Select, ordered: Select, number: int) -> Page:
    """Count `query`'s rows and return page `number` of `ordered` (the same query, sorted)."""
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(ordered.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)).all()
    return Page(rows, total, number)


class ListFilters:
    """Base of a list's filters (a frozen dataclass with a `page`): links that keep them."""

    def as_args(self, **changes) -> dict[str, str]:
        """Return the filters as query arguments (for links), with `changes` applied."""
        values = dict(asdict(self), **changes)
        if "desc" in values:
            values["desc"] = "1" if values["desc"] else "0"
        if values.get("page") == 1:
            values["page"] = None
        return as_args(values)


def as_args(values: Mapping[str, Any]) -> dict[str, str]:
    """Return the filters worth putting in a link (empty ones left out)."""
    out = {}
    for key, value in values.items():
        if value in (None, "", False):
            continue
        out[key] = value.isoformat() if isinstance(value, date) else str(
            int(value) if isinstance(value, float) and value.is_integer() else value)
    return out
