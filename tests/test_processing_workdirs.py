"""Temporary directories a killed worker left are removed: the next try at the same video
removes its own, and a sweep removes any nothing has written to for hours; a live job's
directory is never touched."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from lti_tool.processing import workdirs
from lti_tool.statuses import VideoStatus
from tests.processing_fixtures import sample_file, samples_dir, video_row  # noqa: F401
from tests.uploading import TusClient, room  # noqa: F401

HOUR = 3600


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config.update(PROCESSING_WORK_DIR=str(tmp_path / "work"), PROCESSING_STALE_WORK_HOURS=6)
    return app_config


def leftover(root, name: str, age_seconds: float = 0):
    """A job directory with a half-written rendition, last written age_seconds ago."""
    folder = root / name
    folder.mkdir(parents=True)
    part = folder / "rendition.mp4.part"
    part.write_bytes(b"\x00" * 1024)
    then = time.time() - age_seconds
    for path in (part, folder):
        os.utime(path, (then, then))
    return folder


def test_the_sweep_removes_only_directories_untouched_for_long(tmp_path):
    dead = leftover(tmp_path, "lti-video-7-abc", age_seconds=7 * HOUR)
    live = leftover(tmp_path, "lti-video-8-def", age_seconds=7 * HOUR)
    (live / "rendition.mp4.part").write_bytes(b"\x01" * 2048)  # ffmpeg is writing now
    fresh = leftover(tmp_path, "lti-video-9-ghi", age_seconds=60)
    other = leftover(tmp_path, "someone-elses", age_seconds=30 * HOUR)
    assert workdirs.sweep_stale(tmp_path, 6 * HOUR) == 1
    assert not dead.exists()
    assert live.exists() and fresh.exists() and other.exists()


def test_a_new_try_removes_what_an_earlier_try_at_its_video_left(tmp_path):
    mine = leftover(tmp_path, "lti-video-5-old", age_seconds=60)
    not_mine = leftover(tmp_path, "lti-video-51-old", age_seconds=60)
    with workdirs.job_dir(tmp_path, 5, 6 * HOUR) as folder:
        assert folder.exists() and folder.name.startswith("lti-video-5-")
        assert not mine.exists() and not_mine.exists()
    assert not folder.exists()


def test_a_directory_of_the_same_video_whose_process_runs_is_left_alone(tmp_path):
    # Another site (or another test worker) sharing the temp folder has a video 5 too.
    other = subprocess.Popen(["sleep", "30"])
    try:
        theirs = leftover(tmp_path, f"lti-video-5-p{other.pid}-abc", age_seconds=60)
        with workdirs.job_dir(tmp_path, 5, 6 * HOUR) as folder:
            assert folder.name.startswith(f"lti-video-5-p{os.getpid()}-")
            assert theirs.exists()
    finally:
        other.kill()
        other.wait()
    with workdirs.job_dir(tmp_path, 5, 6 * HOUR):
        assert not theirs.exists()  # its process is gone: an abandoned try


def test_processing_a_video_cleans_the_work_directory(app, client, room, sample_file):
    root = workdirs.work_root(app.config["PROCESSING_WORK_DIR"])
    student = TusClient(client, room.launch(room.student))
    # The next video's id is not known before the upload: leave one for every likely id.
    left = [leftover(root, f"lti-video-{n}-killed", age_seconds=120) for n in range(1, 4)]
    dead = leftover(root, "lti-video-999-killed", age_seconds=7 * HOUR)
    source = sample_file("avi_mpeg4")
    ticket, _, resp = student.upload(source.read_bytes(), filename=source.name)
    assert resp.status_code == 204
    video = video_row(app, ticket["video_id"])
    assert video.status == VideoStatus.READY
    assert not (root / f"lti-video-{video.id}-killed").exists()
    assert not dead.exists()
    assert sorted(p.name for p in root.iterdir()) == sorted(
        p.name for p in left if p.name != f"lti-video-{video.id}-killed")
