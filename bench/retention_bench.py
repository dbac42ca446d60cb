"""Retention over many expired videos: time, and memory that stays flat however many.

    .venv/bin/python bench/retention_bench.py [--videos 100000] [--database-url URL]

Makes a throwaway PostgreSQL database beside --database-url (default: the test server,
postgresql+psycopg://postgres@127.0.0.1:5432/test), fills it with expired videos on the
local backend (no files: deleting a missing file costs the same bookkeeping), runs the
retention job with no pause between batches, and prints the time, the rate and the
process's resident memory (VmRSS, sampled every 20 ms) before and at peak during the run.
Run it with 10x fewer videos to see the peak does not grow with their number.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PER_SUBMISSION = 1000


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Sample VmRSS on a thread while the block runs."""

    def __enter__(self):
        self.peak, self.stop = rss_mib(), threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def fill(db, count: int) -> None:
    """Insert `count` videos 200 days old under one assignment (bulk, few round trips)."""
    from lti_tool.models import (Assignment, Course, Platform, Submission, User, Video,
                                 utcnow)
    platform = Platform(name="bench", issuer="https://lms.bench", client_id="c",
                        auth_login_url="https://lms.bench/a", auth_token_url="https://lms.bench/t",
                        key_set_url="https://lms.bench/k")
    db.session.add(platform)
    db.session.flush()
    course = Course(platform_id=platform.id, context_id="ctx", title="Bench 101")
    db.session.add(course)
    db.session.flush()
    assignment = Assignment(course_id=course.id, resource_link_id="rl", title="Bench")
    db.session.add(assignment)
    db.session.flush()
    old = utcnow() - timedelta(days=200)
    submissions = -(-count // PER_SUBMISSION)
    users = [{"platform_id": platform.id, "sub": f"u{n}"} for n in range(submissions)]
    db.session.execute(db.insert(User), users)
    user_ids = db.session.scalars(db.select(User.id).where(
        User.platform_id == platform.id).order_by(User.id)).all()
    db.session.execute(db.insert(Submission), [
        {"assignment_id": assignment.id, "user_id": uid, "released": False}
        for uid in user_ids])
    sub_ids = db.session.scalars(db.select(Submission.id).order_by(Submission.id)).all()
    rows, made = [], 0
    for sub_id in sub_ids:
        for attempt in range(1, PER_SUBMISSION + 1):
            if made == count:
                break
            rows.append({"submission_id": sub_id, "platform_id": platform.id,
                         "attempt": attempt, "backend": "local",
                         "storage_uid": uuid.uuid4().hex, "status": "ready",
                         "size_bytes": 10_000_000, "created_at": old, "legal_hold": False})
            made += 1
            if len(rows) == 10_000:
                db.session.execute(db.insert(Video), rows)
                rows = []
    if rows:
        db.session.execute(db.insert(Video), rows)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()

    import psycopg
    name = f"lti_bench_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(args.database_url.replace("postgresql+psycopg://", "postgresql://"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        run(urlunsplit(urlsplit(args.database_url)._replace(path=f"/{name}")), args)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, args) -> None:
    import logging

    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.housekeeping.retention import apply_retention
    logging.disable(logging.INFO)
    scratch = tempfile.mkdtemp(prefix="retention-bench-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LTI_KEYS_DIR": f"{scratch}/keys",
                      "LOCAL_STORAGE_DIR": f"{scratch}/media", "DEMO_LMS": False,
                      "RETENTION_BATCH_SIZE": args.batch,
                      "RETENTION_BATCH_PAUSE_SECONDS": 0})
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        fill(db, args.videos)
        # What autovacuum does soon after a bulk load: without statistics the planner walks
        # every remaining video for each batch instead of the primary key.
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        print(f"filled {args.videos} expired videos in {time.perf_counter() - started:.1f} s")
        db.session.remove()
        before = rss_mib()
        started = time.perf_counter()
        with PeakRss() as rss:
            counts = apply_retention()
        took = time.perf_counter() - started
    print(f"retention: {counts['deleted']} deleted, {counts['failed']} failed in {took:.1f} s "
          f"({counts['deleted'] / took:.0f} videos/s, batches of {args.batch})")
    print(f"memory (VmRSS): {before:.1f} MiB before, {rss.peak:.1f} MiB at peak "
          f"(+{rss.peak - before:.1f} MiB)")


if __name__ == "__main__":
    main()
