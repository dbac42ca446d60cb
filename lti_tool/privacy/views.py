"""The data privacy page: what the tool holds about the person, its download, and a
request to erase it (reached by an LTI Data Privacy Launch, or from any launch)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template

from lti_tool.access.launches import current_launch, launch_url_for, require_launch
from lti_tool.errors import NotFound
from lti_tool.extensions import db
from lti_tool.privacy.export import build_export, export_user, summarize
from lti_tool.privacy.requests import (deletion_requested_at, privacy_subject,
                                       request_deletion)

bp = Blueprint("privacy", __name__, url_prefix="/privacy")

EXPORT_FILENAME = "video-assignments-data.json"


@bp.get("/")
@require_launch()
def page():
    """Show what the tool holds about the person, with the download and erasure request."""
    launch = current_launch()
    subject = privacy_subject(launch)
    if subject is None:
        return render_template("privacy/page.html", launch=launch, subject=None)
    document = build_export(subject)
    return render_template("privacy/page.html", launch=launch, subject=subject,
                           own=subject.id == launch.user_id, profile=document["profile"],
                           submissions=document["submissions"], counts=summarize(document),
                           requested_at=deletion_requested_at(subject))


@bp.get("/export")
@require_launch()
def export():
    """Download everything held about the person as one JSON document (audited)."""
    launch = current_launch()
    subject = privacy_subject(launch)
    if subject is None:
        raise NotFound("The tool holds nothing about this person.", code="user_not_found")
    document = export_user(subject, actor=launch.user)
    db.session.commit()
    return export_response(document)


def export_response(document: dict) -> Response:
    """Answer with an export as a JSON download, kept by no cache."""
    body = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"',
        "Cache-Control": "no-store"})


@bp.post("/deletion-request")
@require_launch()
def deletion_request():
    """Record the person's request to erase their data, for an administrator to act on."""
    launch = current_launch()
    subject = privacy_subject(launch)
    if subject is None:
        raise NotFound("The tool holds nothing about this person.", code="user_not_found")
    if request_deletion(subject, launch.user):
        db.session.commit()
        flash("The request to erase the data was recorded. An administrator will act on it.",
              "success")
    else:
        flash("An erasure of this data was already requested.", "info")
    return redirect(launch_url_for("privacy.page"), code=303)
