"""The platforms page: the admin's registration, its deployments and policy, the tool's
keys; adding and removing registrations for operator-granted admins."""
from __future__ import annotations

from flask import flash, redirect, request

from lti_tool.access.launches import launch_url_for
from lti_tool.admin.access import current_admin, require_admin, require_operator
from lti_tool.admin.pages import render_admin
from lti_tool.admin.platform_admin import PlatformFilters, set_policy, site_platforms
from lti_tool.errors import NotFound, ToolError
from lti_tool.extensions import db
from lti_tool.lti.keys import key_states
from lti_tool.lti.platforms import add_platform, holdings, remove_platform
from lti_tool.lti.urls import tool_urls
from lti_tool.models import Platform
from lti_tool.statuses import DeploymentPolicy

# The add form's fields, in order: (name, label, input type).
ADD_FIELDS = (("name", "Name for people", "text"),
              ("issuer", "Issuer (Moodle: the site's URL)", "url"),
              ("client_id", "Client id", "text"),
              ("auth_login_url", "OIDC login (auth) URL", "url"),
              ("auth_token_url", "Token URL", "url"),
              ("key_set_url", "Key set (JWKS) URL", "url"),
              ("deployment_ids", "Deployment ids (comma-separated)", "text"))


def _page(form=None, error: str | None = None, status: int = 200):
    admin = current_admin()
    filters = PlatformFilters.from_args(request.args)
    return render_admin("admin/platforms.html", platform=admin.platform, filters=filters,
                        urls=tool_urls(admin.platform), keys=key_states(),
                        policies=[p.value for p in DeploymentPolicy],
                        registrations=site_platforms(filters) if admin.is_operator else None,
                        add_fields=ADD_FIELDS, form=form or {}, error=error), status


@require_admin
def platforms():
    """Show the admin's registration, its deployments and policy, and the tool's keys."""
    return _page()


@require_admin
def policy():
    """Allow or refuse unknown deployment ids of the admin's own registration."""
    admin = current_admin()
    if set_policy(admin.platform, request.form.get("policy", ""), admin.user):
        flash(f"New deployment ids are now {admin.platform.deployment_policy}ed.", "success")
    db.session.commit()
    return redirect(launch_url_for("admin.platforms"), code=303)


@require_operator
def add():
    """Register an LMS from the form (operator-granted admins only)."""
    form = request.form
    try:
        platform = add_platform(
            issuer=form.get("issuer", ""), client_id=form.get("client_id", ""),
            auth_login_url=form.get("auth_login_url", ""),
            auth_token_url=form.get("auth_token_url", ""),
            key_set_url=form.get("key_set_url", ""), name=form.get("name", ""),
            deployment_ids=form.get("deployment_ids", "").split(","),
            policy=form.get("policy", DeploymentPolicy.REFUSE), how="admin",
            actor=current_admin().user)
    except ToolError as err:
        db.session.rollback()
        return _page(form, err.message, err.http_status)
    db.session.commit()
    flash(f"Registered {platform.issuer} (client id {platform.client_id}) as platform "
          f"{platform.id}.", "success")
    return redirect(launch_url_for("admin.platforms"), code=303)


def _other_platform(platform_id: int) -> Platform:
    platform = db.session.get(Platform, platform_id)
    if platform is None:
        raise NotFound("No such registration.")
    return platform


@require_operator
def confirm_remove(platform_id: int):
    """Count what the registration holds and ask what happens to its videos."""
    platform = _other_platform(platform_id)
    return render_admin("admin/platform_remove.html", target=platform,
                        held=holdings(platform))


@require_operator
def remove(platform_id: int):
    """Remove a registration, keeping its videos in storage or deleting them too."""
    platform = _other_platform(platform_id)
    name = platform.name or platform.issuer
    try:
        report = remove_platform(platform, delete_videos=request.form.get("videos") == "delete",
                                 actor=current_admin().user, how="admin")
    except ToolError:
        db.session.rollback()
        raise
    db.session.commit()
    message = f"Removed {name}."
    if report.deleted_from_storage:
        message += f" {report.deleted_from_storage} videos were deleted from the storage."
    if report.kept_in_storage:
        message += f" {report.kept_in_storage} videos stay in the storage."
    if report.storage_failures:
        message += (f" {len(report.storage_failures)} could not be deleted and stay in the "
                    "storage (see the orphans report).")
    flash(message, "success")
    return redirect(launch_url_for("admin.platforms"), code=303)
