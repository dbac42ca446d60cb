"""Registrations seen from the admin area: the deployment policy and the site's list.
None of it touches `request`."""
from __future__ import annotations

from sqlalchemy import select

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.models import Platform, User
from lti_tool.statuses import DeploymentPolicy


def set_policy(platform: Platform, policy: str, actor: User) -> bool:
    """Allow or refuse unknown deployment ids of the platform (audited); return whether it
    changed."""
    if policy not in {p.value for p in DeploymentPolicy}:
        raise ToolError("The policy must be allow or refuse.", code="bad_policy")
    if platform.deployment_policy == policy:
        return False
    platform.deployment_policy = policy
    audit.record(EventType.SETTING_CHANGED, actor=actor, platform_id=platform.id,
                 target=platform, deployment_policy=policy, how="admin")
    return True


def site_platforms() -> list[Platform]:
    """Return every registration of the site (for operator-granted admins)."""
    return list(db.session.scalars(select(Platform).order_by(Platform.id)))
