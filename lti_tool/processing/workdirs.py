"""Each job's temporary directory, and the clean-up of those a killed worker left behind.

A worker killed mid-transcode (SIGKILL, a lost container) never runs its `finally`, so its
directory (an S3 original, a half-written rendition: gigabytes) stays on the disk. Each
directory is named after its video and the process that made it, so the next job for that
video removes what an earlier try left once that process is gone, and every job start (and
worker start) sweeps directories nothing has written to for PROCESSING_STALE_WORK_HOURS. A
live job writes all the time (the download, ffmpeg's output), so its newest file is never
that old. A directory whose process still runs is left alone even when it names the same
video: another site's worker sharing the system temp folder has its own video 5.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

PREFIX = "lti-video-"


def work_root(configured: str | None) -> Path:
    """Return the folder the jobs' directories go in (PROCESSING_WORK_DIR or system temp)."""
    return Path(configured or tempfile.gettempdir())


def _own_prefix(video_id: int) -> str:
    return f"{PREFIX}{video_id}-"


def _dir_prefix(video_id: int) -> str:
    """Name a job's directory after its video and this process (lti-video-5-p1234-...)."""
    return f"{_own_prefix(video_id)}p{os.getpid()}-"


_OWNER = re.compile(r"-p(\d+)-")


def _owner_alive(folder: Path) -> bool:
    """Tell whether the process named in the directory's name still runs on this machine."""
    owner = _OWNER.search(folder.name[len(PREFIX):])
    if owner is None:
        return False  # no owner named: a directory from before owners were named
    pid = int(owner.group(1))
    if pid == os.getpid():
        return False  # this process starts the video again: its earlier try is over
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, under another user
        return True
    return True


def _last_written(folder: Path) -> float:
    """Return the newest modification time of the folder and everything in it."""
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:  # removed while we looked
            continue
    return newest


def _remove(folder: Path) -> bool:
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not remove the leftover work directory %s: %s", folder, exc)
        return False
    return True


def remove_leftovers(root: Path, video_id: int) -> int:
    """Remove the directories earlier tries at this video left; return how many.

    The caller holds the video's lease, so no live job of this site works in them; one whose
    process still runs belongs to another site sharing the folder and is left alone.
    """
    removed = sum(_remove(folder) for folder in root.glob(_own_prefix(video_id) + "*")
                  if folder.is_dir() and not _owner_alive(folder))
    if removed:
        log.info("video %s: removed %d work directories a stopped try left", video_id, removed)
    return removed


def sweep_stale(root: Path, max_age_seconds: float, now: float | None = None) -> int:
    """Remove job directories nothing has written to for max_age_seconds; return how many."""
    now = time.time() if now is None else now
    removed = 0
    try:
        folders = [f for f in root.glob(PREFIX + "*") if f.is_dir()]
    except OSError as exc:
        log.warning("could not list the work directory %s: %s", root, exc)
        return 0
    for folder in folders:
        try:
            stale = now - _last_written(folder) > max_age_seconds
        except OSError:
            continue
        if stale and _remove(folder):
            removed += 1
    if removed:
        log.info("removed %d stale processing work directories from %s", removed, root)
    return removed


@contextmanager
def job_dir(root: Path, video_id: int, stale_after_seconds: float) -> Iterator[Path]:
    """Give the job a fresh directory after removing what dead jobs left; remove it after."""
    root.mkdir(parents=True, exist_ok=True)
    remove_leftovers(root, video_id)
    sweep_stale(root, stale_after_seconds)
    with tempfile.TemporaryDirectory(prefix=_dir_prefix(video_id), dir=root) as tmp:
        yield Path(tmp)
