"""LTI Names and Role Provisioning Services 2.0: the course roster.

https://www.imsglobal.org/spec/lti-nrps/v2p0 . Members become Users and Enrollments with
source "roster", so the review page lists students who never launched the tool; members
the platform marks Inactive/Deleted, and students no longer on the roster, become inactive.
Pages are followed through Link rel="next" (NRPS 2.0, section 2.4.1).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from lti_tool import audit
from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.lti.ags_values import MEMBER_ACTIVE, SCOPE_NRPS, MediaType
from lti_tool.lti.roles import is_platform_admin, map_roles
from lti_tool.lti.service_token import ServiceRefused, iter_pages
from lti_tool.models import Course, Enrollment, User, utcnow

log = logging.getLogger(__name__)

ROSTER_STALE_AFTER = timedelta(minutes=10)
ROSTER_SOURCE = "roster"
IN_CHUNK = 500  # ids per IN (...) query
PROFILE_FIELDS = ("name", "given_name", "family_name", "email", "picture")


@dataclass
class RosterResult:
    """What one roster sync changed."""

    members: int = 0
    added: int = 0
    updated: int = 0
    deactivated: int = 0


def has_roster(course: Course) -> bool:
    """Tell whether the platform offers NRPS for this course."""
    return bool(course.memberships_url)


def roster_is_stale(course: Course) -> bool:
    """Tell whether the course's roster should be read again."""
    synced = course.roster_synced_at
    return has_roster(course) and (synced is None or utcnow() - synced > ROSTER_STALE_AFTER)


def fetch_members(course: Course) -> list[dict]:
    """Return every member of the course's roster, following the pages."""
    if not has_roster(course):
        raise ServiceRefused("The LMS does not offer the course roster (NRPS) to this tool.")
    members: list[dict] = []
    for page in iter_pages(course.platform, [SCOPE_NRPS], course.memberships_url,
                           accept=MediaType.MEMBERSHIP_CONTAINER):
        found = page.get("members") if isinstance(page, dict) else None
        members.extend(m for m in (found or []) if isinstance(m, dict) and m.get("user_id"))
    return members


def sync_roster(course: Course, actor: User | None = None) -> RosterResult:
    """Read the roster and bring users and enrollments in line with it (caller commits)."""
    members = fetch_members(course)
    result = RosterResult(members=len(members))
    by_sub = {str(m["user_id"]): m for m in members}
    users = _users_by_sub(course.platform_id, list(by_sub))
    enrollments = {e.user_id: e for e in db.session.scalars(
        db.select(Enrollment).filter_by(course_id=course.id))}
    for sub, member in by_sub.items():
        user = users.get(sub)
        if user is None:
            user = users[sub] = User(platform_id=course.platform_id, sub=sub)
            db.session.add(user)
        _apply_profile(user, member)
    db.session.flush()  # one flush gives every new user its id
    seen: set[int] = set()
    for sub, member in by_sub.items():
        user = users[sub]
        seen.add(user.id)
        roles = member.get("roles") or []
        role = map_roles(roles)
        active = (member.get("status") or MEMBER_ACTIVE) == MEMBER_ACTIVE
        enrollment = enrollments.get(user.id)
        if enrollment is None:
            db.session.add(Enrollment(course_id=course.id, user_id=user.id, role=role,
                                      lti_roles=roles, source=ROSTER_SOURCE, active=active))
            result.added += 1
        elif (enrollment.role, enrollment.active, enrollment.lti_roles) != (role, active, roles):
            enrollment.role, enrollment.active, enrollment.lti_roles = role, active, roles
            result.updated += 1
    for user_id, enrollment in enrollments.items():
        if user_id not in seen and enrollment.active and (
                enrollment.source == ROSTER_SOURCE or enrollment.role == Role.LEARNER):
            enrollment.active = False  # left the course
            result.deactivated += 1
    course.roster_synced_at = utcnow()
    audit.record(audit.EventType.ROSTER_SYNCED, actor=actor, platform_id=course.platform_id,
                 course_id=course.id, target=course, members=result.members,
                 added=result.added, updated=result.updated, deactivated=result.deactivated)
    log.info("roster of course %s: %s", course.id, result)
    return result


def _users_by_sub(platform_id: int, subs: list[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for start in range(0, len(subs), IN_CHUNK):
        chunk = subs[start:start + IN_CHUNK]
        for user in db.session.scalars(db.select(User).where(
                User.platform_id == platform_id, User.sub.in_(chunk))):
            found[user.sub] = user
    return found


def _apply_profile(user: User, member: dict) -> None:
    """Take the names and email the platform chose to share (it may share none)."""
    for field in PROFILE_FIELDS:
        value = member.get(field)
        if isinstance(value, str) and value.strip():
            setattr(user, field, value.strip()[:User.__table__.c[field].type.length])
    if user.id is None:
        user.is_platform_admin = is_platform_admin(member.get("roles"))
