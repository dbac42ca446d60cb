"""Whose data a privacy page shows, and people's requests to erase their data.

A deletion request is recorded as an audit entry (`user_data_deletion_requested`, the
person as its target); it is pending while the person's data is still held, and an
administrator acts on it (`flask --app wsgi privacy requests`, then `privacy delete`).
"""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import String, cast, select

from lti_tool import audit
from lti_tool.access.roles import Role
from lti_tool.errors import Forbidden
from lti_tool.extensions import db
from lti_tool.lti import claims as c
from lti_tool.models import AuditEvent, LaunchRecord, User

TARGET_USER = User.__tablename__


def for_user_sub(claims: dict) -> str | None:
    """Return the LMS id of the person a launch is about (`for_user`), if it names one.

    The submission review spec names it `user_id`; the data privacy draft's examples `id`.
    """
    for_user = claims.get(c.FOR_USER)
    if not isinstance(for_user, dict):
        return None
    value = for_user.get("user_id") or for_user.get("id")
    return str(value) if value not in (None, "") else None


def is_platform_admin(launch: LaunchRecord) -> bool:
    """Tell whether the launching user administers the LMS (role, or granted by an operator)."""
    user = launch.user
    return launch.role == Role.ADMIN or user.is_platform_admin or user.admin_granted


def privacy_subject(launch: LaunchRecord) -> User | None:
    """Return whose data this launch may see: the launching user's own, or, in a data
    privacy launch by an administrator, the person in `for_user` (None when the tool
    holds nothing about them). Raise Forbidden for anyone else asking about another."""
    sub = for_user_sub(launch.claims) if launch.message_type in c.DATA_PRIVACY_REQUESTS \
        else None
    if sub is None or sub == launch.user.sub:
        return launch.user
    if not is_platform_admin(launch):
        raise Forbidden("Only an administrator of the LMS may see another person's data.")
    return db.session.scalar(select(User).filter_by(platform_id=launch.platform_id, sub=sub))


class DeletionRequest(NamedTuple):
    requested_at: datetime
    user: User
    by_self: bool


def _requests_query(platform_id: int | None = None):
    query = (select(AuditEvent, User)
             .join(User, cast(User.id, String) == AuditEvent.target_id)
             .where(AuditEvent.event_type == audit.EventType.USER_DATA_DELETION_REQUESTED,
                    AuditEvent.target_type == TARGET_USER)
             .order_by(AuditEvent.at))
    if platform_id is not None:
        query = query.where(User.platform_id == platform_id)
    return query


def pending_deletion_requests(platform_id: int | None = None) -> list[DeletionRequest]:
    """Return the erasure requests whose person's data is still held, oldest first."""
    seen: dict[int, DeletionRequest] = {}
    for event, user in db.session.execute(_requests_query(platform_id)):
        if user.id not in seen:
            seen[user.id] = DeletionRequest(event.at, user, event.actor_id == user.id)
    return list(seen.values())


def deletion_requested_at(user: User) -> datetime | None:
    """Return when an erasure of this user's data was first asked for, if it was."""
    for request in pending_deletion_requests(user.platform_id):
        if request.user.id == user.id:
            return request.requested_at
    return None


def request_deletion(subject: User, requested_by: User) -> bool:
    """Record a request to erase the subject's data (audited; the caller commits).

    Return False when one is already pending: asking twice records nothing new.
    """
    if deletion_requested_at(subject) is not None:
        return False
    audit.record(audit.EventType.USER_DATA_DELETION_REQUESTED, actor=requested_by,
                 platform_id=subject.platform_id, target=subject)
    return True
