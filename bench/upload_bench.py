"""Upload benchmark: our tus endpoint (gunicorn, gthread worker) against the reference Node
tus server (@tus/server + @tus/file-store) and the disk's own sequential write speed.

Prints MB/s (1 MB = 10^6 bytes) medians with min-max, ratios measured in the same run,
and each server's peak resident memory sampled from /proc while it receives. Rounds run
in shuffled order; every upload is compared byte for byte (sha256) with its source.
Run it through bench/run_upload_bench.sh, which installs the Node side.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import mmap
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
CHUNK = 8 * MIB
SECRET = "bench-secret-not-for-production"


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([KMG]i?B?)?", text.strip(), re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}; e.g. 1GiB, 512MiB")
    unit = (m.group(2) or "").upper()[:1]
    return int(m.group(1)) * {"": 1, "K": 1024, "M": MIB, "G": 1024 * MIB}[unit]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str = "/", timeout: float = 30) -> None:
    import http.client
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("OPTIONS", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def shared_memory(pid: int) -> tuple[int, int]:
    """Return (PSS, USS) in bytes from /proc/<pid>/smaps_rollup: proportional and unique set."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    fields[name] = int(rest.split()[0]) * 1024
    except OSError:
        return 0, 0
    return fields.get("Pss", 0), fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class PeakSampler:
    """Sample a process's RSS every few milliseconds (PSS, USS every tenth); keep peaks."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.peak_pss, self.peak_uss = pid, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        turn = 0
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            if turn % 10 == 0:
                pss, uss = shared_memory(self.pid)
                self.peak_pss, self.peak_uss = max(self.peak_pss, pss), max(self.peak_uss, uss)
            turn += 1
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 * MIB), b""):
            h.update(block)
    return h.hexdigest()


def make_source(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        block = os.urandom(8 * MIB)
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            block = block[1:] + block[:1] if n == len(block) else block
            left -= n


# --- the machine's memory state ---------------------------------------------------------
#
# This machine is a Firecracker VM whose kernel hands freed pages back to the host (free page
# reporting, page_reporting.* below). Writing into a page the host took back makes the host
# fault it in again: 1 GiB into the page cache measured 0.3-0.6 s on pages freed a moment
# ago and about 2.8 s on pages freed 5 s earlier. Which kind an upload gets depends on
# timing, so without control the same server swings between ~400 and ~1000 MB/s. Each job
# therefore starts from a stated state, the same for every server, the client and dd:
#   warm: touch and free enough memory just before, so writes land on pages the host backs
#         (measures the servers' own cost);
#   cold: wait until the kernel has reported the freed pages to the host (every written page
#         is faulted in by the hypervisor, as on a freshly booted VM).

REPORTED_KIB = Path("/sys/module/page_reporting/parameters/reported_kib")
STATES = ("warm", "cold")


def warm_memory(size: int) -> None:
    """Touch `size` bytes of fresh anonymous memory and free it again."""
    block = b"\1" * MIB
    with mmap.mmap(-1, size) as m:
        view = memoryview(m)
        for start in range(0, size, MIB):
            view[start:start + MIB] = block[:min(MIB, size - start)]
        view.release()


def reported_kib() -> int | None:
    try:
        return int(REPORTED_KIB.read_text())
    except (OSError, ValueError):
        return None


def wait_cold(settle: float = 2.0, limit: float = 60.0) -> None:
    """Wait until the kernel stops reporting freed pages to the host (or `settle` s without it)."""
    deadline, last, quiet_since = time.time() + limit, reported_kib(), time.time()
    if last is None:  # no free page reporting here: pages stay backed whatever we wait
        return
    while time.time() < deadline:
        time.sleep(0.25)
        now = reported_kib()
        if now != last:
            last, quiet_since = now, time.time()
        elif time.time() - quiet_since >= settle:
            return


def prepare(state: str, size: int) -> None:
    """Bring the machine to `state` before a job: no dirty pages left, memory warm or cold."""
    os.sync()
    if state == "warm":
        # the server's page cache, a client that holds the whole body (tuspy), and a margin
        warm_memory(2 * size + 256 * MIB)
    else:
        wait_cold()


def dd_write(path: Path, size: int) -> float:
    """Return the disk's sequential write speed (MB/s) with dd conv=fdatasync."""
    out = subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=8M",
                          f"count={max(1, size // (8 * MIB))}", "conv=fdatasync"],
                         capture_output=True, text=True, check=True)
    path.unlink(missing_ok=True)
    m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", out.stderr)
    return int(m.group(1)) / float(m.group(2)) / 1e6


# --- servers ------------------------------------------------------------------------------

class OurServer:
    """The tool under gunicorn with one gthread worker, its data in a scratch folder."""

    name = "ours (Flask tus, gunicorn gthread)"

    def __init__(self, work: Path, threads: int, preload: bool = False,
                 extra_env: dict | None = None):
        self.work, self.port = work, free_port()
        self.db_url = f"sqlite:///{work / 'bench.sqlite'}"
        self.storage = work / "media"
        self.launch_id = self._prepare()
        env = dict(os.environ, DATABASE_URL=self.db_url, LOCAL_STORAGE_DIR=str(self.storage),
                   SECRET_KEY=SECRET, SCHEDULER_ENABLED="0", PROXY_COUNT="0",
                   LTI_KEYS_DIR=str(work / "keys"), LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
                   **(extra_env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads",
             str(threads), "--workers", "1", "--timeout", "600", "--log-level", "warning",
             *(["--preload"] if preload else []),
             "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=env, start_new_session=True)
        wait_http(self.port, "/tus/")
        self.endpoint = f"http://127.0.0.1:{self.port}/tus/"

    def _prepare(self) -> str:
        from lti_tool import create_app
        from lti_tool.extensions import db
        from tests.factories import Classroom
        app = create_app({"SQLALCHEMY_DATABASE_URI": self.db_url, "SECRET_KEY": SECRET,
                          "LOCAL_STORAGE_DIR": str(self.storage),
                          "LTI_KEYS_DIR": str(self.work / "keys"), "MAX_UPLOAD_BYTES": 1 << 40})
        with app.app_context():
            db.create_all()
            room = Classroom()
            launch = room.launch(room.student)
            launch.expires_at = launch.expires_at.replace(year=launch.expires_at.year + 1)
            db.session.commit()
            return launch.id

    def memory_pid(self) -> int:
        for _ in range(50):
            kids = children(self.proc.pid)
            if kids:
                return kids[0]
            time.sleep(0.1)
        raise RuntimeError("no gunicorn worker")

    def new_upload(self, size: int) -> tuple[dict, dict]:
        """Open an attempt as the student; return (headers, metadata) for the tus client."""
        import requests
        resp = requests.post(f"http://127.0.0.1:{self.port}/api/uploads",
                             json={"filename": "bench.mp4", "size_bytes": size},
                             headers={"X-LTI-Launch": self.launch_id}, timeout=30)
        resp.raise_for_status()
        return {"X-LTI-Launch": self.launch_id}, {"video_id": str(resp.json()["video_id"]),
                                                  "filename": "bench.mp4"}

    def stored_file(self, url: str) -> Path:
        import sqlite3

        from lti_tool.storage.local.backend import VIDEO_FILE
        from lti_tool.tus.store import safe_name
        upload_id = url.rstrip("/").rsplit("/", 1)[1]
        con = sqlite3.connect(self.db_url.replace("sqlite:///", ""))
        (uid,) = con.execute("SELECT v.storage_uid FROM upload u JOIN video v ON v.id = "
                             "u.video_id WHERE u.id = ?", (upload_id,)).fetchone()
        con.close()
        return self.storage / "videos" / safe_name(uid) / VIDEO_FILE

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


class PlainTusServer:
    """A tus server in a process of its own, taking uploads at /files with no login."""

    name = "?"

    def __init__(self, command: list[str], port: int):
        self.port = port
        self.proc = subprocess.Popen(command, cwd=BENCH, stdout=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_http(self.port, "/files")
        self.endpoint = f"http://127.0.0.1:{self.port}/files"

    def memory_pid(self) -> int:
        return self.proc.pid

    def new_upload(self, size: int) -> tuple[dict, dict]:
        return {}, {"filename": "bench.mp4"}

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


class NodeServer(PlainTusServer):
    """@tus/server with @tus/file-store, the reference implementation."""

    name = "@tus/server + @tus/file-store"

    def __init__(self, work: Path, threads: int):
        self.dir = work / "node-files"
        self.dir.mkdir()
        port = free_port()
        super().__init__(["node", str(BENCH / "tus_node_server.mjs"), str(port),
                          str(self.dir)], port)

    def stored_file(self, url: str) -> Path:
        return self.dir / url.rstrip("/").rsplit("/", 1)[1]


class SinkServer(PlainTusServer):
    """bench/sink_server.py: answers tus and discards the bytes (the client's own ceiling)."""

    name = "sink (discards the bytes)"

    def __init__(self, work: Path, threads: int):
        port = free_port()
        super().__init__([sys.executable, str(BENCH / "sink_server.py"), str(port)], port)

    def stored_file(self, url: str) -> None:
        return None  # nothing is kept


# --- clients ------------------------------------------------------------------------------

def upload_tuspy(endpoint, path, chunk, headers, metadata) -> tuple[float, str]:
    from tusclient import client
    size = path.stat().st_size
    uploader = client.TusClient(endpoint, headers=headers).uploader(
        file_path=str(path), chunk_size=chunk or size, metadata=metadata)
    started = time.perf_counter()
    uploader.upload()
    return time.perf_counter() - started, uploader.url


def upload_node(endpoint, path, chunk, headers, metadata) -> tuple[float, str]:
    out = subprocess.run(["node", str(BENCH / "tus_node_client.mjs"), endpoint, str(path),
                          str(chunk), json.dumps(headers), json.dumps(metadata)],
                         cwd=BENCH, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], result["url"]


CLIENTS = {"tuspy": upload_tuspy, "tus-js-client": upload_node}
MODES = {"one PATCH": 0, "8 MiB chunks": CHUNK}


@dataclass
class Series:
    speeds: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)
    peaks_pss: list[int] = field(default_factory=list)
    peaks_uss: list[int] = field(default_factory=list)

    def add(self, speed: float, peak: int, peak_pss: int, peak_uss: int) -> None:
        self.speeds.append(speed)
        self.peaks.append(peak)
        self.peaks_pss.append(peak_pss)
        self.peaks_uss.append(peak_uss)

    def line(self) -> str:
        med = statistics.median(self.speeds)
        return (f"{med:7.0f} ({min(self.speeds):.0f}-{max(self.speeds):.0f})  "
                f"peak RSS {max(self.peaks) / MIB:5.1f} MiB, "
                f"PSS {max(self.peaks_pss) / MIB:5.1f}, "
                f"USS {max(self.peaks_uss) / MIB:5.1f}")


def run_one(server, client_name, mode, source, source_sha,
            size) -> tuple[float, int, int, int]:
    """Upload once; return MB/s and the server's peak RSS, PSS and USS (bytes)."""
    headers, metadata = server.new_upload(size)
    with PeakSampler(server.memory_pid()) as sampler:
        seconds, url = CLIENTS[client_name](server.endpoint, source, MODES[mode], headers,
                                            metadata)
    stored = server.stored_file(url)
    if stored is not None:  # the sink keeps nothing to compare
        if sha256_file(stored) != source_sha:
            raise SystemExit(f"MISMATCH: {server.name} / {client_name} / {mode} stored "
                             f"other bytes")
        stored.unlink()
    return size / seconds / 1e6, sampler.peak, sampler.peak_pss, sampler.peak_uss


def memory_line(pid: int) -> str:
    pss, uss = shared_memory(pid)
    return f"RSS {rss_bytes(pid) / MIB:.1f} MiB (PSS {pss / MIB:.1f}, USS {uss / MIB:.1f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads")
    ap.add_argument("--memory-size", type=parse_size, default=None,
                    help="also check our peak memory with one upload this big (e.g. 4GiB)")
    ap.add_argument("--clients", default="tuspy,tus-js-client")
    ap.add_argument("--states", default=",".join(STATES),
                    help="memory states to measure in, comma-separated: warm (pages the "
                         "host backs) and/or cold (pages the host took back); see above")
    ap.add_argument("--no-preload", dest="preload", action="store_false",
                    help="start our gunicorn without --preload (the default preloads, as "
                         ".ci/serve does: workers share the app's pages with the master)")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: under /tmp)")
    args = ap.parse_args()
    states = [x.strip() for x in args.states.split(",") if x.strip()]
    if not states or set(states) - set(STATES):
        raise SystemExit(f"--states takes {', '.join(STATES)}")

    scratch = Path(tempfile.mkdtemp(prefix="upload-bench-", dir=args.workdir))
    need = args.size * 3 + (args.memory_size or 0) * 2
    free = shutil.disk_usage(scratch).free
    if free < need:
        shutil.rmtree(scratch)
        raise SystemExit(f"not enough disk in {scratch}: need {need / 2**30:.1f} GiB, "
                         f"have {free / 2**30:.1f} GiB")
    servers = []
    try:
        reporting = "on" if reported_kib() is not None else "not found"
        print(f"# upload benchmark {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{os.cpu_count()} CPUs, file {args.size / 2**30:.2f} GiB, {args.rounds} rounds "
              f"(shuffled), memory states {', '.join(states)} (free page reporting "
              f"{reporting}), load {os.getloadavg()[0]:.2f}, scratch {scratch}")
        source = scratch / "source.bin"
        make_source(source, args.size)
        source_sha = sha256_file(source)
        ours = OurServer(scratch, args.threads, preload=args.preload)
        node = NodeServer(scratch, args.threads)
        sink = SinkServer(scratch, args.threads)
        servers = [ours, node, sink]
        time.sleep(1)
        idle = {s.name: memory_line(s.memory_pid()) for s in (ours, node)}
        print(f"our gunicorn: gthread, {args.threads} threads, 1 worker"
              f"{', --preload' if args.preload else ', no --preload'}; master "
              f"{memory_line(ours.proc.pid)}", flush=True)
        clients = [c.strip() for c in args.clients.split(",") if c.strip()]
        jobs = [(s, c, m) for s in servers for c in clients for m in MODES] + [("dd",)]
        plan = [(state, *job) for _ in range(args.rounds) for state in states for job in jobs]
        random.shuffle(plan)
        results: dict = {}
        for i, (state, *job) in enumerate(plan, 1):
            prepare(state, args.size)
            if job[0] == "dd":
                speed = dd_write(scratch / "dd.bin", args.size)
                results.setdefault((state, "dd"), Series()).speeds.append(speed)
                print(f"[{i}/{len(plan)}] {state} dd conv=fdatasync: {speed:.0f} MB/s",
                      flush=True)
                continue
            server, client_name, mode = job
            speed, peak, peak_pss, peak_uss = run_one(server, client_name, mode, source,
                                                      source_sha, args.size)
            results.setdefault((state, server.name, client_name, mode), Series()).add(
                speed, peak, peak_pss, peak_uss)
            print(f"[{i}/{len(plan)}] {state} {server.name} / {client_name} / {mode}: "
                  f"{speed:.0f} MB/s, peak RSS {peak / MIB:.1f} MiB, PSS {peak_pss / MIB:.1f}, "
                  f"USS {peak_uss / MIB:.1f}",
                  flush=True)

        print("\n## MB/s median (min-max), server peak RSS (PSS, USS) while receiving")
        for key, series in results.items():
            if key[1] != "dd":
                print(f"{key[0]:5} {key[1]:36} {key[2]:14} {key[3]:13} {series.line()}")
        for state in states:
            dd = results[(state, "dd")].speeds
            print(f"{state:5} {'dd if=/dev/zero conv=fdatasync':65} {statistics.median(dd):7.0f}"
                  f" ({min(dd):.0f}-{max(dd):.0f})")
        print("idle: " + "; ".join(f"{k} {v}" for k, v in idle.items()))

        print("\n## ratios (targets: >= 1.1x @tus/server, >= 0.8x dd, <= 60 MiB per worker)")
        ours_peak = ours_pss = ours_uss = 0
        for state in states:
            dd = statistics.median(results[(state, "dd")].speeds)
            for client_name in clients:
                for mode in MODES:
                    a = results[(state, ours.name, client_name, mode)]
                    b = results[(state, node.name, client_name, mode)]
                    c = results[(state, sink.name, client_name, mode)]
                    ma, mb = statistics.median(a.speeds), statistics.median(b.speeds)
                    mc = statistics.median(c.speeds)
                    ours_peak = max(ours_peak, max(a.peaks))
                    ours_pss = max(ours_pss, max(a.peaks_pss))
                    ours_uss = max(ours_uss, max(a.peaks_uss))
                    print(f"{state:5} {client_name:14} {mode:13} ours/@tus/server {ma / mb:5.2f}x"
                          f"   ours/dd {ma / dd:5.2f}x   (client ceiling/dd {mc / dd:5.2f}x, "
                          f"ours/ceiling {ma / mc:5.2f}x)")
        print(f"our worker's peak RSS {ours_peak / MIB:.1f} MiB, PSS {ours_pss / MIB:.1f} MiB, "
              f"USS {ours_uss / MIB:.1f} "
              f"MiB; now {memory_line(ours.memory_pid())}; master "
              f"{memory_line(ours.proc.pid)}")

        if args.memory_size:
            big = scratch / "big.bin"
            source.unlink()
            make_source(big, args.memory_size)
            big_sha = sha256_file(big)
            print(f"\n## memory check: one upload of {args.memory_size / 2**30:.2f} GiB "
                  f"({states[0]})")
            for client_name, mode in (("tus-js-client", "one PATCH"),
                                      ("tus-js-client", "8 MiB chunks")):
                if client_name not in clients:
                    continue
                prepare(states[0], args.memory_size)
                speed, peak, peak_pss, peak_uss = run_one(ours, client_name, mode, big, big_sha,
                                                args.memory_size)
                print(f"ours / {client_name} / {mode}: {speed:.0f} MB/s, worker peak RSS "
                      f"{peak / MIB:.1f} MiB, PSS {peak_pss / MIB:.1f} MiB, "
                      f"USS {peak_uss / MIB:.1f} MiB")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
