"""Names and Role Provisioning Services 2.0, platform side: a course's membership container.

Paging as NRPS 2.0 section 2.4.2 says: with `limit`, the answer carries a `Link` header
with rel="next" while members remain (Moodle pages with `limit` and `from` too).
"""
from __future__ import annotations

from lti_tool.extensions import db

from .models import DemoCourse, DemoEnrollment
from .paging import page_of
from .vocab import COURSE_ROLE_URIS, NRPS_STATUS_ACTIVE, NRPS_STATUS_INACTIVE

ROLE_PARAM = "role"


def memberships(course: DemoCourse, url: str, args) -> tuple[dict, str | None]:
    """Return the membership container page and the URL of the next page (or None)."""
    enrollments = db.session.scalars(db.select(DemoEnrollment).filter_by(
        course_id=course.id).order_by(DemoEnrollment.id))
    members = [_member(e) for e in enrollments]
    role = args.get(ROLE_PARAM)
    if role:
        members = [m for m in members
                   if any(r == role or r.endswith(f"#{role}") for r in m["roles"])]
    page, next_url = page_of(members, args, url)
    container = {"id": url,
                 "context": {"id": str(course.id), "label": course.label, "title": course.title},
                 "members": page}
    return container, next_url


def _member(enrollment: DemoEnrollment) -> dict:
    user = enrollment.user
    return {"status": NRPS_STATUS_ACTIVE if enrollment.active else NRPS_STATUS_INACTIVE,
            "user_id": user.sub, "name": user.name, "given_name": user.given_name,
            "family_name": user.family_name, "email": user.email,
            "roles": list(COURSE_ROLE_URIS[enrollment.role])}
