"""Who gets into the admin area, and the platform every admin page is scoped to.

An administrator is a user an LMS launch named institution or system Administrator
(User.is_platform_admin), or one an operator granted with `flask --app wsgi admins add`
(User.admin_granted). They administer their own platform (one LMS registration) only: every
query of the admin area filters on `current_admin().platform_id`. Adding and removing
platforms changes the whole site, so it is for operator-granted admins only.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Callable

from flask import g

from lti_tool.access.launches import current_launch, require_launch
from lti_tool.access.permissions import is_admin
from lti_tool.errors import Forbidden
from lti_tool.models import LaunchRecord, Platform, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdminContext:
    """The administrator behind a request and the platform their pages show."""

    launch: LaunchRecord
    user: User
    platform: Platform

    @property
    def platform_id(self) -> int:
        return self.platform.id

    @property
    def is_operator(self) -> bool:
        """Tell whether a site operator granted this admin (may add or remove platforms)."""
        return bool(self.user.admin_granted)


def current_admin() -> AdminContext:
    """Return the administrator require_admin let in."""
    return g.admin


def require_admin(view: Callable) -> Callable:
    """Refuse a view unless a live launch's user administers their platform."""
    @require_launch()
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        launch = current_launch()
        if not is_admin(launch.user):
            log.info("admin page %s refused to user %s", view.__name__, launch.user_id)
            raise Forbidden("Only administrators of your LMS may open the tool's "
                            "administration pages.", code="not_admin")
        g.admin = AdminContext(launch, launch.user, launch.platform)
        return view(*args, **kwargs)
    return wrapper


def require_operator(view: Callable) -> Callable:
    """Refuse a view unless its administrator was granted by a site operator."""
    @require_admin
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_admin().is_operator:
            raise Forbidden("Only administrators a site operator granted (`flask --app wsgi "
                            "admins add`) may do this: it changes the whole site, or erases "
                            "data for good.", code="not_operator")
        return view(*args, **kwargs)
    return wrapper
