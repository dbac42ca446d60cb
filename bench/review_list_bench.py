"""The instructor's pages at scale on PostgreSQL: server time and EXPLAIN of every query.

    .venv/bin/python bench/review_list_bench.py [--students 500] [--others 100000]
        [--audit 1000000] [--runs 5] [--tool-dir DIR]

Fills a fresh database `bench_review` (INSERT ... SELECT generate_series, a few seconds): one
course whose assignment has `--students` students, each with a ready video, a delivered
score and four comments; beside it another course with `--others` students, submissions,
videos, scores and two comments each; and `--audit` audit events spread over all of them.
Then, in a child process of the tool, asks for the assignment's list (`/review/assignment`)
and one student's review page (`/review/students/<id>`) as the instructor, `--runs` times
each, and prints the median server time (the WSGI call, in process: no network, no
browser), the statements of one call, and `EXPLAIN (ANALYZE, BUFFERS)` of each SELECT.
Target (issue 14): under 150 ms each.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("BENCH_TOOL_DIR") or str(ROOT))

PYTHON = str(ROOT / ".venv" / "bin" / "python")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "bench_review"
LAUNCH_ID = "bench-review-instructor"

SEED_SQL = """
INSERT INTO "user" (id, platform_id, sub, name, email, is_platform_admin, admin_granted,
                    created_at)
SELECT g, %(platform)s, 'u' || g, 'Student ' || g, 'u' || g || '@bench.invalid', false, false,
       now()
FROM generate_series(1, %(students)s + 1 + %(others)s) g;
-- user 1..students: our course; students+1: the instructor; the rest: the other course
INSERT INTO enrollment (course_id, user_id, role, source, active, updated_at)
SELECT CASE WHEN g <= %(students)s + 1 THEN %(course)s ELSE %(other_course)s END, g,
       CASE WHEN g = %(students)s + 1 THEN 'instructor' ELSE 'learner' END, 'launch', true,
       now()
FROM generate_series(1, %(students)s + 1 + %(others)s) g;
INSERT INTO submission (id, assignment_id, user_id, submitted_at, released, created_at,
                        score_given, graded_at)
SELECT g, CASE WHEN g <= %(students)s THEN %(assignment)s ELSE %(other_assignment)s END,
       CASE WHEN g <= %(students)s THEN g ELSE g + 1 END, now() - interval '1 day', false,
       now() - interval '2 days', CASE WHEN g %% 3 = 0 THEN 7 END,
       CASE WHEN g %% 3 = 0 THEN now() END
FROM generate_series(1, %(students)s + %(others)s) g;
INSERT INTO video (id, submission_id, attempt, backend, storage_uid, status, filename,
                   size_bytes, duration_seconds, has_thumbnail, created_at, ready_at,
                   legal_hold)
SELECT g, g, 1, 'local', 'bench-' || g, 'ready', 'video-' || g || '.mp4', 50000000, 120.0,
       true, now() - interval '1 day', now() - interval '1 day', false
FROM generate_series(1, %(students)s + %(others)s) g;
UPDATE submission SET current_video_id = id;
INSERT INTO score_outbox (submission_id, payload, score_timestamp, status, attempts,
                          next_attempt_at, created_at, delivered_at)
SELECT g, '{"scoreGiven": 7}'::json, now(), 'delivered', 1, now(), now(), now()
FROM generate_series(1, %(students)s + %(others)s) g WHERE g %% 3 = 0;
INSERT INTO comment (submission_id, video_id, author_id, at_seconds, body, created_at)
SELECT s, s, %(students)s + 1, c * 10.0, 'Comment ' || c, now()
FROM generate_series(1, %(students)s + %(others)s) s,
     generate_series(1, 4) c WHERE s <= %(students)s OR c <= 2;
INSERT INTO audit_event (at, event_type, actor_id, platform_id, course_id, target_type,
                         target_id, data, ip)
SELECT now() - (g || ' seconds')::interval, 'playback_granted',
       1 + (g::bigint * 7919) %% (%(students)s + 1 + %(others)s), %(platform)s,
       CASE WHEN g %% 100 = 0 THEN %(course)s ELSE %(other_course)s END, 'video',
       (1 + g %% (%(students)s + %(others)s))::text, '{"backend": "local"}'::json, '127.0.0.1'
FROM generate_series(1, %(audit)s) g;
SELECT setval(pg_get_serial_sequence('"user"', 'id'), (SELECT max(id) FROM "user"));
SELECT setval(pg_get_serial_sequence('submission', 'id'), (SELECT max(id) FROM submission));
SELECT setval(pg_get_serial_sequence('video', 'id'), (SELECT max(id) FROM video));
"""


def seed(args) -> dict:
    """Child process: make the courses with the ORM, the bulk rows with SQL; return ids."""
    from datetime import timedelta

    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.models import (Assignment, Course, Deployment, LaunchRecord, Platform,
                                 utcnow)
    app = create_app()
    with app.app_context():
        platform = Platform(name="bench", issuer="https://lms.bench.invalid", client_id="c",
                            auth_login_url="https://lms.bench.invalid/auth",
                            auth_token_url="https://lms.bench.invalid/token",
                            key_set_url="https://lms.bench.invalid/jwks")
        db.session.add(platform)
        db.session.flush()
        deployment = Deployment(platform_id=platform.id, deployment_id="1")
        course = Course(platform_id=platform.id, context_id="bench", title="Bench course")
        other = Course(platform_id=platform.id, context_id="other", title="Other course")
        db.session.add_all([deployment, course, other])
        db.session.flush()
        assignment = Assignment(course_id=course.id, resource_link_id="a", title="Bench")
        other_assignment = Assignment(course_id=other.id, resource_link_id="b", title="Other")
        db.session.add_all([assignment, other_assignment])
        db.session.flush()
        ids = {"platform": platform.id, "course": course.id, "other_course": other.id,
               "assignment": assignment.id, "other_assignment": other_assignment.id,
               "students": args["students"], "others": args["others"], "audit": args["audit"]}
        db.session.commit()
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cur:
                t0 = time.perf_counter()
                for statement in SEED_SQL.split(";\n"):
                    if statement.strip():
                        cur.execute(statement, ids)
                raw.commit()
                ids["seed_seconds"] = time.perf_counter() - t0
        finally:
            raw.close()
        instructor_id = args["students"] + 1
        db.session.add(LaunchRecord(
            id=LAUNCH_ID, user_id=instructor_id, platform_id=platform.id, course_id=course.id,
            assignment_id=assignment.id, role="instructor",
            message_type="LtiResourceLinkRequest", claims={},
            expires_at=utcnow() + timedelta(hours=8)))
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return ids


def measure(args) -> dict:
    """Child process: time the pages, record one call's statements, EXPLAIN them."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from lti_tool import create_app
    from lti_tool.extensions import db
    app = create_app()
    client = app.test_client()
    pages = {"assignment list": f"/review/assignment?launch={LAUNCH_ID}",
             "student page": f"/review/students/1?launch={LAUNCH_ID}"}
    out = {}
    for name, url in pages.items():
        times = []
        for _ in range(args["runs"]):
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise RuntimeError(f"{url} answered {resp.status_code}: {resp.data[:500]!r}")
        seen = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))
        event.listen(Engine, "before_cursor_execute", record)
        try:
            client.get(url)
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        plans = []
        with app.app_context():
            raw = db.engine.raw_connection()
            try:
                with raw.cursor() as cur:
                    for statement, parameters in seen:
                        if not statement.lstrip().upper().startswith("SELECT"):
                            plans.append((statement, None))
                            continue
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                        plans.append((statement, "\n".join(r[0] for r in cur.fetchall())))
                raw.rollback()
            finally:
                raw.close()
        out[name] = {"median_ms": 1000 * statistics.median(times),
                     "min_ms": 1000 * min(times), "statements": plans}
    return out


def child(what: str, env: dict, cwd: Path, conf: dict) -> dict:
    result = subprocess.run([PYTHON, __file__, "--child", what], input=json.dumps(conf),
                            cwd=cwd, env=dict(env, BENCH_TOOL_DIR=str(cwd)),
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=500)
    ap.add_argument("--others", type=int, default=100_000)
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tool-dir", default=str(ROOT))
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    tool_dir = Path(args.tool_dir).resolve()
    import psycopg
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "review-bench"
    env = dict(os.environ, DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}",
               SECRET_KEY="bench-secret-key", LTI_KEYS_DIR=str(tmp / "keys"),
               LOCAL_STORAGE_DIR=str(tmp / "media"), SCHEDULER_ENABLED="0",
               LOG_LEVEL="WARNING", DEMO_LMS="0", PUBLIC_BASE_URL="http://127.0.0.1")
    env.pop("REDIS_URL", None)
    try:
        subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"],
                       cwd=tool_dir, env=env, check=True, capture_output=True)
        conf = {"students": args.students, "others": args.others, "audit": args.audit,
                "runs": args.runs}
        ids = child("seed", env, tool_dir, conf)
        result = child("measure", env, tool_dir, conf)
    finally:
        if not args.keep:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    print(f"# Instructor pages at scale ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{args.students} students beside {args.others:,} other submissions and "
          f"{args.audit:,} audit events; seeded in {ids['seed_seconds']:.0f} s; tool "
          f"{tool_dir})")
    for name, page in result.items():
        print(f"\n## {name}: median {page['median_ms']:.0f} ms, best {page['min_ms']:.0f} ms "
              f"(target < 150 ms), {len(page['statements'])} statements")
        for i, (statement, plan) in enumerate(page["statements"], 1):
            print(f"\n### {i}. {' '.join(statement.split())[:400]}")
            if plan:
                print("```\n" + plan + "\n```")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        conf = json.loads(sys.stdin.read())
        print(json.dumps(seed(conf) if sys.argv[2] == "seed" else measure(conf)))
    else:
        main()
