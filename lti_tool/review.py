"""The instructor's side of an assignment: the list of submissions to review and grade."""
from __future__ import annotations

from flask import Blueprint, render_template

from .auth import current_launch, require_launch
from .errors import NotFound
from .states import STAFF_ROLES

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/assignment")
@require_launch(STAFF_ROLES)
def assignment():
    """Show the launched assignment's submissions to its instructors and TAs."""
    launch = current_launch()
    if launch.assignment is None:
        raise NotFound("This launch is not tied to an assignment.")
    return render_template("review/assignment.html", launch=launch,
                           assignment=launch.assignment)
