"""Seconds from Stop to "submitted" for a browser recording: sent while recording (tus
creation-defer-length) against recorded first and uploaded after (the file uploader).

    .venv/bin/python bench/recording_bench.py [--seconds 300] [--uplink-mbit 5]
        [--video-mbit 2.5] [--modes stream,after]

Serves the tool in this process (SQLite and local storage in a temporary folder, the
processing queue left unworked: "submitted" is the moment the attempt is handed in and
the page says it is being prepared, before any transcoding), and drives headless Chromium
(/usr/bin/chromium) with a fake camera fed from a noisy y4m clip made by ffmpeg (so the
encoder has something to spend its bits on) and a fake microphone. The uplink is throttled
with DevTools' Network.emulateNetworkConditions. The recorder asks MediaRecorder for
`--video-mbit`; what it really produced is printed. In the "after" mode the page's data is
rewritten to say the storage cannot take an upload of unknown size, which makes the
recorder hand the finished recording to the file uploader (the path S3 and Cloudflare take).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CLIP_SECONDS = 4
CLIP_SIZE = "640x360"
CLIP_FPS = 25


def make_clip(folder: Path) -> Path:
    """Write a short noisy y4m clip for the fake camera (Chromium loops it)."""
    clip = folder / "camera.y4m"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={CLIP_SIZE}:rate={CLIP_FPS}",
                    "-vf", "noise=alls=40:allf=t+u", "-t", str(CLIP_SECONDS),
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    return clip


def make_tool(folder: Path):
    """Build the tool on a fresh SQLite database with one classroom; return (app, launch ids)."""
    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.config import TestConfig
    from lti_tool.access.roles import Role
    from tests.factories import Classroom, make_launch, make_user
    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    settings.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'bench.sqlite'}",
                    LOCAL_STORAGE_DIR=str(folder / "media"), PROCESSING_QUEUE="sqlite",
                    PROCESSING_QUEUE_FILE=str(folder / "queue.sqlite"),
                    MAX_UPLOAD_BYTES=4 * 1024 ** 3)
    app = create_app(settings)
    with app.app_context():
        db.create_all()
        room = Classroom()
        room.assignment.max_duration_seconds = None
        db.session.commit()
        # A student per run: a video still being prepared hides the next one's recorder.
        launches = [make_launch(make_user(room.platform, room.course, Role.LEARNER),
                                room.course, room.assignment).id for _ in range(4)]
    return app, launches


def run_one(browser, base: str, launch_id: str, mode: str, args) -> dict:
    """Record `args.seconds`, press Stop then Submit; return the timings and sizes."""
    context = browser.new_context(permissions=["camera", "microphone"])
    page = context.new_page()
    page.set_default_timeout(0)
    deferred = []  # the tus creations without a length: the recording streamed
    page.on("request", lambda r: "upload-defer-length" in r.headers and deferred.append(r.url))
    if mode == "after":
        def rewrite(route):
            resp = route.fetch()
            body = resp.text().replace('"upload_while_recording": true',
                                       '"upload_while_recording": false')
            route.fulfill(response=resp, body=body)
        page.route("**/assignment?launch=*", rewrite)
    # The recorder asks for this bit rate (a page-level default for MediaRecorder).
    page.add_init_script(f"""(() => {{
      const Original = window.MediaRecorder;
      window.MediaRecorder = class extends Original {{
        constructor(stream, options) {{
          super(stream, {{...(options || {{}}), videoBitsPerSecond: {int(args.video_mbit * 1e6)}}});
        }}
      }};
    }})();""")
    page.goto(f"{base}/assignment?launch={launch_id}")
    page.wait_for_function("() => document.getElementById('recorder').dataset.ready === 'true'")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1,
        "uploadThroughput": args.uplink_mbit * 1e6 / 8})
    page.click("#rec-prepare")
    page.wait_for_selector("#rec-live:not([hidden])")
    page.click("#rec-start")
    page.wait_for_selector("#rec-stop:not([hidden])")
    page.wait_for_timeout(args.seconds * 1000)
    stop_at = time.monotonic()
    page.click("#rec-stop")
    page.wait_for_selector("#rec-review:not([hidden])")
    page.click("#rec-submit")
    # Polled from here: a page-side wait stalled in headless runs of several minutes.
    while page.evaluate("() => document.getElementById('current-status').dataset.status"
                        " || ''") not in ("processing", "ready", "error"):
        time.sleep(0.1)
    submitted = time.monotonic() - stop_at
    if (mode == "stream") != bool(deferred):
        raise SystemExit(f"mode {mode}: the page did not upload as asked ({deferred})")
    return {"mode": mode, "stop_to_submitted": submitted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--uplink-mbit", type=float, default=5.0)
    parser.add_argument("--video-mbit", type=float, default=2.5)
    parser.add_argument("--modes", default="stream,after")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from lti_tool.extensions import db
    from lti_tool.models import Video
    with tempfile.TemporaryDirectory(prefix="recording-bench-") as tmp:
        folder = Path(tmp)
        clip = make_clip(folder)
        app, launches = make_tool(folder)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        results = []
        try:
            with sync_playwright() as pw:
                for mode, launch_id in zip(args.modes.split(","), launches):
                    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                        "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                        "--use-fake-device-for-media-stream",
                        f"--use-file-for-fake-video-capture={clip}"])
                    result = run_one(browser, base, launch_id, mode, args)
                    browser.close()
                    with app.app_context():
                        video = db.session.scalars(
                            db.select(Video).order_by(Video.id.desc())).first()
                        result["bytes"] = video.size_bytes or 0
                    results.append(result)
                    print(result, flush=True)
        finally:
            server.shutdown()
    print(f"recording {args.seconds} s, MediaRecorder asked for {args.video_mbit} Mbit/s, "
          f"uplink throttled to {args.uplink_mbit} Mbit/s")
    print(f"{'mode':<8} {'recorded MB':>12} {'real Mbit/s':>12} {'Stop to submitted, s':>22}")
    for r in results:
        print(f"{r['mode']:<8} {r['bytes'] / 1e6:>12.1f} "
              f"{r['bytes'] * 8 / 1e6 / args.seconds:>12.2f} {r['stop_to_submitted']:>22.1f}")


if __name__ == "__main__":
    main()
