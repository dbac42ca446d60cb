"""Helpers for grading and review tests: ready videos, optionally with a real local file."""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.grading import service as grading
from lti_tool.models import Comment, Video, new_token, utcnow
from lti_tool.statuses import VideoStatus
from lti_tool.storage.local import backend as local
from lti_tool.tus.store import safe_name
from tests.uploading import make_sample_video


_CLIPS: dict[int, Path] = {}  # seconds -> the clip this process encoded once


def make_test_video(path: Path, seconds: int = 3) -> Path:
    """Put a small H.264 test pattern at `path`: encoded with ffmpeg (the README's CI
    installs it) once per test process, copied for each test."""
    if seconds not in _CLIPS:
        folder = Path(tempfile.mkdtemp(prefix="test-clips-"))
        atexit.register(shutil.rmtree, folder, True)
        _CLIPS[seconds] = make_sample_video(folder / f"clip-{seconds}s.mp4", seconds=seconds)
    if not path.exists():
        shutil.copyfile(_CLIPS[seconds], path)
    return path


def store_local_file(source: Path) -> str:
    """Put a file in the local storage as a finished video; return its storage uid."""
    uid = new_token()
    folder = Path(current_app.config["LOCAL_STORAGE_DIR"]) / local.VIDEOS_DIR / safe_name(uid)
    folder.mkdir(parents=True)
    shutil.copyfile(source, folder / local.VIDEO_FILE)
    (folder / local.META_FILE).write_text(json.dumps({"storage_uid": uid,
                                                      "filename": source.name}))
    return uid


def ready_video(room, student=None, attempt=1, duration=30.0, file: Path | None = None) -> Video:
    """Give a student a ready attempt (a real local file when `file` is given)."""
    submission = grading.submission_for(room.assignment, student or room.student)
    uid = store_local_file(file) if file else f"uid-{submission.id}-{attempt}"
    video = Video(submission_id=submission.id, attempt=attempt, backend="local",
                  storage_uid=uid, status=VideoStatus.READY, duration_seconds=duration,
                  size_bytes=file.stat().st_size if file else 1234, ready_at=utcnow(),
                  filename=file.name if file else "pitch.mp4", content_type="video/mp4")
    db.session.add(video)
    db.session.flush()
    submission.current_video_id = video.id
    submission.submitted_at = utcnow()
    db.session.commit()
    return video


@dataclass
class ReviewedClassroom:
    """A classroom whose student handed in a ready video that the instructor commented on."""

    room: object
    video: Video
    comment: Comment
    student_launch: str
    instructor_launch: str


def reviewed_classroom() -> ReviewedClassroom:
    """Make a classroom with a ready video, a comment on it, and both people's launches."""
    from tests.factories import Classroom, make_launch
    room = Classroom()
    video = ready_video(room)
    comment = Comment(submission_id=video.submission_id, video_id=video.id,
                      author_id=room.instructor.id, at_seconds=1.0, body="Nice")
    db.session.add(comment)
    db.session.commit()
    student = room.launch(room.student)
    instructor = make_launch(room.instructor, room.course, room.assignment, Role.INSTRUCTOR)
    return ReviewedClassroom(room, video, comment, student.id, instructor.id)
