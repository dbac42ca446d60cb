"""Map LTI role URIs to the tool's roles (LTI 1.3 core, appendix A.2 "Role vocabularies").

Context (membership) roles decide the role in the course; institution and system roles only
count when the launch carries no context role. Moodle sends a site admin as Instructor plus
institution and system Administrator: that is an instructor in the course who is also a
platform administrator.
"""
from __future__ import annotations

from typing import Iterable

from lti_tool.access.roles import Role

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
MEMBERSHIP = LIS + "membership#"
MEMBERSHIP_SUB = LIS + "membership/"  # sub-roles: membership/Instructor#TeachingAssistant
INSTITUTION = LIS + "institution/person#"
SYSTEM = LIS + "system/person#"
# LTI 1.1 URNs, still sent by some platforms for compatibility.
URN_CONTEXT = "urn:lti:role:ims/lis/"
URN_INSTITUTION = "urn:lti:instrole:ims/lis/"
URN_SYSTEM = "urn:lti:sysrole:ims/lis/"

# Context roles by precedence: the first that matches decides. A TA comes with the
# principal role Instructor too (A.2.3.1), so the sub-role must win over it.
CONTEXT_ROLE_ORDER: tuple[tuple[str, Role], ...] = (
    ("Administrator", Role.ADMIN),
    ("TeachingAssistant", Role.TA),
    ("Instructor", Role.INSTRUCTOR),
    ("ContentDeveloper", Role.READONLY),
    ("Mentor", Role.READONLY),
    ("Manager", Role.READONLY),
    ("Officer", Role.READONLY),
    ("Learner", Role.LEARNER),
    ("Member", Role.LEARNER),
)

INSTITUTION_ROLE_ORDER: tuple[tuple[str, Role], ...] = (
    ("Administrator", Role.ADMIN),
    ("SysAdmin", Role.ADMIN),
    ("Faculty", Role.INSTRUCTOR),
    ("Instructor", Role.INSTRUCTOR),
    ("Mentor", Role.READONLY),
    ("Observer", Role.READONLY),
    ("Staff", Role.READONLY),
    ("Student", Role.LEARNER),
    ("Learner", Role.LEARNER),
)

ADMIN_NAMES = frozenset({"Administrator", "SysAdmin"})


def _split(uri: str) -> tuple[str, str] | None:
    """Return (kind, name) for one role: kind is 'context', 'institution' or 'system'."""
    uri = uri.strip()
    if uri.startswith(MEMBERSHIP):
        return "context", uri[len(MEMBERSHIP):]
    if uri.startswith(MEMBERSHIP_SUB):
        # membership/Instructor#TeachingAssistant -> the sub-role's name decides.
        return "context", uri.rsplit("#", 1)[-1]
    if uri.startswith(INSTITUTION):
        return "institution", uri[len(INSTITUTION):]
    if uri.startswith(SYSTEM):
        return "system", uri[len(SYSTEM):]
    for prefix, kind in ((URN_CONTEXT, "context"), (URN_INSTITUTION, "institution"),
                         (URN_SYSTEM, "system")):
        if uri.startswith(prefix):
            # urn:lti:role:ims/lis/Instructor/TeachingAssistant -> TeachingAssistant
            return kind, uri[len(prefix):].rsplit("/", 1)[-1]
    if uri and ":" not in uri and "/" not in uri:
        # Simple names ("Instructor") are context roles (A.2.3, deprecated but common).
        return "context", uri
    return None


def _first_match(names: set[str], order) -> Role | None:
    for name, role in order:
        if name in names:
            return role
    return None


def _parse(roles: Iterable[str] | None) -> list[tuple[str, str]]:
    return [p for p in (_split(r) for r in (roles or []) if isinstance(r, str)) if p]


def map_roles(roles: Iterable[str] | None) -> Role:
    """Return the tool role for a launch's roles claim (learner when nothing is known)."""
    parsed = _parse(roles)
    context = {name for kind, name in parsed if kind == "context"}
    role = _first_match(context, CONTEXT_ROLE_ORDER)
    if role is not None:
        return role
    others = {name for kind, name in parsed if kind in ("institution", "system")}
    return _first_match(others, INSTITUTION_ROLE_ORDER) or Role.LEARNER


def is_platform_admin(roles: Iterable[str] | None) -> bool:
    """Tell whether the roles make the user an institution or system administrator."""
    return any(kind in ("institution", "system") and name in ADMIN_NAMES
               for kind, name in _parse(roles))
