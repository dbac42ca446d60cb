"""Profile repeat launches and playback grants in process (cProfile), to see where CPU goes.

    .venv/bin/python bench/profile_launch.py [--launches 60] [--grants 200] [--db sqlite|postgres]
        [--no-redis] [--top 35] [--sort tottime|cumulative] [--dump FILE]

The same flow as bench/launch_bench.py (login, id_token POST signed by bench/loadgen.py's
platform, landing page; then `GET /api/videos/<id>/playback`) through Flask's test client:
no network, no gunicorn, so the profile is the tool's own Python. Prints the CPU per launch
and per grant (process time, one thread) and the top functions by CPU time (the profiler
times with time.process_time: time spent waiting on sockets or disks does not count).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import loadgen  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = os.environ.get("BENCH_PG_DB", "bench_profile")  # private: BENCH_PG_DB=name


class ClientBrowser:
    """loadgen's Browser over Flask's test client (a fresh client is a fresh cookie jar)."""

    class _Jar(dict):
        def __init__(self, owner):
            super().__init__()
            self.owner = owner

        def clear(self):
            self.owner.client = self.owner.app.test_client()

    def __init__(self, app):
        self.app, self.client = app, app.test_client()
        self.cookies = self._Jar(self)

    def request(self, method, path, form=None, headers=None):
        resp = self.client.open(path, method=method, data=form, headers=headers or {})
        return resp.status_code, resp.headers, resp.get_data()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--launches", type=int, default=60)
    ap.add_argument("--grants", type=int, default=200)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--no-redis", action="store_true")
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--dump", help="write the raw profile here (for snakeviz or pstats)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="profile-launch-"))
    if args.db == "postgres":
        import psycopg
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
    else:
        url = f"sqlite:///{tmp / 'profile.sqlite'}"
    os.environ.update(DATABASE_URL=url, SECRET_KEY="bench-secret-key",
                      LTI_KEYS_DIR=str(tmp / "keys"), LOCAL_STORAGE_DIR=str(tmp / "media"),
                      PUBLIC_BASE_URL="http://localhost", SCHEDULER_ENABLED="0",
                      RATELIMIT_LOGIN="1000000 per minute",
                      RATELIMIT_PLAYBACK="1000000 per minute", LOG_LEVEL="WARNING",
                      DEMO_LMS="0")
    os.environ.pop("REDIS_URL", None)
    if not args.no_redis:
        os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
    try:
        subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"],
                       cwd=ROOT, check=True, capture_output=True)
        run(args)
    finally:
        if args.db == "postgres":
            import psycopg
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def run(args) -> None:
    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.models import Deployment, Platform, utcnow
    platform = loadgen.BenchPlatform()
    app = create_app()
    with app.app_context():
        row = Platform(name="bench", issuer=platform.issuer, client_id=platform.client_id,
                       auth_login_url=platform.auth_login_url,
                       auth_token_url=platform.auth_token_url,
                       key_set_url=platform.key_set_url, jwks_cache=platform.jwks,
                       jwks_fetched_at=utcnow())
        db.session.add(row)
        db.session.flush()
        db.session.add(Deployment(platform_id=row.id, deployment_id=platform.deployment_id))
        db.session.commit()
    paths = loadgen.ToolPaths("/lti/login", "http://localhost/lti/launch")
    browser = ClientBrowser(app)
    pool = 16
    for i in range(pool):  # first launches create the rows: not profiled
        loadgen.launch(browser, platform, paths, f"s{i}")
    landing = loadgen.launch(browser, platform, paths, "s0")
    launch_id = parse_qs(urlsplit(landing).query)["launch"][0]
    video_id = _video(app, launch_id)
    grant = f"/api/videos/{video_id}/playback"
    for _ in range(5):
        assert browser.request("GET", grant, headers={"X-LTI-Launch": launch_id})[0] == 200

    profile = cProfile.Profile(time.process_time)  # CPU, not waiting
    t0 = time.process_time()
    profile.enable()
    for i in range(args.launches):
        loadgen.launch(browser, platform, paths, f"s{i % pool}")
    profile.disable()
    launch_ms = 1000 * (time.process_time() - t0) / max(1, args.launches)
    t0 = time.process_time()
    grants = cProfile.Profile(time.process_time)
    grants.enable()
    for _ in range(args.grants):
        status = browser.request("GET", grant, headers={"X-LTI-Launch": launch_id})[0]
        assert status == 200, status
    grants.disable()
    grant_ms = 1000 * (time.process_time() - t0) / max(1, args.grants)
    print(f"# In-process profile ({args.db}, {'no ' if args.no_redis else ''}Redis): "
          f"{launch_ms:.1f} ms CPU per launch, {grant_ms:.1f} ms per grant "
          f"(profiler overhead included)")
    for name, prof in (("launches", profile), ("grants", grants)):
        print(f"\n## {name}: top {args.top} by {args.sort}")
        pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)
        if args.dump:
            prof.dump_stats(f"{args.dump}.{name}")


def _video(app, launch_id: str) -> int:
    """Give the launched student a ready local video with a thumbnail; return its id."""
    import json

    from lti_tool.extensions import db
    from lti_tool.models import LaunchRecord, Submission, Video, utcnow
    from lti_tool.statuses import VideoStatus
    from lti_tool.storage import storage_for
    from lti_tool.storage.local.backend import META_FILE, THUMB_FILE, VIDEO_FILE
    with app.app_context():
        launch = db.session.get(LaunchRecord, launch_id)
        submission = db.session.scalar(db.select(Submission).filter_by(
            assignment_id=launch.assignment_id, user_id=launch.user_id))
        if submission is None:
            submission = Submission(assignment_id=launch.assignment_id, user_id=launch.user_id)
            db.session.add(submission)
        submission.submitted_at = utcnow()
        db.session.flush()
        uid = "profilevideo"
        folder = storage_for("local")._dir(uid)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / META_FILE).write_text(json.dumps(
            {"storage_uid": uid, "check": {"mime_type": "video/mp4"}}))
        (folder / VIDEO_FILE).write_bytes(b"\0" * 1024)
        (folder / THUMB_FILE).write_bytes(b"\xff\xd8\xff\xd9")
        video = Video(submission_id=submission.id, backend="local", storage_uid=uid,
                      status=VideoStatus.READY, filename="bench.mp4", size_bytes=1024,
                      has_thumbnail=True, ready_at=utcnow())
        db.session.add(video)
        db.session.flush()
        submission.current_video_id = video.id
        db.session.commit()
        return video.id


if __name__ == "__main__":
    main()
