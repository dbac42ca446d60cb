"""Seed the demo courses and register the tool with the demo LMS, and the demo LMS with the tool.

`ensure_demo_registration(base_url)` is idempotent: the demo home page calls it on every
visit, tests call it once. A base URL is how the browser reaches the app; each one gets its
own registration, since the issuer and every endpoint URL contain it.
"""
from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from lti_tool.extensions import db
from lti_tool.models import Deployment, Platform
from lti_tool.statuses import DeploymentPolicy

from . import urls
from .models import DemoCourse, DemoEnrollment, DemoLineItem, DemoResourceLink, DemoTool, DemoUser
from .vocab import ALL_SCOPES, PRODUCT_FAMILY_CODE, CourseRole

log = logging.getLogger(__name__)

PLATFORM_NAME = "Demo LMS"
TOOL_NAME = "Video Assignments"
DEPLOYMENT_ID = "1"
CLIENT_ID_LENGTH = 15  # like Moodle
TOOL_LOGIN_PATH = "/lti/login"
TOOL_LAUNCH_PATH = "/lti/launch"
TOOL_JWKS_PATH = "/lti/jwks"

COURSE_1 = "demo-course-1"
COURSE_2 = "demo-course-2"
SEED_LINK_TITLE = "Video pitch"
SEED_LINK_TEXT = "Record a three-minute pitch of your project and hand it in here."
SEED_LINK_2_TITLE = "Lab safety video"
SEED_SCORE_MAXIMUM = 100.0


@dataclass(frozen=True)
class SeedUser:
    username: str
    given_name: str
    family_name: str
    is_site_admin: bool = False


SEED_USERS = [
    SeedUser("student1", "Ada", "Student"),
    SeedUser("student2", "Ben", "Student"),
    SeedUser("student3", "Chloé", "Student"),
    SeedUser("instructor", "Ines", "Instructor"),
    SeedUser("ta", "Theo", "Assistant"),
    SeedUser("admin", "Alex", "Admin", is_site_admin=True),
    SeedUser("instructor2", "Omar", "Otherteacher"),
    SeedUser("student4", "Dana", "Otherstudent"),
]
SEED_COURSES = {
    COURSE_1: ("Film Studies 101", "FILM101", [
        ("student1", CourseRole.STUDENT), ("student2", CourseRole.STUDENT),
        ("student3", CourseRole.STUDENT), ("instructor", CourseRole.TEACHER),
        ("ta", CourseRole.TA)]),
    COURSE_2: ("Chemistry 201", "CHEM201", [
        ("instructor2", CourseRole.TEACHER), ("student4", CourseRole.STUDENT)]),
}
EMAIL_DOMAIN = "demo-lms.example.edu"


def ensure_demo_data() -> None:
    """Create the demo people and courses unless they exist."""
    if db.session.scalar(db.select(DemoCourse).filter_by(key=COURSE_1)) is not None:
        return
    users = {}
    for seed in SEED_USERS:
        user = DemoUser(username=seed.username, given_name=seed.given_name,
                        family_name=seed.family_name, is_site_admin=seed.is_site_admin,
                        email=f"{seed.username}@{EMAIL_DOMAIN}")
        db.session.add(user)
        users[seed.username] = user
    for key, (title, label, members) in SEED_COURSES.items():
        course = DemoCourse(key=key, title=title, label=label)
        for username, role in members:
            course.enrollments.append(DemoEnrollment(user=users[username], role=role))
        db.session.add(course)
    _commit_or_accept_concurrent_seed()


def ensure_demo_registration(base_url: str) -> DemoTool:
    """Register the tool at `base_url` with the demo LMS and the demo LMS with the tool."""
    base_url = base_url.rstrip("/")
    ensure_demo_data()
    tool = db.session.scalar(db.select(DemoTool).filter_by(login_url=base_url + TOOL_LOGIN_PATH))
    if tool is None:
        tool = _register_tool(base_url)
    _ensure_tool_side_platform(tool)
    return tool


def _register_tool(base_url: str) -> DemoTool:
    launch_url = base_url + TOOL_LAUNCH_PATH
    tool = DemoTool(
        name=TOOL_NAME, client_id=_new_client_id(), deployment_id=DEPLOYMENT_ID,
        issuer=urls.issuer_for(base_url), login_url=base_url + TOOL_LOGIN_PATH,
        redirect_uris=[launch_url], jwks_uri=base_url + TOOL_JWKS_PATH,
        target_link_uri=launch_url, deep_link_url=launch_url, allowed_scopes=list(ALL_SCOPES))
    db.session.add(tool)
    db.session.flush()
    _seed_activity(tool, COURSE_1, SEED_LINK_TITLE, SEED_LINK_TEXT)
    _seed_activity(tool, COURSE_2, SEED_LINK_2_TITLE, None)
    _commit_or_accept_concurrent_seed()
    log.info("demo LMS: registered the tool at %s (client_id %s)", base_url, tool.client_id)
    return db.session.scalar(db.select(DemoTool).filter_by(login_url=base_url + TOOL_LOGIN_PATH))


def _seed_activity(tool: DemoTool, course_key: str, title: str, text: str | None) -> None:
    course = db.session.scalar(db.select(DemoCourse).filter_by(key=course_key))
    link = DemoResourceLink(course=course, tool=tool, title=title, text=text)
    db.session.add(link)
    db.session.flush()
    db.session.add(DemoLineItem(course_id=course.id, tool_id=tool.id, resource_link=link,
                                label=title, score_maximum=SEED_SCORE_MAXIMUM))


def _ensure_tool_side_platform(tool: DemoTool) -> Platform:
    platform = db.session.scalar(db.select(Platform).filter_by(
        issuer=tool.issuer, client_id=tool.client_id))
    if platform is None:
        platform = Platform(
            name=PLATFORM_NAME, issuer=tool.issuer, client_id=tool.client_id,
            auth_login_url=urls.auth_url(tool.issuer), auth_token_url=urls.token_url(tool.issuer),
            key_set_url=urls.jwks_url(tool.issuer), product_family=PRODUCT_FAMILY_CODE,
            deployment_policy=DeploymentPolicy.ALLOW)
        platform.deployments.append(Deployment(deployment_id=tool.deployment_id))
        db.session.add(platform)
        _commit_or_accept_concurrent_seed()
        platform = db.session.scalar(db.select(Platform).filter_by(
            issuer=tool.issuer, client_id=tool.client_id))
    return platform


def _new_client_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(CLIENT_ID_LENGTH))


def _commit_or_accept_concurrent_seed() -> None:
    """Commit; if a parallel request seeded the same rows first, keep theirs."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.info("demo LMS: another request seeded the same rows first; using theirs")
