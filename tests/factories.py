"""Small builders for test data, and a launch helper that skips the LTI handshake.

Use these for unit tests of features behind a launch. Tests of the launch itself go
through real HTTP with signed JWTs (see tests/launching.py and the LTI tests).
"""
from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.models import (Assignment, Course, Deployment, Enrollment, LaunchRecord, Platform,
                             User, utcnow)
from lti_tool.statuses import DeploymentPolicy

_seq = count(1)


def make_platform(issuer: str | None = None, client_id: str | None = None, **kw) -> Platform:
    n = next(_seq)
    issuer = issuer or f"https://lms{n}.example.edu"
    platform = Platform(
        name=kw.pop("name", f"LMS {n}"), issuer=issuer, client_id=client_id or f"client{n}",
        auth_login_url=kw.pop("auth_login_url", f"{issuer}/auth"),
        auth_token_url=kw.pop("auth_token_url", f"{issuer}/token"),
        key_set_url=kw.pop("key_set_url", f"{issuer}/jwks"),
        deployment_policy=kw.pop("deployment_policy", DeploymentPolicy.REFUSE), **kw)
    platform.deployments.append(Deployment(deployment_id="1"))
    db.session.add(platform)
    db.session.flush()
    return platform


def make_course(platform: Platform, context_id: str | None = None, **kw) -> Course:
    course = Course(platform_id=platform.id, context_id=context_id or f"ctx{next(_seq)}",
                    title=kw.pop("title", "Film Studies 101"), **kw)
    db.session.add(course)
    db.session.flush()
    return course


def make_user(platform: Platform, course: Course | None = None, role: Role = Role.LEARNER,
              name: str | None = None, **kw) -> User:
    n = next(_seq)
    user = User(platform_id=platform.id, sub=kw.pop("sub", f"user{n}"),
                name=name or f"{role.value.title()} {n}",
                is_platform_admin=(role == Role.ADMIN), **kw)
    db.session.add(user)
    db.session.flush()
    if course is not None:
        db.session.add(Enrollment(course_id=course.id, user_id=user.id, role=role))
        db.session.flush()
    return user


def make_assignment(course: Course, **kw) -> Assignment:
    assignment = Assignment(course_id=course.id,
                            resource_link_id=kw.pop("resource_link_id", f"rl{next(_seq)}"),
                            title=kw.pop("title", "Record a 3-minute pitch"), **kw)
    db.session.add(assignment)
    db.session.flush()
    return assignment


def make_launch(user: User, course: Course | None = None, assignment: Assignment | None = None,
                role: Role = Role.LEARNER, **claims) -> LaunchRecord:
    launch = LaunchRecord(
        user_id=user.id, platform_id=user.platform_id,
        course_id=course.id if course else None,
        assignment_id=assignment.id if assignment else None, role=role,
        message_type="LtiResourceLinkRequest", claims=claims,
        expires_at=utcnow() + timedelta(hours=1))
    db.session.add(launch)
    db.session.commit()
    return launch


class Classroom:
    """One platform, one course, one assignment, two students and an instructor."""

    def __init__(self):
        self.platform = make_platform()
        self.course = make_course(self.platform)
        self.assignment = make_assignment(self.course)
        self.instructor = make_user(self.platform, self.course, Role.INSTRUCTOR)
        self.ta = make_user(self.platform, self.course, Role.TA)
        self.student = make_user(self.platform, self.course, Role.LEARNER)
        self.other_student = make_user(self.platform, self.course, Role.LEARNER)
        db.session.commit()

    def launch(self, who: User, role: Role | None = None) -> LaunchRecord:
        """Return a live launch for `who` into this assignment."""
        if role is None:
            enrollment = db.session.scalar(db.select(Enrollment).filter_by(
                course_id=self.course.id, user_id=who.id))
            role = Role(enrollment.role) if enrollment else Role.LEARNER
        return make_launch(who, self.course, self.assignment, role)

    @staticmethod
    def headers(launch: LaunchRecord) -> dict:
        """Headers that carry the launch, as the pages' fetch calls do."""
        return {"X-LTI-Launch": launch.id}


@pytest.fixture
def room(app):
    """A Classroom inside an app context held for the test."""
    with app.app_context():
        room = Classroom()
        yield room
        db.session.rollback()
