"""Operator-granted administrators: grant, revoke and list them (the `admins` CLI)."""
from __future__ import annotations

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import NotFound
from lti_tool.extensions import db
from lti_tool.models import Platform, User


def find_user(platform: Platform, who: str) -> User:
    """Return the user of the platform whose LTI `sub` or email is `who`, or raise NotFound."""
    user = db.session.scalar(db.select(User).filter_by(platform_id=platform.id, sub=who))
    if user is None:
        matches = list(db.session.scalars(db.select(User).where(
            User.platform_id == platform.id, db.func.lower(User.email) == who.lower())))
        if len(matches) > 1:
            raise NotFound(f"{len(matches)} users of platform {platform.id} have the email "
                           f"{who}; name one by its LTI sub.")
        user = matches[0] if matches else None
    if user is None:
        raise NotFound(f"Platform {platform.id} has no user with sub or email {who!r}. A user "
                       "exists once they have opened the tool from the LMS.")
    return user


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
