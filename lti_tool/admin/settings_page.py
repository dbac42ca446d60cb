"""The settings page: site-wide settings, changed by operator-granted admins only."""
from __future__ import annotations

from flask import flash, redirect, request

from lti_tool.access.launches import launch_url_for
from lti_tool.admin.access import current_admin, require_admin, require_operator
from lti_tool.admin.pages import render_admin
from lti_tool.admin.site_settings import SETTINGS, current_values, save
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.uploads.rules import ACCEPTED_FORMATS


def _page(error: str | None = None, status: int = 200):
    return render_admin("admin/settings.html", settings=SETTINGS, values=current_values(),
                        formats=ACCEPTED_FORMATS, can_edit=current_admin().is_operator,
                        error=error), status


@require_admin
def settings():
    """Show the site settings (editable by operator-granted admins)."""
    return _page()


@require_operator
def save_settings():
    """Store the settings that changed (audited); a bad field refuses the whole form."""
    try:
        changed = save(request.form, current_admin().user)
    except ToolError as err:
        db.session.rollback()
        return _page(err.message, err.http_status)
    db.session.commit()
    flash(f"Saved: {', '.join(changed)}." if changed else "Nothing changed.", "success")
    return redirect(launch_url_for("admin.settings"), code=303)
