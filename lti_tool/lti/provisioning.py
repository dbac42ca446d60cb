"""Turn a validated launch into our rows: user, course, enrollment, assignment, LaunchRecord.

A class launches again and again through a term: a repeat launch finds its user, course,
assignment and enrollment with one query and writes only what changed (usually nothing),
then adds the LaunchRecord and its audit event.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, insert, select

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.database import get_or_create
from lti_tool.extensions import db
from lti_tool.housekeeping import CUSTOM_RETENTION_DAYS
from lti_tool.lti import claims as c
from lti_tool.lti.ags import parse_iso
from lti_tool.lti.roles import is_platform_admin, map_roles
from lti_tool.lti.registry import CachedDeployment, CachedPlatform
from lti_tool.models import Assignment, Course, Enrollment, LaunchRecord, User, utcnow
from lti_tool.statuses import DueSource

log = logging.getLogger(__name__)

# Custom parameters our deep linking puts on the link (Deep Linking 2.0, 3.4.1 `custom`).
CUSTOM_INT_FIELDS = ("max_file_bytes", "max_duration_seconds")
CUSTOM_TEXT_FIELDS = ("allowed_formats", "instructions")
CUSTOM_MAX_SCORE = "max_score"
# `last_seen_at` moves on only when it is older than this: otherwise every launch would
# rewrite the user's row.
LAST_SEEN_GRANULARITY = timedelta(minutes=15)


def assign(row, field: str, value: Any) -> None:
    """Set a column only when the value differs, so an unchanged row is not written."""
    if getattr(row, field) != value:
        setattr(row, field, value)


def upsert_user(platform: CachedPlatform, claims: dict, user: User | None = None) -> User:
    """Create or update the launching user; name and email only when sent (Moodle may not)."""
    if user is None:
        user, _ = get_or_create(User, {"platform_id": platform.id, "sub": str(claims["sub"])})
    for field in ("name", "given_name", "family_name", "email", "picture"):
        value = claims.get(field)
        if isinstance(value, str) and value.strip():
            assign(user, field, value.strip()[:320 if field == "email" else 255])
    assign(user, "is_platform_admin", is_platform_admin(claims.get(c.ROLES)))
    now = utcnow()
    if user.last_seen_at is None or now - user.last_seen_at >= LAST_SEEN_GRANULARITY:
        user.last_seen_at = now
    return user


def upsert_course(platform: CachedPlatform, deployment: CachedDeployment, claims: dict,
                  course: Course | None = None) -> Course | None:
    """Create or update the launch's context, with the roster URL when NRPS is offered."""
    context = claims.get(c.CONTEXT) or {}
    if not isinstance(context, dict) or not context.get("id"):
        return None
    if course is None:
        course, _ = get_or_create(Course, {"platform_id": platform.id,
                                           "context_id": str(context["id"])})
    assign(course, "deployment_id", deployment.id)
    if context.get("title"):
        assign(course, "title", str(context["title"])[:512])
    if context.get("label"):
        assign(course, "label", str(context["label"])[:255])
    nrps = claims.get(c.NRPS) or {}
    if isinstance(nrps, dict) and nrps.get("context_memberships_url"):
        assign(course, "memberships_url", nrps["context_memberships_url"])
    return course


def upsert_enrollment(course: Course, user: User, role: str, claims: dict,
                      enrollment: Enrollment | None = None) -> Enrollment:
    """Record the user's role in the course as this launch states it."""
    if enrollment is None:
        db.session.flush()
        enrollment, _ = get_or_create(Enrollment, {"course_id": course.id, "user_id": user.id})
    assign(enrollment, "role", role)
    assign(enrollment, "lti_roles", list(claims.get(c.ROLES) or []))
    assign(enrollment, "source", "launch")
    assign(enrollment, "active", True)
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

    The deadlines (due date, cut-off, attempts) and whether sound-only submissions are
    accepted are taken on the first launch only: after that the instructor changes them on
    the tool's settings page, which a later launch
    carrying the same custom parameters must not undo.
    """
    first = assignment.custom is None
    assign(assignment, "custom", dict(custom))
    if first:
        _apply_deadlines(assignment, custom)
    _apply_lms_due_date(assignment, custom)
    for name in CUSTOM_INT_FIELDS:
        if custom.get(name) not in (None, ""):
            assign(assignment, name, _int_or_none(name, custom[name]))
    if str(custom.get(CUSTOM_RETENTION_DAYS, "")).strip().isdigit():  # 0: for ever
        assign(assignment, "retention_days", int(str(custom[CUSTOM_RETENTION_DAYS]).strip()))
    for name in CUSTOM_TEXT_FIELDS:
        if isinstance(custom.get(name), str) and custom[name].strip():
            assign(assignment, name, custom[name].strip())
    if custom.get(CUSTOM_MAX_SCORE) not in (None, ""):
        try:
            assign(assignment, "max_score", float(custom[CUSTOM_MAX_SCORE]))
        except (TypeError, ValueError):
            log.warning("ignoring custom max_score=%r", custom[CUSTOM_MAX_SCORE])


def _apply_deadlines(assignment: Assignment, custom: dict) -> None:
    for name in ("due_at", "cutoff_at"):
        moment = parse_iso(custom.get(name))
        if moment is not None:
            assign(assignment, name, moment)
    if assignment.due_at is not None:
        assign(assignment, "due_source", DueSource.TOOL)  # the instructor's, over the LMS's
    if custom.get("max_attempts") not in (None, ""):
        assign(assignment, "max_attempts", _int_or_none("max_attempts", custom["max_attempts"]))
    if str(custom.get(c.CUSTOM_ACCEPTS_AUDIO, "")).strip() == "1":
        assign(assignment, "accepts_audio", True)


def _apply_lms_due_date(assignment: Assignment, custom: dict) -> None:
    """Take the LMS assignment's due date (Canvas's $Canvas.assignment.dueAt.iso8601) when
    the instructor set none in the tool; an unreplaced variable or a blank is no date."""
    if assignment.due_source == DueSource.TOOL:
        return
    moment = parse_iso(custom.get(c.CUSTOM_LMS_DUE_AT))
    if moment is not None:
        assign(assignment, "due_at", moment)
        assign(assignment, "due_source", DueSource.LMS_ASSIGNMENT)


def upsert_assignment(course: Course, claims: dict,
                      assignment: Assignment | None = None) -> Assignment | None:
    """Create or update the resource link's assignment with its AGS endpoints and settings.

    The line item's due date is not in the claim; the grading feature reads it from AGS.
    """
    link = claims.get(c.RESOURCE_LINK) or {}
    if not isinstance(link, dict) or not link.get("id"):
        return None
    if assignment is None:
        db.session.flush()
        assignment, _ = get_or_create(Assignment, {"course_id": course.id,
                                                   "resource_link_id": str(link["id"])})
    if link.get("title"):
        assign(assignment, "title", str(link["title"])[:512])
    elif assignment.title is None:
        assignment.title = "Video assignment"
    ags = claims.get(c.AGS_ENDPOINT)
    if isinstance(ags, dict):
        # Moodle sends `lineitem` only while one line item is bound to the link.
        assign(assignment, "lineitem_url", ags.get("lineitem") or assignment.lineitem_url)
        assign(assignment, "lineitems_url", ags.get("lineitems") or assignment.lineitems_url)
        assign(assignment, "ags_scopes", list(ags.get("scope") or []))
    custom = claims.get(c.CUSTOM)
    if isinstance(custom, dict) and custom:
        apply_custom(assignment, custom)
    # The LMS's own description of the activity stands in for instructions set here.
    description = link.get("description")
    if not (isinstance(custom, dict) and custom.get("instructions")) and \
            isinstance(description, str) and description.strip():
        assign(assignment, "instructions", description.strip())
    return assignment


def _existing_rows(platform: CachedPlatform, claims: dict) -> tuple:
    """Return (user, course, assignment, enrollment) the launch names, each None if new.

    One query: the user, outer-joined to the course, its resource link's assignment and
    the user's enrollment in it.
    """
    context = claims.get(c.CONTEXT)
    context_id = str(context["id"]) if isinstance(context, dict) and context.get("id") else None
    link = claims.get(c.RESOURCE_LINK)
    link_id = str(link["id"]) if isinstance(link, dict) and link.get("id") else None
    user_is = and_(User.platform_id == platform.id, User.sub == str(claims["sub"]))
    if context_id is None:  # an administrator's launch outside any course
        return db.session.scalar(select(User).where(user_is)), None, None, None
    if link_id is None:  # no resource link: "IS NULL", which a bound value cannot say
        statement = _existing_rows_query(Assignment.resource_link_id.is_(None))
    else:
        statement = _EXISTING_ROWS
    values = {"platform_id": platform.id, "sub": str(claims["sub"]), "context_id": context_id}
    if link_id is not None:
        values["link_id"] = link_id
    row = db.session.execute(statement, values).first()
    return tuple(row) if row is not None else (None, None, None, None)


def _existing_rows_query(link_is):
    return (select(User, Course, Assignment, Enrollment)
            .outerjoin(Course, and_(Course.platform_id == User.platform_id,
                                    Course.context_id == bindparam("context_id")))
            .outerjoin(Assignment, and_(Assignment.course_id == Course.id, link_is))
            .outerjoin(Enrollment, and_(Enrollment.course_id == Course.id,
                                        Enrollment.user_id == User.id))
            .where(User.platform_id == bindparam("platform_id"),
                   User.sub == bindparam("sub")))


# One statement object for every launch: its cache key is worked out once, not per launch
# (building it was a third of provisioning's CPU; bench/profile_launch.py).
_EXISTING_ROWS = _existing_rows_query(Assignment.resource_link_id == bindparam("link_id"))


def provision(launch_id: str, platform: CachedPlatform, deployment: CachedDeployment,
              claims: dict) -> LaunchRecord:
    """Create or update every row the launch implies, and the LaunchRecord (not committed)."""
    role = map_roles(claims.get(c.ROLES))
    user, course, assignment, enrollment = _existing_rows(platform, claims)
    user = upsert_user(platform, claims, user)
    course = upsert_course(platform, deployment, claims, course)
    if course is not None:
        upsert_enrollment(course, user, role, claims, enrollment)
        assignment = upsert_assignment(course, claims, assignment)
    else:
        assignment = None
    if db.session.new:  # a first launch: the new user, course or assignment need their ids
        db.session.flush()
    now = utcnow()
    values = {"id": launch_id, "user_id": user.id, "platform_id": platform.id,
              "course_id": course.id if course else None,
              "assignment_id": assignment.id if assignment else None, "role": str(role),
              "message_type": claims[c.MESSAGE_TYPE], "claims": claims, "created_at": now,
              "expires_at": now + timedelta(
                  seconds=current_app.config["LTI_LAUNCH_TTL_SECONDS"])}
    # The launch row and its audit event: two prebuilt Core inserts in the launch's
    # transaction, committed by the view, instead of two ORM objects for the unit of work
    # to sort, flush and expire (a fifth of the id_token POST's CPU, bench/README.md round
    # 4). Any rows provisioning changed are flushed by that same commit.
    db.session.connection().execute(_INSERT_LAUNCH, values)
    audit.insert_event(EventType.LAUNCH, actor=user, platform_id=platform.id,
                       course_id=values["course_id"], target=assignment,
                       message_type=values["message_type"], role=str(role),
                       deployment_id=deployment.deployment_id)
    # What the view reads of the launch (its landing URL, the session's login): a copy
    # outside the session, with the rows it names; the database row is the one inserted.
    record = LaunchRecord(**values)
    record.user, record.course, record.assignment = user, course, assignment
    return record


_INSERT_LAUNCH = insert(LaunchRecord.__table__)
