"""Sizes and durations read the same whether the server or the browser writes them.

lti_tool/web/formatting.py writes what templates render; static/js/format.js writes what
the pages' scripts show. Both run here, the script under Node, on one table of values.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lti_tool.web.formatting import format_duration, format_size

FORMAT_JS = Path(__file__).resolve().parents[1] / "static" / "js" / "format.js"
NODE = shutil.which("node")
NODE_TIMEOUT_SECONDS = 30
NARROW_NBSP = "\u202f"

SIZES = [None, 0, 1, 2, 999, 1000, 1001, 1023, 1024, 1075, 1076, 10_188, 10_189, 1_048_063,
         1_048_064, 200 * 1024**2, 5 * 1024**3, 5 * 10**9, 1049, 1050, 1099, 1949, 1950, 9949,
         9950, 9999,
         10_000, 10_499, 10_500, 99_499, 99_500, 999_499, 999_500, 999_999, 1_000_000,
         1_048_576, 5_368_709_120, 9_949_999_999, 9_950_000_000, 740_000_000,
         999_499_999_999, 999_500_000_000, 10**12, 10**15, 999_500 * 10**12, 10**18, 10**19]
DURATIONS = [None, 0, 0.4, 0.999, 1, 12.9, 59, 59.999, 60, 61.5, 599.99, 600, 3599.999, 3600,
             3600.5, 3725.5, 35_999, 36_000, 86_399.9, 360_000, -5]

# What the rules say, written out for a few values (formatting.py's docstring).
SIZE_EXAMPLES = {1: "1 byte", 1023: "1023 bytes", 1024: "1 KB", 1075: "1 KB", 1076: "1.1 KB",
                 10_188: "9.9 KB", 10_189: "10 KB", 1_048_063: "1023 KB", 1_048_064: "1 MB",
                 200 * 1024**2: "200 MB", 5 * 1024**3: "5 GB", 5 * 10**9: "4.7 GB",
                 740 * 1024**2: "740 MB"}
DURATION_EXAMPLES = {12.9: "0:12", 59.999: "0:59", 3600: "1:00:00", 3725.5: "1:02:05"}

SCRIPT = """
import { readFileSync } from "node:fs";
import * as format from %s;
const {name, values} = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(values.map((value) => format[name](value))));
"""


def run_js(name: str, values: list, *, env: dict | None = None) -> list[str]:
    """Return format.js's `name` applied to each value, computed by Node."""
    if NODE is None:
        pytest.fail("node is not installed; the README's setup installs it.")
    script = SCRIPT % json.dumps(FORMAT_JS.as_uri())
    done = subprocess.run([NODE, "--input-type=module", "-e", script],
                          input=json.dumps({"name": name, "values": values}),
                          capture_output=True, text=True, timeout=NODE_TIMEOUT_SECONDS,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def differences(values: list, python: list[str], browser: list[str]) -> list[tuple]:
    return [(v, p, b) for v, p, b in zip(values, python, browser) if p != b]


def test_sizes_read_the_same_on_server_and_browser():
    python = [format_size(v) for v in SIZES]
    browser = run_js("formatSize", SIZES)
    assert len(browser) == len(SIZES)
    assert differences(SIZES, python, browser) == []


def test_durations_read_the_same_on_server_and_browser():
    python = [format_duration(v) for v in DURATIONS]
    browser = run_js("formatDuration", DURATIONS)
    assert len(browser) == len(DURATIONS)
    assert differences(DURATIONS, python, browser) == []


def test_the_shared_rules_give_the_documented_strings():
    sizes, durations = list(SIZE_EXAMPLES), list(DURATION_EXAMPLES)
    expected_sizes, expected_durations = list(SIZE_EXAMPLES.values()), \
        list(DURATION_EXAMPLES.values())
    assert [format_size(v) for v in sizes] == expected_sizes
    assert run_js("formatSize", sizes) == expected_sizes
    assert [format_duration(v) for v in durations] == expected_durations
    assert run_js("formatDuration", durations) == expected_durations


def viewer(zone: str) -> dict:
    """Return the environment of a viewer in `zone` whose locale is en-US."""
    return {"TZ": zone, "LANG": "en_US.UTF-8", "LC_ALL": "en_US.UTF-8"}


def spaced(texts: list[str]) -> list[str]:
    # ICU 72+ may put a narrow no-break space before AM/PM; the words are what matter here.
    return [t.replace(NARROW_NBSP, " ") for t in texts]


def test_moments_are_written_in_the_viewers_zone_with_one_style():
    """The server's UTC moment, with or without its offset, in the viewer's zone and locale."""
    moments = ["2026-03-01T09:05:00+00:00", "2026-03-01T09:05:00", "2026-03-01T09:05:00Z",
               "not a moment", ""]
    in_utc = run_js("formatMoment", moments, env=viewer("UTC"))
    assert spaced(in_utc) == ["Mar 1, 2026, 9:05 AM"] * 3 + ["", ""]
    in_new_york = run_js("formatMoment", moments[:3], env=viewer("America/New_York"))
    assert spaced(in_new_york) == ["Mar 1, 2026, 4:05 AM"] * 3


@pytest.mark.parametrize("count, noun, plural, expected", [
    (0, "video", None, "0 videos"), (1, "video", None, "1 video"), (2, "video", None, "2 videos"),
    (1, "audit log entry", "audit log entries", "1 audit log entry"),
    (3, "audit log entry", "audit log entries", "3 audit log entries"),
])
def test_counts_read_in_the_right_number(count, noun, plural, expected):
    from lti_tool.web.formatting import format_count
    assert format_count(count, noun, plural) == expected
