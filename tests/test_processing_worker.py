"""A real `flask --app wsgi worker` consuming the SQLite queue: it processes what the web
enqueued, and a worker killed with SIGKILL mid-transcode loses nothing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lti_tool.models import Video, utcnow
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from tests.processing_fixtures import (Sample, ffprobe_streams, render,  # noqa: F401
                                       sample_file, samples_dir, video_row)
from tests.uploading import TusClient, room  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 4


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(PROCESSING_QUEUE="sqlite",
                      PROCESSING_QUEUE_FILE=str(tmp_path / "queue.sqlite"),
                      PROCESSING_LEASE_SECONDS=LEASE_SECONDS,
                      PROCESSING_WORK_DIR=str(tmp_path / "work"))
    return app_config


class Worker:
    """`flask --app wsgi worker` in its own process group, configured like the test app."""

    def __init__(self, app, **settings):
        self.env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                        LOCAL_STORAGE_DIR=app.config["LOCAL_STORAGE_DIR"],
                        SECRET_KEY=app.config["SECRET_KEY"],
                        LTI_KEYS_DIR=app.config["LTI_KEYS_DIR"], SCHEDULER_ENABLED="0",
                        PROCESSING_QUEUE="sqlite",
                        PROCESSING_QUEUE_FILE=app.config["PROCESSING_QUEUE_FILE"],
                        PROCESSING_LEASE_SECONDS=str(LEASE_SECONDS), PYTHONPATH=str(ROOT),
                        PROCESSING_WORK_DIR=app.config["PROCESSING_WORK_DIR"],
                        **settings)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
            env=self.env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=open(os.environ.get("WORKER_LOG", os.devnull), "ab"))

    def kill(self) -> None:
        """SIGKILL the worker and its ffmpeg: no clean-up of any kind (a lost machine)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(app):
    started = []

    def start(**settings) -> Worker:
        started.append(Worker(app, **settings))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()


def wait_for(app, video_id, done, seconds=90) -> Video:
    deadline = time.time() + seconds
    while time.time() < deadline:
        video = video_row(app, video_id)
        if done(video):
            return video
        time.sleep(0.3)
    raise AssertionError(f"video {video_id} still {video_row(app, video_id)!r}")


def upload(client, room, path) -> int:
    student = TusClient(client, room.launch(room.student))
    ticket, _, resp = student.upload(path.read_bytes(), filename=path.name)
    assert resp.status_code == 204
    return ticket["video_id"]


def test_the_worker_processes_what_the_web_enqueued(app, client, room, workers, sample_file):
    video_id = upload(client, room, sample_file("wmv"))
    assert video_row(app, video_id).status == VideoStatus.PROCESSING  # queued, nobody ran it
    worker = workers()
    video = wait_for(app, video_id, lambda v: v.status != VideoStatus.PROCESSING)
    assert video.status == VideoStatus.READY and video.has_thumbnail
    with app.app_context():
        rendition = storage_for(video.backend).rendition_path(video.storage_uid)
    assert ffprobe_streams(rendition)["video"]["codec_name"] == "h264"
    worker.stop()
    assert worker.proc.returncode == 0


def test_a_worker_killed_mid_transcode_leaves_nothing_lost(app, client, room, workers,
                                                           samples_dir):
    # Long enough that a slow preset on one thread takes many seconds.
    source = render(Sample("long-lecture.avi", ("-c:v", "mpeg4", "-q:v", "3", "-c:a",
                                                "pcm_s16le"), seconds=20, size="640x360"),
                    samples_dir)
    video_id = upload(client, room, source)
    first = workers(PROCESSING_PRESET="veryslow", PROCESSING_FFMPEG_THREADS="1")
    running = wait_for(app, video_id, lambda v: (v.processing_percent or 0) > 0)
    assert running.status == VideoStatus.PROCESSING and running.processing_percent < 100
    first.kill()
    assert video_row(app, video_id).status == VideoStatus.PROCESSING
    work = Path(app.config["PROCESSING_WORK_DIR"])
    [left] = work.glob(f"lti-video-{video_id}-*")  # the killed try's directory stays...
    assert list(left.glob("*.part"))  # ...with its half-written rendition
    # The dead worker's lease lapses; a new worker re-enqueues the video when it starts (the
    # scheduler's sweep would do the same on a running one).
    wait_for(app, video_id, lambda v: v.processing_lease_until < utcnow(), LEASE_SECONDS + 5)
    workers(PROCESSING_PRESET="ultrafast")
    video = wait_for(app, video_id, lambda v: v.status != VideoStatus.PROCESSING)
    assert video.status == VideoStatus.READY
    assert video.processing_tries == 2
    assert not left.exists() and list(work.iterdir()) == []  # the next try removed it
    with app.app_context():
        rendition = storage_for(video.backend).rendition_path(video.storage_uid)
    streams = ffprobe_streams(rendition)
    assert streams["video"]["codec_name"] == "h264"
    assert float(streams["format"]["duration"]) == pytest.approx(20, abs=0.5)
