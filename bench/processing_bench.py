"""Processing benchmark: how fast the worker turns a video into its playback rendition.

    .venv/bin/python bench/processing_bench.py [--seconds 600] [--phone-seconds 300]
                                               [--preset veryfast] [--threads 0] [--niceness 0]

The defaults are the sizes issue 12 names: a 10-minute 1080p H.264 source, a 5-minute phone
video. On a small shared machine pass shorter ones (the per-minute figures carry over:
x264's cost per frame does not grow with length) and say so with the figures.

1. Renders a synthetic 1080p30 H.264 + AAC source (ffmpeg's testsrc2 with moving noise, so
   the encoder has real work; camera footage is usually harder still) of `--seconds`.
2. Transcodes it exactly as the worker does (lti_tool.processing.media.encode, forced to
   re-encode: a real H.264 MP4 would be kept as it is) and reports: speed as a multiple of
   real time, CPU seconds (user + system, ffmpeg included) per minute of video, and peak
   memory of ffmpeg and of this Python process.
3. Runs the whole job (lti_tool.processing.pipeline, local backend, SQLite, no web server)
   on a phone-like 1080p H.264 MP4 of `--phone-seconds` (300), from "every byte arrived" to
   "ready" (probe, thumbnail, hover strip; no re-encoding, as for a real phone MP4): the time
   a student waits after the last byte of the commonest upload.

Scratch files go to a temporary folder, removed at the end. Figures: bench/README.md.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool.processing import media  # noqa: E402
from lti_tool.uploads.video_checks import MP4  # noqa: E402


def render_source(path: Path, seconds: int, noise: bool = True) -> None:
    """Render the synthetic source; without noise it renders much faster (the phone MP4 is
    only probed, never re-encoded)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         *(["-vf", "noise=alls=4:allf=t"] if noise else []), "-c:v", "libx264", "-preset", "ultrafast",
         "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
         str(path)], check=True)


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_transcode(source: Path, out: Path, settings: media.EncodeSettings) -> dict:
    found = media.probe(source, MP4)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    media.encode(source, out, found, media.Plan.TRANSCODE, settings)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    duration = found.duration_seconds or 1
    return {"duration": duration, "wall": wall, "speed": duration / wall,
            "cpu_per_minute": cpu / duration * 60,
            "ffmpeg_peak_mib": after.ru_maxrss / 1024,  # the largest child so far
            "rendition_mib": out.stat().st_size / 2 ** 20}


def bench_job(source: Path, workdir: Path) -> float:
    """Time the whole job on a ready-to-play phone MP4: lease, sniff, probe, thumbnail, hover
    strip, ready."""
    from lti_tool import create_app
    from lti_tool.database import get_or_create
    from lti_tool.extensions import db
    from lti_tool.models import Submission, Video
    from lti_tool.processing import pipeline
    from lti_tool.statuses import VideoStatus
    from lti_tool.storage import storage_for
    from lti_tool.storage.base import UploadRequest
    from tests.factories import Classroom

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite'}",
                      "LOCAL_STORAGE_DIR": str(workdir / "media"),
                      "LTI_KEYS_DIR": str(workdir / "keys"), "SERVER_NAME": "bench.local"})
    with app.app_context(), app.test_request_context():
        db.create_all()
        room = Classroom()
        submission, _ = get_or_create(Submission, {"assignment_id": room.assignment.id,
                                                   "user_id": room.student.id})
        video = Video(submission_id=submission.id, attempt=1, backend="local",
                      status=VideoStatus.PROCESSING, filename=source.name,
                      size_bytes=source.stat().st_size)
        db.session.add(video)
        db.session.flush()
        backend = storage_for("local")
        ticket = backend.create_upload(UploadRequest(
            video_id=video.id, owner_id=room.student.id, filename=source.name,
            size_bytes=source.stat().st_size))
        video.storage_uid = ticket.storage_uid
        db.session.commit()
        # As if the tus endpoint had just moved the last byte into place.
        shutil.copyfile(source, backend._dir(ticket.storage_uid) / "video")
        started = time.monotonic()
        outcome = pipeline.process(video.id)
        elapsed = time.monotonic() - started
        assert outcome == pipeline.Outcome.READY, outcome
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600,
                        help="length of the 1080p source to transcode (issue 12: 10 minutes)")
    parser.add_argument("--phone-seconds", type=int, default=300,
                        help="length of the phone video timed from last byte to playable "
                             "(issue 12: 5 minutes)")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--niceness", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="processing-bench-") as tmp:
        work = Path(tmp)
        source = work / "source-1080p.mp4"
        t0 = time.monotonic()
        render_source(source, args.seconds)
        print(f"source: 1920x1080 30 fps H.264/AAC, {args.seconds} s, "
              f"{source.stat().st_size / 2 ** 20:.1f} MiB (rendered in "
              f"{time.monotonic() - t0:.0f} s)")
        settings = media.EncodeSettings(time_limit_seconds=24 * 3600, niceness=args.niceness,
                                        threads=args.threads, preset=args.preset)
        result = bench_transcode(source, work / "rendition.mp4", settings)
        print(f"transcode (preset {args.preset}, threads {args.threads or 'auto'}, "
              f"{os.cpu_count()} cores): {result['wall']:.1f} s for {result['duration']:.0f} s"
              f" of video = {result['speed']:.2f}x real time")
        print(f"  CPU: {result['cpu_per_minute']:.0f} CPU seconds per minute of video")
        print(f"  memory: ffmpeg peak {result['ffmpeg_peak_mib']:.0f} MiB RSS; worker "
              f"(this Python process) peak {peak_rss_mib():.0f} MiB RSS")
        print(f"  rendition: {result['rendition_mib']:.1f} MiB; load average during the run "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work slows it)")
        phone = work / "phone.mp4"
        render_source(phone, args.phone_seconds, noise=False)
        job = bench_job(phone, work)
        print(f"last byte to playable, {args.phone_seconds} s phone-like 1080p H.264 MP4 "
              f"({phone.stat().st_size / 2 ** 20:.0f} MiB, kept as it is: probe + "
              f"thumbnail + hover strip): {job:.2f} s")


if __name__ == "__main__":
    main()
