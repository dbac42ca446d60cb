"""The settings page: site-wide settings and the video storage, changed by operator-granted
admins only; "Test connection" checks the storage the form describes without saving it."""
from __future__ import annotations

from flask import flash, redirect, request

from lti_tool.access.launches import launch_url_for
from lti_tool.admin.access import current_admin, require_admin, require_operator
from lti_tool.admin.pages import render_admin
from lti_tool.admin.site_settings import ON, SETTINGS, current_values, save
from lti_tool.admin.storage_settings import (BACKEND_LABELS, STORAGE_SETTINGS,
                                             test_connection)
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.uploads.limits import KNOWN_FORMATS
from lti_tool.web.urls import base_url, origin_of

ALL_SETTINGS = SETTINGS + STORAGE_SETTINGS


def _page(error: str | None = None, status: int = 200, test=None, form=None):
    values = current_values(ALL_SETTINGS)
    if form is not None:  # after a test, the form as it was sent; secrets never sent back
        for s in ALL_SETTINGS:
            if s.kind == "checkbox":
                values[s.name] = form.get(s.name) == ON
            elif s.kind == "formats":
                values[s.name] = form.getlist(s.name)
            elif not s.secret:
                values[s.name] = form.get(s.name, "")
    return render_admin("admin/settings.html", settings=SETTINGS, storage=STORAGE_SETTINGS,
                        backends=BACKEND_LABELS, values=values, formats=KNOWN_FORMATS,
                        can_edit=current_admin().is_operator, error=error, test=test), status


@require_admin
def settings():
    """Show the site settings (editable by operator-granted admins)."""
    return _page()


@require_operator
def save_settings():
    """Store the settings that changed (audited); a bad field refuses the whole form."""
    try:
        changed = save(request.form, current_admin().user, ALL_SETTINGS)
    except ToolError as err:
        db.session.rollback()
        return _page(err.message, err.http_status)
    db.session.commit()
    flash(f"Saved: {', '.join(changed)}." if changed else "Nothing changed.", "success")
    return redirect(launch_url_for("admin.settings"), code=303)


@require_operator
def test_storage():
    """Check the storage settings in the form against the provider (nothing is saved)."""
    try:
        name, checks = test_connection(request.form, origin_of(base_url()),
                                       current_admin().user)
    except ToolError as err:
        db.session.rollback()
        return _page(err.message, err.http_status, form=request.form)
    db.session.commit()
    return _page(test={"backend": BACKEND_LABELS[name], "checks": checks}, form=request.form)
