"""How sizes, durations and moments are written for people, the same on every page.

static/js/format.js implements the same rules for what the browser writes itself;
tests/test_formatting.py runs both on one table of values.

- Sizes: binary units with the familiar names, as the site's limits are set (1 KB = 1024
  bytes, the 5 GB limit is 5 x 1024^3 bytes); below 10 of a unit one decimal ("4.7 GB"),
  else whole ("740 MB"); halves round up; "1 byte", "1023 bytes".
- Durations: whole seconds, rounded down (a comment at 12.9 s is at 0:12): "m:ss", "h:mm:ss".
- Moments: UTC "YYYY-MM-DD HH:MM UTC" in the page, inside <time datetime="ISO">, which the
  browser rewrites in the viewer's locale and time zone.
"""
from __future__ import annotations

import math
from datetime import datetime

SIZE_UNITS = ("KB", "MB", "GB", "TB")
SIZE_BASE = 1024
MB = SIZE_BASE**2
GB = SIZE_BASE**3  # what every form that takes a size in GB means by it


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)


def format_size(size_bytes: int | float | None) -> str:
    """Write a byte count for people: '4.7 GB', '740 MB', '12 KB', '1 byte'."""
    n = max(0, int(size_bytes or 0))
    if n < SIZE_BASE:
        return "1 byte" if n == 1 else f"{n} bytes"
    factor = 1
    for index, unit in enumerate(SIZE_UNITS):
        factor *= SIZE_BASE
        tenths = _half_up(n * 10 / factor)
        if tenths < 100:  # below 10 units: one decimal
            whole, tenth = divmod(tenths, 10)
            return f"{whole} {unit}" if tenth == 0 else f"{whole}.{tenth} {unit}"
        units = _half_up(n / factor)
        if units < SIZE_BASE or index == len(SIZE_UNITS) - 1:
            return f"{units} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: int | float | None) -> str:
    """Write seconds as m:ss or h:mm:ss, rounded down to the whole second."""
    total = max(0, math.floor(float(seconds or 0)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_moment(moment: datetime | None) -> str:
    """Write a moment in UTC for the page (the browser shows it in the viewer's zone)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def format_score(value: float | None) -> str:
    """Write a score without useless decimals (8.0 -> 8, 7.25 -> 7.25)."""
    return "" if value is None else f"{float(value):g}"


def format_count(count: int, noun: str, plural: str | None = None) -> str:
    """Write a count with its noun in the right number (1 video, 2 videos, 0 videos)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


TEMPLATE_FILTERS = {"filesize": format_size, "hms": format_duration, "utc": format_moment,
                    "score": format_score, "counted": format_count}
