"""The student's side of an assignment: the assignment page with the uploader."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

from lti_tool.uploads import attempts as uploads
from lti_tool.access.launches import current_launch, require_launch
from lti_tool.errors import NotFound
from lti_tool.storage import current_storage

bp = Blueprint("student", __name__)


@bp.get("/assignment")
@require_launch()
def assignment():
    """Show the launched assignment, its limits, the uploader and the attempts so far."""
    launch = current_launch()
    if launch.assignment is None:
        raise NotFound("This launch is not tied to an assignment.")
    state = uploads.submission_state(launch)
    page = {
        "launch_id": launch.id, "user_id": launch.user_id,
        "assignment_id": launch.assignment_id, "role": launch.role,
        "upload_method": uploads.upload_method(current_storage()),
        "chunk_size": current_app.config.get("UPLOAD_CHUNK_BYTES") or None,
        "urls": {"uploads": url_for("uploads.state"),
                 "videos": url_for("playback.status", video_id=0).rsplit("/0/", 1)[0],
                 "tus": url_for("tus.create", _external=True)},
        "state": state,
    }
    return render_template("student/assignment.html", launch=launch,
                           assignment=launch.assignment, state=state, page=page,
                           human_size=uploads.human_size)
