"""Turn a validated launch into our rows: user, course, enrollment, assignment, LaunchRecord."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.database import get_or_create
from lti_tool.extensions import db
from lti_tool.lti import claims as c
from lti_tool.lti.ags import parse_iso
from lti_tool.lti.roles import is_platform_admin, map_roles
from lti_tool.models import (Assignment, Course, Deployment, Enrollment, LaunchRecord, Platform,
                             User, utcnow)
from lti_tool.statuses import DueSource

log = logging.getLogger(__name__)

# Custom parameters our deep linking puts on the link (Deep Linking 2.0, 3.4.1 `custom`).
CUSTOM_INT_FIELDS = ("max_file_bytes", "max_duration_seconds")
CUSTOM_TEXT_FIELDS = ("allowed_formats", "instructions")
CUSTOM_MAX_SCORE = "max_score"


def upsert_user(platform: Platform, claims: dict) -> User:
    """Create or update the launching user; name and email only when sent (Moodle may not)."""
    user, _ = get_or_create(User, {"platform_id": platform.id, "sub": str(claims["sub"])})
    for field in ("name", "given_name", "family_name", "email", "picture"):
        value = claims.get(field)
        if isinstance(value, str) and value.strip():
            setattr(user, field, value.strip()[:320 if field == "email" else 255])
    user.is_platform_admin = is_platform_admin(claims.get(c.ROLES))
    user.last_seen_at = utcnow()
    return user


def upsert_course(platform: Platform, deployment: Deployment, claims: dict) -> Course | None:
    """Create or update the launch's context, with the roster URL when NRPS is offered."""
    context = claims.get(c.CONTEXT) or {}
    if not isinstance(context, dict) or not context.get("id"):
        return None
    course, _ = get_or_create(Course, {"platform_id": platform.id,
                                       "context_id": str(context["id"])})
    course.deployment_id = deployment.id
    if context.get("title"):
        course.title = str(context["title"])[:512]
    if context.get("label"):
        course.label = str(context["label"])[:255]
    nrps = claims.get(c.NRPS) or {}
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        course.memberships_url = nrps["context_memberships_url"]
    return course


def upsert_enrollment(course: Course, user: User, role: str, claims: dict) -> Enrollment:
    """Record the user's role in the course as this launch states it."""
    db.session.flush()
    enrollment, _ = get_or_create(Enrollment, {"course_id": course.id, "user_id": user.id})
    enrollment.role = role
    enrollment.lti_roles = list(claims.get(c.ROLES) or [])
    enrollment.source = "launch"
    enrollment.active = True
    return enrollment


def _int_or_none(name: str, value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        log.warning("ignoring custom parameter %s=%r: not an integer", name, value)
        return None
    return number if number > 0 else None


def apply_custom(assignment: Assignment, custom: dict) -> None:
    """Take our settings from the link's custom parameters (set by deep linking).

    The deadlines (due date, cut-off, attempts) are taken on the first launch only: after
    that the instructor changes them on the tool's deadlines page, which a later launch
    carrying the same custom parameters must not undo.
    """
    first = assignment.custom is None
    assignment.custom = dict(custom)
    if first:
        _apply_deadlines(assignment, custom)
    for name in CUSTOM_INT_FIELDS:
        if custom.get(name) not in (None, ""):
            setattr(assignment, name, _int_or_none(name, custom[name]))
    for name in CUSTOM_TEXT_FIELDS:
        if isinstance(custom.get(name), str) and custom[name].strip():
            setattr(assignment, name, custom[name].strip())
    if custom.get(CUSTOM_MAX_SCORE) not in (None, ""):
        try:
            assignment.max_score = float(custom[CUSTOM_MAX_SCORE])
        except (TypeError, ValueError):
            log.warning("ignoring custom max_score=%r", custom[CUSTOM_MAX_SCORE])


def _apply_deadlines(assignment: Assignment, custom: dict) -> None:
    for name in ("due_at", "cutoff_at"):
        moment = parse_iso(custom.get(name))
        if moment is not None:
            setattr(assignment, name, moment)
    if assignment.due_at is not None:
        assignment.due_source = DueSource.TOOL  # the instructor's choice, kept over the LMS's
    if custom.get("max_attempts") not in (None, ""):
        assignment.max_attempts = _int_or_none("max_attempts", custom["max_attempts"])


def upsert_assignment(course: Course, claims: dict) -> Assignment | None:
    """Create or update the resource link's assignment with its AGS endpoints and settings.

    The line item's due date is not in the claim; the grading feature reads it from AGS.
    """
    link = claims.get(c.RESOURCE_LINK) or {}
    if not isinstance(link, dict) or not link.get("id"):
        return None
    db.session.flush()
    assignment, _ = get_or_create(Assignment, {"course_id": course.id,
                                               "resource_link_id": str(link["id"])})
    if link.get("title"):
        assignment.title = str(link["title"])[:512]
    elif assignment.title is None:
        assignment.title = "Video assignment"
    ags = claims.get(c.AGS_ENDPOINT)
    if isinstance(ags, dict):
        # Moodle sends `lineitem` only while one line item is bound to the link.
        assignment.lineitem_url = ags.get("lineitem") or assignment.lineitem_url
        assignment.lineitems_url = ags.get("lineitems") or assignment.lineitems_url
        assignment.ags_scopes = list(ags.get("scope") or [])
    custom = claims.get(c.CUSTOM)
    if isinstance(custom, dict) and custom:
        apply_custom(assignment, custom)
    # The LMS's own description of the activity stands in for instructions set here.
    description = link.get("description")
    if not (isinstance(custom, dict) and custom.get("instructions")) and \
            isinstance(description, str) and description.strip():
        assignment.instructions = description.strip()
    return assignment


def provision(launch_id: str, platform: Platform, deployment: Deployment,
              claims: dict) -> LaunchRecord:
    """Create or update every row the launch implies, and the LaunchRecord (not committed)."""
    role = map_roles(claims.get(c.ROLES))
    user = upsert_user(platform, claims)
    course = upsert_course(platform, deployment, claims)
    assignment = None
    if course is not None:
        upsert_enrollment(course, user, role, claims)
        assignment = upsert_assignment(course, claims)
    db.session.flush()
    record = LaunchRecord(
        id=launch_id, user=user, platform=platform, course=course, assignment=assignment,
        role=role, message_type=claims[c.MESSAGE_TYPE], claims=claims,
        expires_at=utcnow() + timedelta(seconds=current_app.config["LTI_LAUNCH_TTL_SECONDS"]))
    db.session.add(record)
    db.session.flush()
    audit.record(EventType.LAUNCH, actor=user, platform_id=platform.id,
                 course_id=course.id if course else None, target=assignment,
                 message_type=record.message_type, role=str(role),
                 deployment_id=deployment.deployment_id)
    return record
