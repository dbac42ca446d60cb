"""Launch and playback-grant benchmark: the tool against a bare pylti1p3 tool, in one run.

    .venv/bin/python bench/launch_bench.py [--dbs postgres,sqlite] [--users 1,8,32]
        [--seconds 4] [--rounds 2] [--pool 64] [--no-redis]

Both tools run under gunicorn, 2 gthread workers of 16 threads, `--preload`, on loopback:
ours (`wsgi:app`, local storage, the database named, Redis for what REDIS_URL covers) and
the reference (bench/reference_tool.py: pylti1p3's documented Flask flow over a Redis
cache). The load generator (bench/loadgen.py) is an LTI platform whose key both tools know
beforehand and which signs a fresh id_token per launch; `--pool` students launch in turn
(each once before the measured runs, so measured launches are repeat launches, as most are
during a term). The two sides take turns, `--rounds` times per concurrency, in alternating
order, so both see the same machine.

Printed per database and concurrency: launches (or grants) per second, p50 and p99 of a
full launch (login, id_token POST, landing page), the tools' own CPU per launch (utime +
stime of the gunicorn master and workers, from /proc), SQL statements and commits per
launch (counted by engine events in the workers, bench/gunicorn_bench.py), Redis commands
per launch (INFO commandstats), connections seen "idle in transaction" (PostgreSQL,
sampled every 10 ms), and ours/reference ratios. Then a micro-benchmark: signing a local
playback URL pair against a plain itsdangerous pair.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Set-up steps run in a child process of the checkout under test (--tool-dir).
sys.path.insert(0, os.environ.get("BENCH_TOOL_DIR") or str(ROOT))

import loadgen  # noqa: E402  (this script's folder)

PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = os.environ.get("BENCH_PG_DB", "bench_launch")  # private: BENCH_PG_DB=name
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
CLK_TCK = os.sysconf("SC_CLK_TCK")
VIEWER = "bench-viewer"


# ---- processes ----
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def gunicorn(app: str, port: int, env: dict, log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    cmd = [GUNICORN, "-c", str(ROOT / "bench" / "gunicorn_bench.py"), "--workers", "2",
           "--worker-class", "gthread", "--threads", "16", "--preload", "--timeout", "120",
           "--bind", f"127.0.0.1:{port}", app]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    wait_port(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def cpu_ticks(master_pid: int) -> int:
    """Return utime + stime of a gunicorn master and its workers (clock ticks)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == master_pid or ppid == master_pid:
            total += int(fields[11]) + int(fields[12])
    return total


def redis_calls(client) -> int:
    return sum(v["calls"] for k, v in client.info("commandstats").items())


class IdleInTransaction:
    """Sample PostgreSQL's sessions of the bench database: how many sit idle in a transaction."""

    def __init__(self, url: str | None):
        self.url, self.samples, self.idle = url, 0, 0
        self._stop = threading.Event()

    def __enter__(self):
        if self.url:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE state = 'idle in transaction') "
                    "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (PG_DB,)).fetchone()
                self.samples += 1
                self.idle += row[0]
                time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop.set()
        if self.url:
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return self.idle / self.samples if self.samples else None


# ---- the two tools ----
class Side:
    """One tool under test: its server, how to launch it, how to ask it for a grant."""

    def __init__(self, name: str, proc: subprocess.Popen, port: int, paths: loadgen.ToolPaths,
                 platform: loadgen.BenchPlatform, pool: int):
        self.name, self.proc, self.port, self.paths = name, proc, port, paths
        self.platform, self.pool = platform, pool
        self.grant_path: str | None = None
        self.grant_headers: dict = {}
        self.grant_cookies: dict = {}

    def browser(self) -> loadgen.Browser:
        return loadgen.Browser("127.0.0.1", self.port)

    def launch_step(self, browser, i: int):
        loadgen.launch(browser, self.platform, self.paths, f"s{i % self.pool}")

    def grant_browser(self) -> loadgen.Browser:
        b = self.browser()
        b.cookies.update(self.grant_cookies)
        return b

    def grant_step(self, browser, i: int):
        status, _, body = browser.request("GET", self.grant_path, headers=self.grant_headers)
        if status != 200:
            raise RuntimeError(f"grant answered {status}: {body[:200]!r}")


def measure(side: Side, concurrency: int, seconds: float, step, make_browser, redis_client,
            pg_url: str | None) -> dict:
    ticks0, calls0 = cpu_ticks(side.proc.pid), redis_calls(redis_client)
    with IdleInTransaction(pg_url) as idle:
        res = loadgen.run(concurrency, seconds, step, make_browser)
    ticks1, calls1 = cpu_ticks(side.proc.pid), redis_calls(redis_client)
    return {"done": res.done, "seconds": res.seconds, "latencies": res.latencies,
            "errors": res.errors, "cpu_s": (ticks1 - ticks0) / CLK_TCK,
            "statements": res.statements, "commits": res.commits,
            "redis": calls1 - calls0, "idle_samples": idle.samples, "idle_sum": idle.idle}


def merge(runs: list[dict]) -> dict:
    done = sum(r["done"] for r in runs)
    lat = sorted(x for r in runs for x in r["latencies"])
    per = (lambda key: sum(r[key] for r in runs) / done) if done else (lambda key: float("nan"))
    samples = sum(r["idle_samples"] for r in runs)
    return {
        "done": done, "rate": done / sum(r["seconds"] for r in runs),
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
        "cpu_ms": 1000 * per("cpu_s"), "sql": per("statements"), "commits": per("commits"),
        "redis": per("redis"),
        "idle_in_tx": sum(r["idle_sum"] for r in runs) / samples if samples else None,
        "errors": [e for r in runs for e in r["errors"]][:3],
        "error_count": sum(len(r["errors"]) for r in runs),
    }


def report(title: str, unit: str, table: dict) -> None:
    print(f"\n## {title}")
    print(f"| db | users | side | {unit}/s | p50 ms | p99 ms | CPU ms/{unit} | SQL/{unit} | "
          f"commits/{unit} | Redis/{unit} | idle in tx | errors |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (db, users), sides in table.items():
        for name in ("ours", "reference"):
            m = sides[name]
            idle = "-" if m["idle_in_tx"] is None else f"{m['idle_in_tx']:.2f}"
            print(f"| {db} | {users} | {name} | {m['rate']:.1f} | {m['p50_ms']:.1f} | "
                  f"{m['p99_ms']:.1f} | {m['cpu_ms']:.1f} | {m['sql']:.1f} | "
                  f"{m['commits']:.2f} | {m['redis']:.1f} | {idle} | {m['error_count']} |")
        o, r = sides["ours"], sides["reference"]
        print(f"| {db} | {users} | **ours/ref** | **{o['rate'] / r['rate']:.2f}x** | "
              f"{o['p50_ms'] / r['p50_ms']:.2f}x | {o['p99_ms'] / r['p99_ms']:.2f}x | "
              f"{o['cpu_ms'] / r['cpu_ms']:.2f}x | | | | | |")
        for e in o["errors"] + r["errors"]:
            print(f"|  | | error | {e} |")


# ---- set-up of our tool (run in a child process, where the environment is read) ----
def seed_main(what: str) -> None:
    """Child process: seed the registration, or the viewer's video, or time URL signing."""
    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.models import Assignment, Deployment, Platform, Submission, User, Video, utcnow
    from lti_tool.statuses import VideoStatus
    conf = json.loads(sys.stdin.read())
    app = create_app()
    with app.app_context():
        if what == "platform":
            platform = Platform(name="bench", issuer=conf["issuer"], client_id=conf["client_id"],
                                auth_login_url=conf["auth_login_url"],
                                auth_token_url=conf["auth_token_url"],
                                key_set_url=conf["key_set_url"], jwks_cache=conf["jwks"],
                                jwks_fetched_at=utcnow())
            db.session.add(platform)
            db.session.flush()
            db.session.add(Deployment(platform_id=platform.id,
                                      deployment_id=conf["deployment_id"]))
            db.session.commit()
        elif what == "video":
            from lti_tool.storage import storage_for
            from lti_tool.storage.local.backend import META_FILE, THUMB_FILE, VIDEO_FILE
            user = db.session.scalar(db.select(User).filter_by(sub=VIEWER))
            assignment = db.session.scalar(db.select(Assignment))
            submission = Submission(assignment_id=assignment.id, user_id=user.id,
                                    submitted_at=utcnow())
            db.session.add(submission)
            db.session.flush()
            uid = "benchvideo"
            folder = storage_for("local")._dir(uid)  # the backend's own layout
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
            print(video.id)
        elif what == "micro":
            micro_signing(app, db)


def micro_signing(app, db) -> None:
    """Time signing a local playback URL pair (video + thumbnail) vs a plain itsdangerous pair."""
    import timeit

    from flask import url_for
    from itsdangerous import URLSafeSerializer

    from lti_tool.models import Video
    from lti_tool.storage import storage_for
    video = db.session.scalar(db.select(Video))
    backend = storage_for(video.backend)
    signer = URLSafeSerializer(app.config["SECRET_KEY"], salt="bench")
    with app.test_request_context("/"):
        def ours():
            backend.playback(video.storage_uid, viewer_id=1, video_id=video.id, ttl_seconds=600)

        def plain():
            exp = int(time.time()) + 600
            url_for("playback.media", video_id=video.id,
                    token=signer.dumps({"k": "media", "v": video.id, "u": 1, "e": exp}))
            url_for("playback.thumbnail", video_id=video.id,
                    token=signer.dumps({"k": "thumbnail", "v": video.id, "u": 1, "e": exp}))
        n = 2000
        best = {}
        for name, fn in (("ours", ours), ("plain", plain)) * 2:
            t = min(timeit.repeat(fn, number=n, repeat=3)) / n
            best[name] = min(best.get(name, t), t)
    print(json.dumps({k: v * 1e6 for k, v in best.items()}))


def run_child(what: str, env: dict, cwd: Path, conf: dict | None = None) -> str:
    """Run a set-up step in a child process of our tool's checkout (`cwd`)."""
    out = subprocess.run([PYTHON, __file__, "--seed", what], input=json.dumps(conf or {}),
                         cwd=cwd, env=dict(env, BENCH_TOOL_DIR=str(cwd)), capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise RuntimeError(f"seed {what} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def fresh_database(kind: str, tmp: Path) -> tuple[str, str | None]:
    """Return (SQLAlchemy URL, libpq URL for sampling) of an empty bench database."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite'}", None
    import psycopg
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return (f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}",
            f"postgresql://postgres@127.0.0.1:5432/{PG_DB}")


# ---- the run ----
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dbs", default="postgres,sqlite")
    ap.add_argument("--users", default="1,8,32")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pool", type=int, default=64)
    ap.add_argument("--no-redis", action="store_true",
                    help="run our tool without REDIS_URL (state, nonces and rate limits in "
                         "the database); the reference keeps its Redis cache")
    ap.add_argument("--skip-playback", action="store_true")
    ap.add_argument("--tool-dir", default=str(ROOT),
                    help="the checkout of our tool to run (e.g. an export of an older commit, "
                         "for before/after figures); its .venv is this one's")
    args = ap.parse_args()
    tool_dir = Path(args.tool_dir).resolve()
    import redis
    redis_client = redis.Redis.from_url(REDIS_URL)
    redis_client.flushdb()
    platform = loadgen.BenchPlatform()
    users = [int(u) for u in args.users.split(",")]
    launches: dict = {}
    grants: dict = {}
    micro = {}
    tmp_root = Path(tempfile.mkdtemp(prefix="launch-bench-"))
    try:
        for kind in args.dbs.split(","):
            tmp = tmp_root / kind
            tmp.mkdir()
            url, pg_url = fresh_database(kind, tmp)
            ours_port, ref_port = free_port(), free_port()
            env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret-key",
                       LTI_KEYS_DIR=str(tmp / "keys"), LOCAL_STORAGE_DIR=str(tmp / "media"),
                       PUBLIC_BASE_URL=f"http://127.0.0.1:{ours_port}", SCHEDULER_ENABLED="0",
                       RATELIMIT_LOGIN="1000000 per minute",
                       RATELIMIT_PLAYBACK="1000000 per minute", LOG_LEVEL="WARNING",
                       BENCH_COUNT_SQL="1", DEMO_LMS="0")
            env.pop("REDIS_URL", None)
            if not args.no_redis:
                env["REDIS_URL"] = REDIS_URL
            subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade"],
                           cwd=tool_dir, env=env, check=True, capture_output=True)
            run_child("platform", env, tool_dir, {
                "issuer": platform.issuer, "client_id": platform.client_id,
                "deployment_id": platform.deployment_id, "jwks": platform.jwks,
                "auth_login_url": platform.auth_login_url,
                "auth_token_url": platform.auth_token_url, "key_set_url": platform.key_set_url})
            key_file = tmp / "reference-tool-key.pem"
            key_file.write_bytes(loadgen.BenchPlatform().key.private_bytes(
                *_pem_format()))
            ref_conf = tmp / "reference.json"
            ref_conf.write_text(json.dumps({
                "issuer": platform.issuer, "client_id": platform.client_id,
                "deployment_id": platform.deployment_id, "platform_jwks": platform.jwks,
                "auth_login_url": platform.auth_login_url,
                "auth_token_url": platform.auth_token_url, "private_key_file": str(key_file),
                "redis_url": REDIS_URL, "secret_key": "bench-secret-key"}))
            ref_env = dict(os.environ, BENCH_REFERENCE_CONFIG=str(ref_conf))
            ours_proc = gunicorn("wsgi:app", ours_port, env, tmp / "ours.log", tool_dir)
            ref_proc = gunicorn("bench.reference_tool:app", ref_port, ref_env,
                                tmp / "reference.log")
            try:
                sides = {
                    "ours": Side("ours", ours_proc, ours_port, loadgen.ToolPaths(
                        "/lti/login", f"http://127.0.0.1:{ours_port}/lti/launch"),
                        platform, args.pool),
                    "reference": Side("reference", ref_proc, ref_port, loadgen.ToolPaths(
                        "/login", f"http://127.0.0.1:{ref_port}/launch"),
                        platform, args.pool)}
                # Every student launches once (first launches create the rows), not measured.
                for side in sides.values():
                    browsers = [side.browser() for _ in range(4)]
                    pending = list(range(args.pool))

                    def warm_up(b, side=side):
                        while pending:
                            side.launch_step(b, pending.pop())
                    threads = [threading.Thread(target=warm_up, args=(b,)) for b in browsers]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                _prepare_grants(sides, platform, env, tool_dir)
                if kind == (args.dbs.split(",")[0]):
                    micro = json.loads(run_child("micro", env, tool_dir))
                for n in users:
                    runs = {"ours": [], "reference": []}
                    for r in range(args.rounds):
                        order = ("ours", "reference") if r % 2 == 0 else ("reference", "ours")
                        for name in order:
                            side = sides[name]
                            runs[name].append(measure(side, n, args.seconds, side.launch_step,
                                                      side.browser, redis_client, pg_url))
                    launches[(kind, n)] = {k: merge(v) for k, v in runs.items()}
                    print(f"launch {kind} {n}: ours {launches[(kind, n)]['ours']['rate']:.1f}/s "
                          f"ref {launches[(kind, n)]['reference']['rate']:.1f}/s", flush=True)
                if not args.skip_playback:
                    for n in users:
                        runs = {"ours": [], "reference": []}
                        for r in range(args.rounds):
                            order = ("ours", "reference") if r % 2 == 0 else ("reference", "ours")
                            for name in order:
                                side = sides[name]
                                runs[name].append(measure(side, n, args.seconds / 2,
                                                          side.grant_step, side.grant_browser,
                                                          redis_client, pg_url))
                        grants[(kind, n)] = {k: merge(v) for k, v in runs.items()}
                report(f"{kind}: full launch", "launch",
                       {k: v for k, v in launches.items() if k[0] == kind})
                if grants:
                    report(f"{kind}: playback grant", "grant",
                           {k: v for k, v in grants.items() if k[0] == kind})
            finally:
                stop(ours_proc)
                stop(ref_proc)
                for name in ("ours.log", "reference.log"):
                    text = (tmp / name).read_text()
                    if "Traceback" in text:
                        print(f"\n{name} has errors:\n{text[-3000:]}")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
        try:
            import psycopg
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        except Exception:  # noqa: BLE001 - PostgreSQL may not be there
            pass
    print(f"\n# Launch benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, {args.seconds:g} s x {args.rounds} rounds per side, "
          f"pool {args.pool}, ours {'without' if args.no_redis else 'with'} REDIS_URL)")
    report("Full launch (login, id_token POST, landing page)", "launch", launches)
    if grants:
        report("Playback grant (ours: GET /api/videos/<id>/playback; reference: a plain "
               "itsdangerous signed URL)", "grant", grants)
    if micro:
        print(f"\n## Signing a playback URL pair (video + thumbnail), in-process\n"
              f"ours {micro['ours']:.1f} us, plain itsdangerous pair {micro['plain']:.1f} us: "
              f"plain/ours {micro['plain'] / micro['ours']:.2f}x")


def _pem_format():
    from cryptography.hazmat.primitives import serialization
    return (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())


def _prepare_grants(sides: dict, platform, env: dict, tool_dir: Path) -> None:
    """Launch the viewer on both tools, give them a ready video, and note the grant request."""
    ours, ref = sides["ours"], sides["reference"]
    b = ours.browser()
    landing = loadgen.launch(b, platform, ours.paths, VIEWER)
    launch_id = parse_qs(urlsplit(landing).query)["launch"][0]
    video_id = int(run_child("video", env, tool_dir))
    ours.grant_path = f"/api/videos/{video_id}/playback"
    ours.grant_headers = {"X-LTI-Launch": launch_id}
    b = ref.browser()
    loadgen.launch(b, platform, ref.paths, VIEWER)
    ref.grant_path = f"/signed-url/{video_id}"
    ref.grant_cookies = {k: v for k, v in b.cookies.items() if k == "session"}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--seed":
        seed_main(sys.argv[2])
    else:
        main()
