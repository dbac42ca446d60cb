"""People (GDPR): find a user of the platform, see what the tool holds about them, download
it as one JSON document, and erase it, videos in storage included (every step audited).

Erasing is for administrators a site operator granted, as on the platforms page; the
others read the command that does it (`flask --app wsgi privacy delete`).
"""
from __future__ import annotations

from flask import flash, redirect, request
from lti_tool.access.launches import launch_url_for
from lti_tool.admin.access import current_admin, require_admin, require_operator
from lti_tool.admin.pages import render_admin
from lti_tool.admin.people_search import PeopleFilters, search_people
from lti_tool.errors import Conflict, NotFound, ToolError
from lti_tool.extensions import db
from lti_tool.models import User
from lti_tool.privacy.erase import erase_user
from lti_tool.privacy.export import build_export, export_user, summarize
from lti_tool.privacy.requests import deletion_requested_at, pending_deletion_requests
from lti_tool.privacy.views import export_response

CONFIRM = "erase"  # what the confirmation box must hold
MAX_REF_CHARS = 100


def platform_user(platform_id: int, user_id: int) -> User:
    """Return a user of the admin's platform (404 for any other)."""
    user = db.session.get(User, user_id)
    if user is None or user.platform_id != platform_id:
        raise NotFound("The tool holds nothing about this person on your platform.",
                       code="user_not_found")
    return user


@require_admin
def people():
    """List (or find) people of the platform, and the erasure requests waiting."""
    admin = current_admin()
    filters = PeopleFilters.from_args(request.args)
    return render_admin("admin/people.html", filters=filters,
                        page=search_people(admin.platform_id, filters),
                        requests=pending_deletion_requests(admin.platform_id))


@require_admin
def person(user_id: int):
    """Show what the tool holds about one person, with its download and erasure."""
    admin = current_admin()
    user = platform_user(admin.platform_id, user_id)
    return render_admin("admin/person.html", person=user,
                        counts=summarize(build_export(user)),
                        requested_at=deletion_requested_at(user), confirm=CONFIRM)


@require_admin
def export(user_id: int):
    """Download everything held about the person as one JSON document (audited)."""
    admin = current_admin()
    document = export_user(platform_user(admin.platform_id, user_id), actor=admin.user)
    db.session.commit()
    return export_response(document)


@require_operator
def erase(user_id: int):
    """Erase everything held about the person, their videos in storage first (audited)."""
    admin = current_admin()
    user = platform_user(admin.platform_id, user_id)
    if user.id == admin.user.id:
        raise Conflict("You cannot erase yourself from here: your own launch would go with "
                       "your data. Ask another administrator, or use `flask --app wsgi "
                       "privacy delete`.", code="erase_self")
    if (request.form.get("confirm") or "").strip().lower() != CONFIRM:
        raise ToolError(f"Type “{CONFIRM}” in the box to confirm the erasure.",
                        code="not_confirmed")
    ref = (request.form.get("request_ref") or "").strip()[:MAX_REF_CHARS] or None
    counts = erase_user(user, actor=admin.user, request_ref=ref)  # commits; audited
    videos = counts.get("videos_deleted_from_storage", 0)
    flash(f"Erased: {videos} videos deleted from the storage, and everything else the tool "
          "held about the person.", "success")
    return redirect(launch_url_for("admin.people"), code=303)
