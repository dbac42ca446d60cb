"""Render an admin page: every one gets the admin, the navigation and its own context."""
from __future__ import annotations

from flask import current_app, render_template

from lti_tool.admin.access import current_admin
from lti_tool.admin.constants import ADMIN_PAGES


def render_admin(template: str, **context):
    """Render an admin page with the admin, the navigation and the page's context."""
    pages = [(endpoint, label) for endpoint, label in ADMIN_PAGES
             if endpoint in current_app.view_functions]
    return render_template(template, admin=current_admin(), admin_pages=pages, **context)
