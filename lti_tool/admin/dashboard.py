"""The dashboard: uploads, failures, storage, cost, grade passback and jobs at a glance."""
from __future__ import annotations

from lti_tool.admin.access import require_admin
from lti_tool.admin.pages import render_admin


@require_admin
def index():
    """Show the dashboard of the admin's platform."""
    return render_admin("admin/dashboard.html")
