"""Two platforms with courses, people and videos, for the admin area's tests.

`site` holds platform A (the one under test) and platform B (another LMS whose admin must
never see A's data); each has an admin, an instructor, a student, an assignment and videos.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.models import LaunchRecord, Platform, Submission, User, Video, utcnow
from lti_tool.statuses import VideoStatus
from tests.factories import make_assignment, make_course, make_launch, make_platform, make_user


@dataclass
class Tenant:
    """One platform's people and data, and live launches for each of them."""

    platform: Platform
    admin: User
    instructor: User
    student: User
    videos: list[Video] = field(default_factory=list)
    launches: dict[str, str] = field(default_factory=dict)


def make_video(submission: Submission, attempt: int = 1, **kw) -> Video:
    video = Video(submission_id=submission.id, attempt=attempt, backend=kw.pop("backend", "local"),
                  status=kw.pop("status", VideoStatus.READY), **kw)
    db.session.add(video)
    db.session.flush()
    return video


def build_tenant(name: str, course_title: str, filename_prefix: str) -> Tenant:
    platform = make_platform(name=name)
    course = make_course(platform, title=course_title)
    assignment = make_assignment(course, title=f"{course_title} pitch")
    admin = make_user(platform, None, Role.ADMIN, name=f"{name} Admin")
    instructor = make_user(platform, course, Role.INSTRUCTOR, name=f"{name} Teacher")
    student = make_user(platform, course, Role.LEARNER, name=f"{name} Student",
                        email=f"student@{name.lower()}.example.edu")
    submission = Submission(assignment_id=assignment.id, user_id=student.id)
    db.session.add(submission)
    db.session.flush()
    tenant = Tenant(platform, admin, instructor, student)
    now = utcnow()
    tenant.videos.append(make_video(submission, 1, filename=f"{filename_prefix}-one.mp4",
                                    size_bytes=10_000_000, duration_seconds=60.0,
                                    created_at=now - timedelta(days=2)))
    tenant.videos.append(make_video(submission, 2, filename=f"{filename_prefix}-two.mp4",
                                    status=VideoStatus.ERROR, error_code="bad_format",
                                    error_message="Not a video.", size_bytes=500,
                                    created_at=now - timedelta(days=1)))
    db.session.commit()
    tenant.launches = {
        "admin": make_launch(admin, role=Role.ADMIN).id,
        "instructor": make_launch(instructor, course, assignment, Role.INSTRUCTOR).id,
        "student": make_launch(student, course, assignment, Role.LEARNER).id,
    }
    return tenant


@dataclass
class Site:
    a: Tenant
    b: Tenant

    def get(self, client, path: str, who: str = "admin", tenant: str = "a", **kw):
        """GET a page as one of a tenant's people (their launch in the header)."""
        launch = getattr(self, tenant).launches[who]
        return client.get(path, headers={"X-LTI-Launch": launch}, **kw)

    def post(self, client, path: str, who: str = "admin", tenant: str = "a", data=None):
        """POST a form as one of a tenant's people (the launch in the form, as pages do)."""
        launch = getattr(self, tenant).launches[who]
        return client.post(path, data=dict(data or {}, launch=launch))


@pytest.fixture
def site(app):
    """Platform A and platform B, each with an admin, an instructor, a student and videos."""
    with app.app_context():
        a = build_tenant("Alpha", "Film Studies", "alpha")
        b = build_tenant("Beta", "Marine Biology", "beta")
        yield Site(a, b)
        db.session.rollback()


def launch_user(app, launch_id: str) -> User:
    with app.app_context():
        return db.session.get(LaunchRecord, launch_id).user


def store_locally(video: Video, data: bytes = b"\x00\x00\x00\x18ftypmp42 not really") -> Path:
    """Put a file for the video in the local backend, as a finished upload leaves it."""
    from lti_tool.storage import current_storage
    from lti_tool.storage.local.backend import META_FILE, VIDEO_FILE
    backend = current_storage()
    video.storage_uid = video.storage_uid or f"uid-{video.id}"
    folder = backend._dir(video.storage_uid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META_FILE).write_text(json.dumps({"storage_uid": video.storage_uid}))
    (folder / VIDEO_FILE).write_bytes(data)
    db.session.commit()
    return folder / VIDEO_FILE


def text(resp) -> str:
    return resp.get_data(as_text=True)


@pytest.fixture
def operator(site):
    """Platform A's admin, granted by a site operator."""
    site.a.admin.admin_granted = True
    db.session.commit()
    return site
