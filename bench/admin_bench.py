"""The admin's dashboard and videos list at scale on PostgreSQL (issue 11), with EXPLAIN.

    .venv/bin/python bench/admin_bench.py [--courses 1000] [--others 100000]
        [--audit 1000000] [--runs 5] [--tool-dir DIR] [--keep] [--reuse]

Seeds the database of bench/scale_db.py (1,000 courses, 100,000 submissions with videos,
1,000,000 audit events on one platform), then as the platform's administrator asks for the
dashboard (`/admin/`), the videos list (`/admin/videos`, newest first) and the list
filtered by a student's name, `--runs` times each, and prints the median server time (the
WSGI call, in process), the statements of one call and `EXPLAIN (ANALYZE, BUFFERS)` of each
SELECT. Target (issue 11): under 150 ms each.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_db  # noqa: E402

LAUNCH = f"launch={scale_db.ADMIN_LAUNCH}"
PAGES = {"dashboard": f"/admin/?{LAUNCH}",
         "videos list": f"/admin/videos?{LAUNCH}",
         "videos list, one student": f"/admin/videos?student=Student+4242&{LAUNCH}"}

if __name__ == "__main__":
    scale_db.run(scale_db.arguments(__doc__.split("\n\n")[0]).parse_args(),
                 "Admin pages at scale", PAGES)
