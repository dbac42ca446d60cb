"""Registrations seen from the admin area: the deployment policy and the site's list.
None of it touches `request`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import func, select

from lti_tool import audit
from lti_tool.admin.paging import (ListFilters, Page, arg_choice, arg_desc, arg_page,
                                   order_by_column, page_of)
from lti_tool.audit import EventType
from lti_tool.errors import ToolError
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


# The columns the site's registrations sort by (?sort=...); oldest first unless asked.
SORTS = {"id": Platform.id, "name": func.lower(Platform.name),
         "issuer": func.lower(Platform.issuer), "client_id": Platform.client_id}
DEFAULT_SORT = "id"


@dataclass(frozen=True)
class PlatformFilters(ListFilters):
    """The order and page of the site's registrations."""

    sort: str = DEFAULT_SORT
    desc: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "PlatformFilters":
        """Read the order and page from a query string (a bad one is a 400 naming it)."""
        return cls(sort=arg_choice(args, "sort", tuple(SORTS), DEFAULT_SORT),
                   desc=arg_desc(args, False), page=arg_page(args))


def site_platforms(filters: PlatformFilters) -> Page:
    """Return one page of the site's registrations (for operator-granted admins)."""
    query = select(Platform)
    return page_of(query, order_by_column(query, SORTS[filters.sort], filters.desc,
                                          Platform.id), filters.page)
