"""The student's side of an assignment: the assignment page and their submission area."""
from __future__ import annotations

from flask import Blueprint, render_template

from .auth import current_launch, require_launch
from .errors import NotFound

bp = Blueprint("student", __name__)


@bp.get("/assignment")
@require_launch()
def assignment():
    """Show the launched assignment and the student's submission area."""
    launch = current_launch()
    if launch.assignment is None:
        raise NotFound("This launch is not tied to an assignment.")
    return render_template("student/assignment.html", launch=launch,
                           assignment=launch.assignment)
