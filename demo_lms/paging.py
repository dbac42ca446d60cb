"""Paging of service containers with `limit` and `from`, announced by a Link rel="next" header."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LIMIT_PARAM = "limit"
FROM_PARAM = "from"
_COUNT = re.compile(r"[0-9]{1,9}")


def page_of(items: list, args, url: str) -> tuple[list, str | None]:
    """Return the page of `items` that `args` asks for, and the next page's URL (or None)."""
    start = _non_negative(args.get(FROM_PARAM))
    limit = _non_negative(args.get(LIMIT_PARAM))
    page = items[start:start + limit] if limit else items[start:]
    if not limit or start + limit >= len(items):
        return page, None
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: v for k, v in args.items() if k not in (FROM_PARAM, LIMIT_PARAM)})
    query.update({LIMIT_PARAM: limit, FROM_PARAM: start + limit})
    return page, urlunsplit(parts._replace(query=urlencode(query)))


def _non_negative(value: str | None) -> int:
    return int(value) if value is not None and _COUNT.fullmatch(value) else 0
