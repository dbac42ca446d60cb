"""Is the tus fast path (lti_tool/tus/fast.py) worth a second door? The tool under gunicorn
twice, TUS_FAST_PATCH on and off, measured in interleaved rounds.

Per configuration and chunk size: median MB/s (1 MB = 10^6 bytes) and the gunicorn worker's
CPU seconds (utime + stime from /proc) per GiB of non-final PATCHes, and for tiny 64 KiB
chunks requests per second and worker CPU milliseconds per request; then the ratios
fast/slow. Only non-final PATCHes are measured (the only ones the fast path serves): each
upload is declared one byte longer than what is sent, and ended by tus termination.

    .venv/bin/python bench/tus_fast_path_bench.py [--size 128MiB] [--rounds 3]
        [--chunks 1MiB,8MiB,32MiB] [--tiny-requests 100]

The defaults take about 4 minutes on 2 busy cores (bench/README.md).
"""
from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upload_bench import (MIB, ROOT, OurServer, children, parse_size,  # noqa: E402
                          prepare, reported_kib)

TINY = 64 * 1024
CONFIGS = {"fast": "1", "slow": "0"}  # TUS_FAST_PATCH
# Counts which door served each PATCH (the environ key lti_tool/tus/fast.py sets), so the
# run proves the "fast" server really took the fast path and the "slow" one never did.
HOOK = """
exec(open({conf!r}).read())

def post_request(worker, req, environ, resp):
    if environ["REQUEST_METHOD"] == "PATCH":
        with open({out!r}, "a") as f:
            f.write("f" if environ.get("lti_tool.tus.fast_patch") else "s")
"""


def worker_cpu(server: OurServer) -> float:
    """Return the CPU seconds (user + system) the server's worker processes have used."""
    total = 0
    for pid in children(server.proc.pid):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


class Client:
    """A tus client over one kept-alive connection, sending the same buffer as each chunk."""

    def __init__(self, server: OurServer):
        import requests
        self.server, self.http = server, requests.Session()

    def upload(self, total: int, chunk: int) -> tuple[float, float, int]:
        """Send `total` bytes in `chunk`-sized non-final PATCHes; return (seconds, worker
        CPU seconds, requests)."""
        headers, metadata = self.server.new_upload(total + 1)
        common = {**headers, "Tus-Resumable": "1.0.0"}
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                        for k, v in metadata.items())
        created = self.http.post(self.server.endpoint, headers={
            **common, "Upload-Length": str(total + 1), "Upload-Metadata": meta})
        created.raise_for_status()
        url = created.headers["Location"]
        if url.startswith("/"):
            url = f"http://127.0.0.1:{self.server.port}{url}"
        body = os.urandom(chunk)
        patch = {**common, "Content-Type": "application/offset+octet-stream"}
        offset = requests_sent = 0
        cpu, started = worker_cpu(self.server), time.perf_counter()
        while offset < total:
            part = body if total - offset >= chunk else body[:total - offset]
            resp = self.http.patch(url, data=part, headers={**patch,
                                                            "Upload-Offset": str(offset)})
            if resp.status_code != 204:
                raise SystemExit(f"PATCH at {offset} answered {resp.status_code}: "
                                 f"{resp.text[:200]}")
            offset, requests_sent = int(resp.headers["Upload-Offset"]), requests_sent + 1
        seconds, cpu = time.perf_counter() - started, worker_cpu(self.server) - cpu
        self.http.delete(url, headers=common).raise_for_status()  # frees the partial file
        return seconds, cpu, requests_sent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=parse_size, default=parse_size("128MiB"),
                    help="bytes per upload (default 128MiB)")
    ap.add_argument("--chunks", default="1MiB,8MiB,32MiB", help="tus chunk sizes")
    ap.add_argument("--tiny-requests", type=int, default=100,
                    help="64 KiB PATCHes per round for the per-request figure")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads")
    args = ap.parse_args()
    chunks = [parse_size(c) for c in args.chunks.split(",") if c.strip()]

    scratch = Path(tempfile.mkdtemp(prefix="tus-fast-bench-"))
    servers: dict[str, OurServer] = {}
    try:
        print(f"# tus fast path benchmark {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
              f", {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
              f"{args.size / MIB:.0f} MiB per upload, chunks "
              f"{', '.join(f'{c // MIB} MiB' for c in chunks)}, {args.rounds} rounds "
              f"interleaved, memory warm before each upload (free page reporting "
              f"{'on' if reported_kib() is not None else 'not found'})")
        print("# The machine may be shared and noisy: MB/s and requests/s depend on what else "
              "runs; worker CPU per GiB (and per request) and the interleaving are the "
              "figures to rely on.", flush=True)
        for name, flag in CONFIGS.items():
            (scratch / name).mkdir()
            conf = scratch / name / "count.conf.py"
            conf.write_text(HOOK.format(conf=str(ROOT / "gunicorn.conf.py"),
                                        out=str(scratch / name / "doors.txt")))
            servers[name] = OurServer(scratch / name, args.threads, preload=True, extra_env={
                "TUS_FAST_PATCH": flag, "RATELIMIT_UPLOADS": "100000 per hour",
                "GUNICORN_CMD_ARGS": f"-c {conf}"})
        clients = {name: Client(server) for name, server in servers.items()}
        for client in clients.values():  # warm up: first requests load lazy imports
            client.upload(4 * MIB, MIB)
        speeds: dict = {}
        cpu_per_gib: dict = {}
        tiny_rps: dict = {}
        tiny_cpu_ms: dict = {}
        order = list(CONFIGS)
        for rnd in range(1, args.rounds + 1):
            for chunk in chunks:
                for name in order:
                    prepare("warm", args.size)
                    seconds, cpu, _ = clients[name].upload(args.size, chunk)
                    speeds.setdefault((name, chunk), []).append(args.size / seconds / 1e6)
                    cpu_per_gib.setdefault((name, chunk), []).append(cpu * 2**30 / args.size)
                    print(f"[round {rnd}] {name} {chunk // MIB:2d} MiB chunks: "
                          f"{args.size / seconds / 1e6:6.0f} MB/s, worker CPU "
                          f"{cpu * 2**30 / args.size:.2f} s/GiB", flush=True)
            for name in order:
                seconds, cpu, count = clients[name].upload(args.tiny_requests * TINY, TINY)
                tiny_rps.setdefault(name, []).append(count / seconds)
                tiny_cpu_ms.setdefault(name, []).append(cpu * 1000 / count)
                print(f"[round {rnd}] {name} 64 KiB chunks: {count / seconds:6.0f} requests/s, "
                      f"worker CPU {cpu * 1000 / count:.2f} ms per request", flush=True)
            order.reverse()  # A B, B A, A B, ...: drift in the machine's load cancels out
        print("\nPATCHes by door (gunicorn's post_request): " + "; ".join(
            f"{name}: fast path {doors.count('f')}, Flask view {doors.count('s')}"
            for name in CONFIGS for doors in [(scratch / name / "doors.txt").read_text()]))

        med = statistics.median
        print("\n## medians (min-max) per configuration")
        print("| chunk | config | MB/s | worker CPU s/GiB |")
        print("| --- | --- | --- | --- |")
        for chunk in chunks:
            for name in CONFIGS:
                s, c = speeds[(name, chunk)], cpu_per_gib[(name, chunk)]
                print(f"| {chunk // MIB} MiB | {name} | {med(s):.0f} ({min(s):.0f}-{max(s):.0f})"
                      f" | {med(c):.2f} ({min(c):.2f}-{max(c):.2f}) |")
        for name in CONFIGS:
            r, c = tiny_rps[name], tiny_cpu_ms[name]
            print(f"| 64 KiB | {name} | {med(r):.0f} requests/s ({min(r):.0f}-{max(r):.0f}) "
                  f"| {med(c):.2f} ms CPU per request ({min(c):.2f}-{max(c):.2f}) |")
        print("\n## fast/slow (ratio of medians; CPU below 1 = the fast path saves CPU)")
        for chunk in chunks:
            speed = med(speeds[("fast", chunk)]) / med(speeds[("slow", chunk)])
            cpu = med(cpu_per_gib[("fast", chunk)]) / med(cpu_per_gib[("slow", chunk)])
            print(f"{chunk // MIB:2d} MiB chunks: MB/s {speed:.2f}x, worker CPU per GiB "
                  f"{cpu:.2f}x (saves {(1 - cpu) * 100:.0f}%)")
        rps = med(tiny_rps["fast"]) / med(tiny_rps["slow"])
        cpu = med(tiny_cpu_ms["fast"]) / med(tiny_cpu_ms["slow"])
        print(f"64 KiB chunks: requests/s {rps:.2f}x, worker CPU per request {cpu:.2f}x "
              f"(saves {(1 - cpu) * 100:.0f}%, "
              f"{med(tiny_cpu_ms['slow']) - med(tiny_cpu_ms['fast']):.2f} ms)")
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
