"""Helpers for the upload and playback tests: sample videos, a classroom, tus requests."""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.models import Assignment, Course, User
from lti_tool.tus.protocol import (OFFSET_OCTET_STREAM, TUS_RESUMABLE, TUS_VERSION, UPLOAD_LENGTH,
                                   UPLOAD_METADATA, UPLOAD_OFFSET)
from tests.factories import Classroom, make_course, make_launch, make_platform, make_user

HAS_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
needs_ffmpeg = pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg/ffprobe not installed")


def make_sample_video(path: Path, seconds: int = 2, size: str = "320x240",
                      codec: str = "libx264", incompressible: bool = False) -> Path:
    """Render a small real video with ffmpeg's test source.

    `incompressible` adds noise and encodes it losslessly, so a second of 640x360 weighs
    megabytes: for tests that need several upload chunks or parts.
    """
    args = ["-c:v", codec]
    if incompressible:
        args = ["-vf", "noise=alls=60:allf=t", *args, "-preset", "ultrafast", "-qp", "0"]
    if codec == "libx264":
        args += ["-pix_fmt", "yuv420p", "-movflags", "+faststart"]
    elif codec == "libvpx":  # its default "good" deadline takes minutes on a busy machine
        args += ["-deadline", "realtime", "-cpu-used", "8"]
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=duration={seconds}:size={size}:rate=25", *args, str(path)],
                   check=True, timeout=120)
    return path


def three_part_video(folder: Path, part: int, seconds: int) -> Path:
    """Render a real, playable MP4 that takes three parts (or tus chunks) of `part` bytes;
    skip the test without ffmpeg."""
    if not HAS_FFMPEG:
        pytest.skip("ffmpeg not installed")
    path = folder / "pitch.mp4"
    make_sample_video(path, seconds=seconds, size="640x360", incompressible=True)
    assert 2 * part < path.stat().st_size <= 3 * part
    return path


@pytest.fixture(scope="session")
def sample_mp4(tmp_path_factory) -> Path:
    """A 2-second 320x240 H.264 MP4 (needs ffmpeg; a fake MP4 header otherwise)."""
    path = tmp_path_factory.mktemp("samples") / "sample.mp4"
    if HAS_FFMPEG:
        return make_sample_video(path)
    # Without ffmpeg only the signature check runs: an ftyp box plus filler is enough.
    path.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 4096)
    return path


@pytest.fixture(scope="session")
def sample_webm(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("samples") / "sample.webm"
    if not HAS_FFMPEG:
        pytest.skip("ffmpeg not installed")
    return make_sample_video(path, codec="libvpx")


@pytest.fixture
def video_of(sample_mp4):
    """Return a function: size -> a real (processable) MP4 padded with noise to that size."""
    head = sample_mp4.read_bytes()
    return lambda size: head + os.urandom(size - len(head))


@pytest.fixture(scope="session")
def long_webm(tmp_path_factory) -> Path:
    """A 20-second 640x480 VP8 WebM (long enough to pause an upload half-way)."""
    if not HAS_FFMPEG:
        pytest.skip("ffmpeg not installed")
    path = tmp_path_factory.mktemp("samples") / "long.webm"
    return make_sample_video(path, seconds=20, size="640x480", codec="libvpx")


def sha256_of(path_or_bytes) -> str:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return hashlib.sha256(path_or_bytes).hexdigest()
    h = hashlib.sha256()
    with open(path_or_bytes, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


PEOPLE = ("instructor", "ta", "student", "other_student", "other_instructor", "admin",
          "foreign_admin")


class Room:
    """A classroom plus the strangers every access rule must keep out, held by ids.

    Tests make requests outside any app context of their own: an app context left open
    around the test client would be shared by its requests (and their `g`).
    """

    def __init__(self, app):
        self.app = app
        with app.app_context():
            room = Classroom()
            other_course = make_course(room.platform, title="Another course")
            people = {
                "instructor": room.instructor, "ta": room.ta, "student": room.student,
                "other_student": room.other_student,
                "other_instructor": make_user(room.platform, other_course, Role.INSTRUCTOR),
                "admin": make_user(room.platform, None, Role.ADMIN),
                "foreign_admin": make_user(make_platform(), None, Role.ADMIN),
            }
            db.session.commit()
            for name, user in people.items():
                setattr(self, name, SimpleNamespace(id=user.id, name=name))
            self.assignment_id = room.assignment.id
            self.course_id = room.course.id
            self.other_course_id = other_course.id

    def launch_as(self, who: str) -> SimpleNamespace:
        """Return (the id of) a live launch for one of the named people."""
        with self.app.app_context():
            user = db.session.get(User, getattr(self, who).id)
            course = db.session.get(Course, self.course_id)
            assignment = db.session.get(Assignment, self.assignment_id)
            if who == "other_instructor":
                launch = make_launch(user, db.session.get(Course, self.other_course_id), None,
                                     Role.INSTRUCTOR)
            elif who == "foreign_admin":
                launch = make_launch(user, None, None, Role.ADMIN)
            else:
                role = {"instructor": Role.INSTRUCTOR, "ta": Role.TA,
                        "admin": Role.ADMIN}.get(who, Role.LEARNER)
                launch = make_launch(user, course, assignment, role)
            return SimpleNamespace(id=launch.id)

    def launch(self, person: SimpleNamespace) -> SimpleNamespace:
        return self.launch_as(person.name)

    def update_assignment(self, **values) -> None:
        with self.app.app_context():
            assignment = db.session.get(Assignment, self.assignment_id)
            for key, value in values.items():
                setattr(assignment, key, value)
            db.session.commit()


@pytest.fixture
def room(app):
    return Room(app)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def tus_headers(launch=None, **extra) -> dict:
    headers = {TUS_RESUMABLE: TUS_VERSION}
    if launch is not None:
        headers["X-LTI-Launch"] = launch.id if hasattr(launch, "id") else launch
    headers.update(extra)
    return headers


class TusClient:
    """tus requests through the Flask test client, as tus-js-client would send them."""

    def __init__(self, client, launch):
        self.client = client
        self.launch = launch

    def start(self, filename="clip.mp4", size=1000, content_type="video/mp4"):
        """POST /api/uploads: open an attempt; return the JSON ticket."""
        resp = self.client.post("/api/uploads", json={
            "filename": filename, "size_bytes": size, "content_type": content_type},
            headers={"X-LTI-Launch": self.launch.id})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    def create(self, video_id, length, body: bytes | None = None, **headers):
        meta = f"video_id {b64(str(video_id))},filename {b64('clip.mp4')}"
        h = tus_headers(self.launch, **{UPLOAD_LENGTH: str(length), UPLOAD_METADATA: meta})
        h.update(headers)
        if body is not None:
            h["Content-Type"] = OFFSET_OCTET_STREAM
            return self.client.post("/tus/", data=body, headers=h)
        return self.client.post("/tus/", headers=h)

    def patch(self, location, data, offset, **headers):
        h = tus_headers(self.launch, **{UPLOAD_OFFSET: str(offset),
                                        "Content-Type": OFFSET_OCTET_STREAM})
        h.update(headers)
        return self.client.patch(_path(location), data=data, headers=h)

    def head(self, location):
        return self.client.head(_path(location), headers=tus_headers(self.launch))

    def delete(self, location):
        return self.client.delete(_path(location), headers=tus_headers(self.launch))

    def upload(self, data: bytes, filename="clip.mp4"):
        """Open an attempt and send `data` in one PATCH; return (ticket, location, resp)."""
        ticket = self.start(filename=filename, size=len(data))
        created = self.create(ticket["video_id"], len(data))
        assert created.status_code == 201, created.get_json()
        location = created.headers["Location"]
        resp = self.patch(location, data, 0)
        return ticket, location, resp


def _path(location: str) -> str:
    return "/" + location.split("://", 1)[-1].split("/", 1)[1] if "://" in location else location
