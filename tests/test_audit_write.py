"""audit.write (the hot paths' Core insert) stores exactly what audit.record stores."""
from __future__ import annotations

import pytest

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent
from tests.factories import make_assignment, make_course, make_platform, make_user

pytestmark = pytest.mark.postgres  # an insert through Core: must hold on PostgreSQL too

COLUMNS = ("event_type", "actor_id", "platform_id", "course_id", "target_type", "target_id",
           "data", "ip")


def _row(event: AuditEvent) -> tuple:
    return tuple(getattr(event, name) for name in COLUMNS)


def test_write_stores_what_record_stores_and_commits(app):
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        platform = make_platform()
        course = make_course(platform)
        assignment = make_assignment(course)
        viewer = make_user(platform, course)
        db.session.commit()
        audit.record(EventType.PLAYBACK_GRANTED, actor=viewer, target=assignment,
                     course_id=course.id, commit=True, backend="local", ttl_seconds=60)
        audit.write(EventType.PLAYBACK_GRANTED, actor=viewer, target=assignment,
                    course_id=course.id, backend="local", ttl_seconds=60)
        db.session.rollback()  # what write wrote is committed, not merely pending
        recorded, written = db.session.scalars(
            db.select(AuditEvent).order_by(AuditEvent.id)).all()
        assert _row(written) == _row(recorded)
        assert _row(written) == ("playback_granted", viewer.id, platform.id, course.id,
                                 "assignment", str(assignment.id),
                                 {"backend": "local", "ttl_seconds": 60}, "203.0.113.9")
        assert written.at is not None and written.at >= recorded.at
