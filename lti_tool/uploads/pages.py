"""The student's side of an assignment: the assignment page with the uploader."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, url_for

from lti_tool.access.launches import assignment_launch, current_role, require_launch
from lti_tool.errors import NotFound
from lti_tool.settings import get_setting
from lti_tool.storage import current_storage
from lti_tool.storage.base import Capability
from lti_tool.uploads.receipts import receipt_for, receipt_text
from lti_tool.grading.service import released_feedback
from lti_tool.uploads.attempts import find_submission
from lti_tool.uploads.deadlines import DUE_SOURCE_WORDS, deadlines_for
from lti_tool.uploads.rules import accepts_sound_only, upload_method
from lti_tool.uploads.status import submission_state
from lti_tool.web.urls import public_url

bp = Blueprint("student", __name__)


@bp.get("/assignment")
@require_launch(assignment=True)
def assignment():
    """Show the launched assignment, its limits, the uploader and the attempts so far."""
    launch = assignment_launch()
    dates = deadlines_for(launch.assignment, launch.user)
    submission = find_submission(launch.assignment, launch.user)
    state = submission_state(launch, dates, submission)
    page = {
        "launch_id": launch.id, "user_id": launch.user_id,
        "assignment_id": launch.assignment_id, "role": current_role(),
        "upload_method": upload_method(current_storage()),
        "chunk_size": current_app.config.get("UPLOAD_CHUNK_BYTES") or None,
        # The recorder sends its chunks while it records where the storage can take an
        # upload of unknown size (tus, or S3 parts); elsewhere it uploads the finished
        # recording.
        "upload_while_recording": (current_storage().supports(Capability.DEFERRED_LENGTH)
                                   or current_storage().supports(Capability.DEFERRED_PARTS)),
        # The recorder offers "Microphone only" where the assignment takes sound-only files
        # and the storage keeps them.
        "accepts_audio": accepts_sound_only(launch.assignment),
        "recording_max_seconds": (launch.assignment.max_duration_seconds
                                  or current_app.config["RECORDING_MAX_SECONDS"]),
        "urls": {"uploads": url_for("uploads.state"),
                 "videos": url_for("playback.status", video_id=0).rsplit("/0/", 1)[0],
                 "tus": public_url("tus.create"),
                 "receipt": url_for("student.receipt", launch=launch.id)},
        "state": state,
    }
    due_source = ("extended for you" if dates.extended
                  else DUE_SOURCE_WORDS.get(launch.assignment.due_source or ""))
    return render_template("student/assignment.html", launch=launch,
                           assignment=launch.assignment, state=state, page=page, dates=dates,
                           due_source=due_source, support=get_setting("SUPPORT_CONTACT", ""),
                           feedback=released_feedback(submission))


@bp.get("/assignment/receipt")
@require_launch(assignment=True)
def receipt():
    """Download the receipt of the video the student handed in (plain text)."""
    launch = assignment_launch()
    found = receipt_for(launch)
    if found is None:
        raise NotFound("You have not handed in a video yet, so there is no receipt.")
    return Response(receipt_text(launch, found), mimetype="text/plain",
                    headers={"Content-Disposition":
                             f'attachment; filename="receipt-{found.code}.txt"'})
