"""The instructor's pages at scale on PostgreSQL: server time and EXPLAIN of every query.

    .venv/bin/python bench/review_list_bench.py [--students 500] [--others 100000]
        [--courses 1000] [--audit 1000000] [--runs 5] [--tool-dir DIR] [--keep] [--reuse]

Seeds the database of bench/scale_db.py, then as the bench course's instructor asks for the
assignment's list (`/review/assignment`) and one student's review page
(`/review/students/1`) `--runs` times each, and prints the median server time (the WSGI
call, in process), the statements of one call, and `EXPLAIN (ANALYZE, BUFFERS)` of each
SELECT. Target (issue 14): under 150 ms each.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_db  # noqa: E402

PAGES = {"assignment list": f"/review/assignment?launch={scale_db.INSTRUCTOR_LAUNCH}",
         "student page": f"/review/students/1?launch={scale_db.INSTRUCTOR_LAUNCH}"}

if __name__ == "__main__":
    scale_db.run(scale_db.arguments(__doc__.split("\n\n")[0]).parse_args(),
                 "Instructor pages at scale", PAGES)
