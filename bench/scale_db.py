"""A large PostgreSQL database for page benchmarks, and the harness that times pages on it.

One seed serves bench/review_list_bench.py (the instructor's pages, issue 14) and
bench/admin_bench.py (the admin's pages, issue 11): one platform with `--courses` courses of
one assignment each. Course 1 ("Bench course") has `--students` students, each with a ready
video, a delivered score and four comments, taught by the instructor (user students+1); the
other courses share `--others` students, each with one submission and video (uploaded over
the last year; 2 % failed, 1 % processing), two comments, a score for every third (a few
failed or pending) and an enrollment; `--audit` audit events (mostly playback grants, one
in a hundred in course 1) are spread over the last year. User students+2 is the platform's
administrator. Everything bulk is INSERT ... SELECT generate_series (seconds, not minutes).

Each bench runs the tool in child processes (`--tool-dir` may be another checkout, for
before/after figures): one seeds, one times each page `--runs` times as a WSGI call in
process (no network, no browser), records the statements of one more call and runs
`EXPLAIN (ANALYZE, BUFFERS)` on each SELECT. The database is private (`bench_scale`, or
`$BENCH_PG_DB`), made
fresh and dropped afterwards unless `--keep`; `--reuse` measures a kept one as it is (no
seeding, no migration: another checkout's tool can be timed on the same rows and indexes).
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
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Private per checkout when several people bench on one server: BENCH_PG_DB=name.
PG_DB = os.environ.get("BENCH_PG_DB", "bench_scale")
INSTRUCTOR_LAUNCH = "bench-scale-instructor"
ADMIN_LAUNCH = "bench-scale-admin"
TARGET_MS = 150

# Ids are explicit: the database is fresh. Users 1..S are course 1's students, S+1 its
# instructor, S+2 the admin, S+2+k (k = 1..N) the other courses' students. Submission and
# video ids: 1..S in course 1, S+k elsewhere. Course and assignment ids coincide: 1 is the
# bench course, 2..C the others (submission k goes to course 2 + k mod (C-1)).
SEED_SQL = """
INSERT INTO course (id, platform_id, context_id, title, created_at)
SELECT g, %(platform)s, 'course-' || g,
       CASE WHEN g = 1 THEN 'Bench course' ELSE 'Course ' || g END, now()
FROM generate_series(1, %(courses)s) g;
INSERT INTO assignment (id, course_id, resource_link_id, title, max_score, locked, created_at)
SELECT g, g, 'link-' || g, CASE WHEN g = 1 THEN 'Bench' ELSE 'Assignment ' || g END, 10, false,
       now()
FROM generate_series(1, %(courses)s) g;
INSERT INTO "user" (id, platform_id, sub, name, email, is_platform_admin, admin_granted,
                    created_at)
SELECT g, %(platform)s, 'u' || g, 'Student ' || g, 'u' || g || '@bench.invalid',
       g = %(students)s + 2, false, now()
FROM generate_series(1, %(students)s + 2 + %(others)s) g;
INSERT INTO enrollment (course_id, user_id, role, source, active, updated_at)
SELECT CASE WHEN g <= %(students)s + 1 THEN 1
            ELSE 2 + (g - %(students)s - 2) %% (%(courses)s - 1) END, g,
       CASE WHEN g = %(students)s + 1 THEN 'instructor' ELSE 'learner' END, 'launch', true,
       now()
FROM generate_series(1, %(students)s + 2 + %(others)s) g WHERE g <> %(students)s + 2;
INSERT INTO submission (id, assignment_id, user_id, submitted_at, released, created_at,
                        score_given, graded_at)
SELECT g, CASE WHEN g <= %(students)s THEN 1
               ELSE 2 + (g - %(students)s) %% (%(courses)s - 1) END,
       CASE WHEN g <= %(students)s THEN g ELSE g + 2 END,
       now() - ((g * 7) %% 365) * interval '1 day', false,
       now() - ((g * 7) %% 365) * interval '1 day' - interval '1 hour',
       CASE WHEN g %% 3 = 0 THEN 7 END, CASE WHEN g %% 3 = 0 THEN now() END
FROM generate_series(1, %(students)s + %(others)s) g;
INSERT INTO video (id, submission_id, attempt, backend, storage_uid, status, error_code,
                   filename, size_bytes, duration_seconds, has_thumbnail, created_at,
                   ready_at, legal_hold {platform_column})
SELECT g, g, 1, 'local', 'bench-' || g,
       CASE WHEN g <= %(students)s THEN 'ready' WHEN g %% 50 = 0 THEN 'error'
            WHEN g %% 100 = 1 THEN 'processing' ELSE 'ready' END,
       CASE WHEN g > %(students)s AND g %% 50 = 0 THEN 'transcode_failed' END,
       'video-' || g || '.mp4', 20000000 + (g * 7919) %% 80000000, 30 + (g * 13) %% 600,
       true, now() - ((g * 7) %% 365) * interval '1 day' - (g %% 3600) * interval '1 second',
       now() - ((g * 7) %% 365) * interval '1 day', g %% 997 = 0 {platform_value}
FROM generate_series(1, %(students)s + %(others)s) g;
UPDATE submission SET current_video_id = id;
INSERT INTO score_outbox (submission_id, payload, score_timestamp, status, attempts,
                          next_attempt_at, created_at, delivered_at, last_error
                          {platform_column})
SELECT g, '{"scoreGiven": 7}'::json, now(),
       CASE WHEN g <= %(students)s THEN 'delivered' WHEN g %% 301 = 0 THEN 'failed'
            WHEN g %% 211 = 0 THEN 'pending' ELSE 'delivered' END, 1, now(),
       now() - ((g * 7) %% 365) * interval '1 day', now(),
       CASE WHEN g > %(students)s AND g %% 301 = 0 THEN 'HTTP 403 from the LMS' END
       {platform_value}
FROM generate_series(1, %(students)s + %(others)s) g WHERE g %% 3 = 0;
INSERT INTO comment (submission_id, video_id, author_id, at_seconds, body, created_at)
SELECT s, s, %(students)s + 1, c * 10.0, 'Comment ' || c, now()
FROM generate_series(1, %(students)s + %(others)s) s,
     generate_series(1, 4) c WHERE s <= %(students)s OR c <= 2;
INSERT INTO audit_event (at, event_type, actor_id, platform_id, course_id, target_type,
                         target_id, data, ip)
SELECT now() - (g * 31) * interval '1 second',
       CASE WHEN g %% 40 = 0 THEN 'playback_refused' WHEN g %% 10 = 0 THEN 'upload_completed'
            ELSE 'playback_granted' END,
       1 + (g::bigint * 7919) %% (%(students)s + 2 + %(others)s), %(platform)s,
       CASE WHEN g %% 100 = 0 THEN 1 ELSE 2 + g %% (%(courses)s - 1) END, 'video',
       (1 + g %% (%(students)s + %(others)s))::text, '{"backend": "local"}'::json, '127.0.0.1'
FROM generate_series(1, %(audit)s) g;
INSERT INTO job_run (name, started_at, finished_at, duration_seconds, ok, dry_run, counts)
SELECT name, now() - d * interval '1 day', now() - d * interval '1 day' + interval '3 seconds',
       3.0, true, false, '{"deleted": 0}'::json
FROM unnest(ARRAY['retention', 'orphans', 'usage_report']) name, generate_series(1, 30) d;
SELECT setval(pg_get_serial_sequence('course', 'id'), (SELECT max(id) FROM course));
SELECT setval(pg_get_serial_sequence('assignment', 'id'), (SELECT max(id) FROM assignment));
SELECT setval(pg_get_serial_sequence('"user"', 'id'), (SELECT max(id) FROM "user"));
SELECT setval(pg_get_serial_sequence('submission', 'id'), (SELECT max(id) FROM submission));
SELECT setval(pg_get_serial_sequence('video', 'id'), (SELECT max(id) FROM video));
"""


def seed(conf: dict) -> dict:
    """Child process: make the platform with the ORM, the bulk rows with SQL; return ids."""
    from datetime import timedelta

    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.models import Deployment, LaunchRecord, Platform, utcnow
    app = create_app()
    with app.app_context():
        platform = Platform(name="bench", issuer="https://lms.bench.invalid", client_id="c",
                            auth_login_url="https://lms.bench.invalid/auth",
                            auth_token_url="https://lms.bench.invalid/token",
                            key_set_url="https://lms.bench.invalid/jwks")
        db.session.add(platform)
        db.session.flush()
        db.session.add(Deployment(platform_id=platform.id, deployment_id="1"))
        db.session.commit()
        params = dict(conf, platform=platform.id)
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cur:
                # Video and outbox rows carry their platform since f3a9c2d7b5e8; an older
                # checkout (--tool-dir) seeds its own schema without it.
                cur.execute("SELECT 1 FROM information_schema.columns WHERE "
                            "table_name = 'video' AND column_name = 'platform_id'")
                carried = cur.fetchone() is not None
                sql = SEED_SQL.replace("{platform_column}", ", platform_id" if carried else "")
                sql = sql.replace("{platform_value}", ", %(platform)s" if carried else "")
                t0 = time.perf_counter()
                for statement in sql.split(";\n"):
                    if statement.strip():
                        cur.execute(statement, params)
                raw.commit()
                seconds = time.perf_counter() - t0
        finally:
            raw.close()
        expires = utcnow() + timedelta(days=30)
        students = conf["students"]
        db.session.add_all([
            LaunchRecord(id=INSTRUCTOR_LAUNCH, user_id=students + 1, platform_id=platform.id,
                         course_id=1, assignment_id=1, role="instructor",
                         message_type="LtiResourceLinkRequest", claims={}, expires_at=expires),
            LaunchRecord(id=ADMIN_LAUNCH, user_id=students + 2, platform_id=platform.id,
                         course_id=1, assignment_id=1, role="admin",
                         message_type="LtiResourceLinkRequest", claims={}, expires_at=expires)])
        db.session.commit()
        # VACUUM as autovacuum would have by then: statistics, and the visibility map that
        # lets PostgreSQL answer from an index alone.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(db.text("VACUUM ANALYZE"))
    return {"seed_seconds": seconds}


def measure(conf: dict) -> dict:
    """Child process: time each page, record one call's statements, EXPLAIN them."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from lti_tool import create_app
    from lti_tool.extensions import db
    app = create_app()
    client = app.test_client()
    out = {}
    for name, url in conf["pages"].items():
        times = []
        for _ in range(conf["runs"]):
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
                        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                            plans.append((statement, None, None))
                            continue
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                        plan = [r[0] for r in cur.fetchall()]
                        ms = next((float(line.split()[2]) for line in plan
                                   if line.startswith("Execution Time")), None)
                        plans.append((statement, "\n".join(plan), ms))
                raw.rollback()
            finally:
                raw.close()
        out[name] = {"median_ms": 1000 * statistics.median(times),
                     "min_ms": 1000 * min(times), "statements": plans}
    return out


def _child(what: str, env: dict, cwd: Path, conf: dict) -> dict:
    result = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--child", what],
                            input=json.dumps(conf), cwd=cwd,
                            env=dict(env, BENCH_TOOL_DIR=str(cwd)),
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _admin(sql: str) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def arguments(description: str) -> argparse.ArgumentParser:
    """Return the options every scale bench takes."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--students", type=int, default=500, help="students of the bench course")
    ap.add_argument("--others", type=int, default=100_000,
                    help="submissions in the other courses")
    ap.add_argument("--courses", type=int, default=1000, help="courses in all (at least 2)")
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tool-dir", default=str(ROOT))
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--reuse", action="store_true",
                    help="measure the kept database (same sizes) without seeding")
    return ap


def run(args, title: str, pages: dict[str, str]) -> None:
    """Seed (unless --reuse), time the pages, print their statements and plans."""
    tool_dir = Path(args.tool_dir).resolve()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "scale-bench"
    env = dict(os.environ, DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}",
               SECRET_KEY="bench-secret-key", LTI_KEYS_DIR=str(tmp / "keys"),
               LOCAL_STORAGE_DIR=str(tmp / "media"), SCHEDULER_ENABLED="0",
               LOG_LEVEL="WARNING", DEMO_LMS="0", PUBLIC_BASE_URL="http://127.0.0.1")
    env.pop("REDIS_URL", None)
    conf = {"students": args.students, "others": args.others, "courses": args.courses,
            "audit": args.audit, "runs": args.runs, "pages": pages}
    seeded = "reused"
    try:
        if not args.reuse:
            _admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            _admin(f"CREATE DATABASE {PG_DB}")
        if not args.reuse:  # a kept database is measured as it is, whichever tool asks
            subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"],
                           cwd=tool_dir, env=env, check=True, capture_output=True)
            seeded = f"seeded in {_child('seed', env, tool_dir, conf)['seed_seconds']:.0f} s"
        result = _child("measure", env, tool_dir, conf)
    finally:
        if not args.keep:
            _admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    print(f"# {title} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{args.courses:,} courses, {args.students} students in the bench course beside "
          f"{args.others:,} other submissions, {args.audit:,} audit events; {seeded}; "
          f"tool {tool_dir}; load average {os.getloadavg()[0]:.1f})")
    for name, page in result.items():
        sql_ms = sum(ms or 0 for _, _, ms in page["statements"])
        print(f"\n## {name}: median {page['median_ms']:.0f} ms, best {page['min_ms']:.0f} ms "
              f"(target < {TARGET_MS} ms), {len(page['statements'])} statements, "
              f"{sql_ms:.1f} ms execution in all")
        for i, (statement, plan, ms) in enumerate(page["statements"], 1):
            took = f" ({ms:.2f} ms)" if ms is not None else ""
            print(f"\n### {i}.{took} {' '.join(statement.split())[:400]}")
            if plan:
                print("```\n" + plan + "\n```")


if __name__ == "__main__":
    sys.path.insert(0, os.environ.get("BENCH_TOOL_DIR") or str(ROOT))
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        conf = json.loads(sys.stdin.read())
        print(json.dumps(seed(conf) if sys.argv[2] == "seed" else measure(conf)))
