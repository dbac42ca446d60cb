"""What a submission accepts, named once: formats, sizes, and whether it is still open."""
from __future__ import annotations

import os
import re

from lti_tool.errors import Forbidden, ToolError
from lti_tool.models import Assignment, Submission
from lti_tool.settings import get_setting
from lti_tool.storage.base import Capability, UploadMethod, UploadTooLarge
from lti_tool.uploads import video_checks
from lti_tool.web.formatting import format_size

# File extensions the uploader takes (lower case, no dot); an assignment may allow fewer
# (the deep-linking form offers these). Processing makes each playable in every browser
# (tests/test_processing.py has a sample of each).
ACCEPTED_FORMATS = ("mp4", "mov", "m4v", "webm", "mkv", "avi", "wmv", "mpeg", "mpg")
# A media type as browsers report a file's (`video/mp4`); anything else is stored as unknown.
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,63}/[A-Za-z0-9][\w!#$&^.+-]{0,63}",
                          re.ASCII)
UNKNOWN_CONTENT_TYPE = "application/octet-stream"
# Why a submission takes no new video (the codes of ensure_open_for_submission's refusals).
ASSIGNMENT_LOCKED = "assignment_locked"
SUBMISSION_GRADED = "submission_graded"
UPLOADS_PAUSED = "uploads_paused"
UPLOADS_PAUSED_MESSAGE = ("New uploads are paused on this site for a while. Videos already "
                          "submitted still play. Please try again later.")


def uploads_paused() -> bool:
    """Tell whether an admin stopped new uploads site-wide (the UPLOADS_PAUSED setting)."""
    return str(get_setting("UPLOADS_PAUSED", False)).strip().lower() in {"1", "true", "yes", "on"}


def ensure_uploads_open() -> None:
    """Refuse a new upload while new uploads are paused site-wide (503, to try later)."""
    if uploads_paused():
        raise ToolError(UPLOADS_PAUSED_MESSAGE, code=UPLOADS_PAUSED, http_status=503)


def site_formats() -> list[str]:
    """Return the formats the site accepts (the ACCEPTED_FORMATS setting, else all known)."""
    raw = str(get_setting("ACCEPTED_FORMATS", "") or "")
    chosen = [f.strip().lower().lstrip(".") for f in raw.split(",") if f.strip()]
    return [f for f in ACCEPTED_FORMATS if f in chosen] or list(ACCEPTED_FORMATS)


def allowed_formats(assignment: Assignment) -> list[str]:
    """Return the file extensions this assignment accepts (lower case, no dot)."""
    raw = assignment.allowed_formats or ""
    site = site_formats()
    formats = [f.strip().lower().lstrip(".") for f in raw.split(",") if f.strip()]
    return [f for f in formats if f in site] or site


def size_limit(assignment: Assignment) -> int:
    """Return the largest file this assignment accepts, in bytes: its own limit, else the
    site's default (DEFAULT_UPLOAD_BYTES), never more than the site's MAX_UPLOAD_BYTES."""
    site = int(get_setting("MAX_UPLOAD_BYTES"))
    if assignment.max_file_bytes:
        return min(site, assignment.max_file_bytes)
    default = int(get_setting("DEFAULT_UPLOAD_BYTES", 0) or 0)
    return min(site, default) if default > 0 else site


def too_large_message(size: int, limit: int) -> str:
    """Say why a file is refused for its size, with both sizes."""
    return (f"The file is {format_size(size)}, larger than the {format_size(limit)} this "
            f"assignment accepts. Please compress or shorten the video and try again.")


def ensure_open_for_submission(assignment: Assignment, submission: Submission | None) -> None:
    """Refuse a new video once the assignment is locked or the submission graded."""
    if assignment.locked:
        raise Forbidden("This assignment is closed: videos can no longer be submitted or "
                        "replaced.", code=ASSIGNMENT_LOCKED)
    if submission is not None and submission.graded_at is not None:
        raise Forbidden("Your submission has been graded, so its video can no longer be "
                        "replaced.", code=SUBMISSION_GRADED)


def check_file(assignment: Assignment, filename: str, size_bytes: int) -> None:
    """Refuse a file of the wrong type, empty, or too large, before any byte moves."""
    formats = allowed_formats(assignment)
    ext = os.path.splitext(filename)[1].lower().lstrip(".")
    if ext not in formats:
        raise ToolError(f"“{filename}” is not an accepted video format. Accepted: "
                        f"{', '.join(f.upper() for f in formats)}.", code="wrong_format",
                        http_status=415)
    if size_bytes <= 0:
        raise ToolError(video_checks.MESSAGES[video_checks.EMPTY], code=video_checks.EMPTY)
    limit = size_limit(assignment)
    if size_bytes > limit:
        raise UploadTooLarge(too_large_message(size_bytes, limit))


def upload_method(backend) -> UploadMethod:
    """Name the browser transport a backend takes new uploads with."""
    if backend.supports(Capability.MULTIPART) and not backend.supports(Capability.TUS):
        return UploadMethod.MULTIPART
    return UploadMethod.TUS


def can_replace(assignment: Assignment, submission: Submission | None) -> bool:
    """Tell whether the student may still hand in a (new) video."""
    if uploads_paused():
        return False
    try:
        ensure_open_for_submission(assignment, submission)
    except Forbidden:
        return False
    return True
