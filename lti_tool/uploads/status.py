"""What the student's page shows of a submission and its attempts (JSON for its script)."""
from __future__ import annotations

import logging
from datetime import datetime

from lti_tool.errors import StorageError
from lti_tool.models import LaunchRecord, Submission, Video
from lti_tool.statuses import FINAL_VIDEO_STATES, UNFINISHED_VIDEO_STATES
from lti_tool.storage import storage_for
from lti_tool.uploads import deadlines
from lti_tool.uploads.attempts import NOT_LOOKED_UP, find_submission
from lti_tool.uploads.receipts import receipt_for
from lti_tool.uploads import video_checks
from lti_tool.uploads.rules import (CLOSED_MESSAGES, UPLOADS_PAUSED_MESSAGE, accept_list,
                                    allowed_formats, closed_reason, size_limit, uploads_paused)

log = logging.getLogger(__name__)


def iso(value: datetime | None) -> str | None:
    """Write a moment for a script (ISO 8601), or None."""
    return value.isoformat() if value else None


def received_bytes(video: Video) -> int | None:
    """Return how many bytes of an unfinished upload the storage holds (None: unknown)."""
    if video.status not in UNFINISHED_VIDEO_STATES:
        return None
    try:
        return storage_for(video.backend).received_bytes(video.storage_uid, video.backend_data)
    except StorageError as exc:
        log.info("could not ask how much of video %s arrived: %s", video.id, exc.message)
        return None


def video_status(video: Video) -> dict:
    """Describe one attempt for the page."""
    submission = video.submission
    return {
        "id": video.id, "attempt": video.attempt, "status": video.status,
        "filename": video.filename, "size_bytes": video.size_bytes,
        "received_bytes": received_bytes(video),
        "duration_seconds": video.duration_seconds, "width": video.width,
        "height": video.height, "has_thumbnail": video.has_thumbnail,
        "sound_only": video.is_sound_only,
        "error_code": video.error_code, "error_message": video.error_message,
        # While the processing job transcodes: how far it is, and its estimate of the rest.
        "processing_percent": video.processing_percent,
        "processing_eta_seconds": video.processing_eta_seconds,
        "created_at": iso(video.created_at), "uploaded_at": iso(video.uploaded_at),
        "ready_at": iso(video.ready_at),
        "is_current": submission.current_video_id == video.id,
        "final": video.status in FINAL_VIDEO_STATES,
    }


def submission_state(launch: LaunchRecord, dates: deadlines.Deadlines | None = None,
                     submission: Submission | None = NOT_LOOKED_UP) -> dict:
    """Describe the launching student's submission: limits, attempts, what they may do
    (`dates`, `submission`: the student's, when the caller has them already)."""
    assignment = launch.assignment
    if submission is NOT_LOOKED_UP:
        submission = find_submission(assignment, launch.user)
    attempts = [video_status(v) for v in reversed(submission.videos)] if submission else []
    dates = dates or deadlines.deadlines_for(assignment, launch.user)
    closed = closed_reason(assignment, submission, user=launch.user, dates=dates)
    formats = allowed_formats(assignment)
    return {
        "assignment": {"id": assignment.id, "title": assignment.title,
                       "due_at": iso(dates.due_at), "cutoff_at": iso(dates.cutoff_at),
                       "extended": dates.extended, "max_attempts": assignment.max_attempts,
                       "locked": assignment.locked},
        # `sound_formats`: every sound file's extension, accepted here or not (the page
        # tells a sound file where a video is asked for from a file of no known format).
        "limits": {"max_bytes": size_limit(assignment), "formats": formats,
                   "accept": accept_list(formats),
                   "sound_formats": list(video_checks.SOUND_FORMATS),
                   "max_duration_seconds": assignment.max_duration_seconds},
        "submission": None if submission is None else {
            "id": submission.id, "submitted_at": iso(submission.submitted_at),
            "current_video_id": submission.current_video_id,
            # Graded only once released: a held grade is not the student's to know of.
            "graded": submission.graded_at is not None and submission.released},
        "attempts": attempts,
        "receipt": _receipt(launch, submission),
        "can_upload": closed is None and not uploads_paused(),
        "closed_message": CLOSED_MESSAGES[closed] if closed else None,
        "paused": UPLOADS_PAUSED_MESSAGE if uploads_paused() else None,
    }


def _receipt(launch: LaunchRecord, submission) -> dict | None:
    found = receipt_for(launch, submission)
    return None if found is None else {
        "code": found.code, "filename": found.filename, "size_bytes": found.size_bytes,
        "handed_in_at": iso(found.handed_in_at)}
