"""What the demo home page shows: each course's people, activities and gradebook."""
from __future__ import annotations

from dataclasses import dataclass, field

from lti_tool.extensions import db

from . import urls
from .ags import latest_score
from .launches import lineitems_of_link, links_of
from .models import DemoCourse, DemoLineItem, DemoScore, DemoTool, DemoUser
from .vocab import CourseRole

RECENT_SCORES = 10


@dataclass
class GradebookColumn:
    """One line item and, per student, the score on record (or None)."""

    lineitem: DemoLineItem
    rows: list[tuple[DemoUser, DemoScore | None]]
    ignored: int  # scores ignored because their timestamp was older


@dataclass
class CourseOverview:
    course: DemoCourse
    students: list[DemoUser]
    teachers: list[DemoUser]
    tas: list[DemoUser]
    activities: list[tuple] = field(default_factory=list)  # (link, [line items])
    columns: list[GradebookColumn] = field(default_factory=list)
    recent: list[DemoScore] = field(default_factory=list)


def course_overviews(tool: DemoTool) -> list[CourseOverview]:
    """Return every demo course with its people, the tool's activities and the gradebook."""
    overviews = []
    for course in db.session.scalars(db.select(DemoCourse).order_by(DemoCourse.id)):
        active = [e for e in course.enrollments if e.active]
        by_role = {role: [e.user for e in active if e.role == role] for role in CourseRole}
        overview = CourseOverview(course, by_role[CourseRole.STUDENT],
                                  by_role[CourseRole.TEACHER], by_role[CourseRole.TA])
        overview.activities = [(link, lineitems_of_link(link)) for link in links_of(course, tool)]
        items = db.session.scalars(db.select(DemoLineItem).filter_by(
            course_id=course.id, tool_id=tool.id).order_by(DemoLineItem.id))
        for item in items:
            rows = [(student, latest_score(item, student)) for student in overview.students]
            ignored = db.session.scalar(db.select(db.func.count(DemoScore.id)).filter_by(
                lineitem_id=item.id, applied=False))
            overview.columns.append(GradebookColumn(item, rows, ignored))
        overview.recent = list(db.session.scalars(
            db.select(DemoScore).join(DemoLineItem).filter(
                DemoLineItem.course_id == course.id, DemoLineItem.tool_id == tool.id)
            .order_by(DemoScore.id.desc()).limit(RECENT_SCORES)))
        overviews.append(overview)
    return overviews


def site_admins() -> list[DemoUser]:
    """Return the demo site administrators."""
    return list(db.session.scalars(db.select(DemoUser).filter_by(is_site_admin=True)))


def registration_summary(tool: DemoTool) -> list[tuple[str, str]]:
    """Return the values an LMS admin would copy into the tool (never a private key)."""
    return [
        ("Issuer (platform ID)", tool.issuer),
        ("Client ID", tool.client_id),
        ("Deployment ID", tool.deployment_id),
        ("Authorization endpoint", urls.auth_url(tool.issuer)),
        ("Access token URL", urls.token_url(tool.issuer)),
        ("Public keyset URL", urls.jwks_url(tool.issuer)),
        ("Tool login URL", tool.login_url),
        ("Tool redirect URI", ", ".join(tool.redirect_uris)),
        ("Tool public keyset URL", tool.jwks_uri),
    ]
