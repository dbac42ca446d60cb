"""Operator-granted administrators: grant, revoke and list them (the `admins` CLI)."""
from __future__ import annotations

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import User


def set_granted(user: User, granted: bool) -> bool:
    """Grant or revoke the admin area to a user (audited); return whether it changed."""
    if user.admin_granted == granted:
        return False
    user.admin_granted = granted
    audit.record(EventType.ADMIN_GRANTED if granted else EventType.ADMIN_REVOKED,
                 platform_id=user.platform_id, target=user, how="cli")
    return True


def granted_admins(platform_id: int | None = None) -> list[User]:
    """Return the operator-granted admins, of one platform or all."""
    query = db.select(User).filter_by(admin_granted=True).order_by(User.platform_id, User.id)
    if platform_id is not None:
        query = query.filter_by(platform_id=platform_id)
    return list(db.session.scalars(query))
