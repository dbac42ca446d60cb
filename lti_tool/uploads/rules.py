"""What a submission accepts, named once: formats, sizes, and whether it is still open."""
from __future__ import annotations

import os
import re
from datetime import datetime

from lti_tool.errors import Forbidden, ToolError
from lti_tool.models import Assignment, Submission, User, utcnow
from lti_tool.settings import get_setting
from lti_tool.storage import current_storage
from lti_tool.storage.base import Capability, UploadMethod, UploadTooLarge
from lti_tool.uploads import deadlines, video_checks
from lti_tool.uploads.limits import site_limits
from lti_tool.web.formatting import format_size

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


# Graded but the grade is held: the student must not learn of a grade they cannot see.
SUBMISSION_IN_REVIEW = "submission_in_review"
PAST_CUTOFF = "past_cutoff"
NO_ATTEMPTS_LEFT = "no_attempts_left"
CLOSED_MESSAGES = {
    PAST_CUTOFF: "The last moment to start an upload for this assignment has passed.",
    NO_ATTEMPTS_LEFT: "You have handed in as many videos as this assignment allows.",
    ASSIGNMENT_LOCKED: "This assignment is closed: videos can no longer be submitted or "
                       "replaced.",
    SUBMISSION_GRADED: "Your submission has been graded, so its video can no longer be "
                       "replaced.",
    SUBMISSION_IN_REVIEW: "Your instructor is reviewing your video, so it can no longer be "
                          "replaced.",
}


def allowed_formats(assignment: Assignment) -> list[str]:
    """Return the file extensions this assignment accepts (lower case, no dot): its video
    formats, then the sound files (video_checks.SOUND_FORMATS) where it accepts sound-only
    submissions."""
    raw = assignment.allowed_formats or ""
    site = list(site_limits().formats)
    formats = [f.strip().lower().lstrip(".") for f in raw.split(",") if f.strip()]
    videos = [f for f in formats if f in site] or site
    return videos + list(video_checks.SOUND_FORMATS) if accepts_sound_only(assignment) \
        else videos


def accept_list(formats: list[str]) -> str:
    """Return a file input's `accept` for these formats: each extension, any video, and the
    media types of the sound files among them (phones pick files by type)."""
    sound = [t for f in formats if f in video_checks.SOUND_FORMATS
             for t in video_checks.SOUND_FORMATS[f].mime_types]
    return ",".join([f".{f}" for f in formats] + ["video/*"] + list(dict.fromkeys(sound)))


def size_limit(assignment: Assignment) -> int:
    """Return the largest file this assignment accepts, in bytes: its own limit, else the
    site's default, never more than the site's largest (limits.site_limits)."""
    site = site_limits()
    if assignment.max_file_bytes:
        return min(site.max_bytes, assignment.max_file_bytes)
    return site.default_bytes


def too_large_message(size: int, limit: int) -> str:
    """Say why a file is refused for its size, with both sizes."""
    return (f"The file is {format_size(size)}, larger than the {format_size(limit)} this "
            f"assignment accepts. Please compress or shorten the video and try again.")


def sound_only_possible() -> bool:
    """Tell whether this site's storage keeps sound-only submissions (Capability.SOUND_ONLY)."""
    return current_storage().supports(Capability.SOUND_ONLY)


def accepts_sound_only(assignment: Assignment) -> bool:
    """Tell whether a student may hand in a sound-only recording or file: the assignment
    allows it and the storage keeps one."""
    return bool(assignment.accepts_audio) and sound_only_possible()


def past_limit_message(limit: int) -> str:
    """Say why an upload of a length not yet known (a recording) is refused: it passed the
    assignment's limit."""
    return (f"The video is larger than the {format_size(limit)} this assignment accepts. "
            f"Please record a shorter video, or compress it and upload the file.")


def ensure_open_for_submission(assignment: Assignment, submission: Submission | None, *,
                               user: User | None = None,
                               started_at: datetime | None = None) -> None:
    """Refuse a new video once the assignment is locked or past its cut-off, the attempts
    are used up, or the submission graded (see closed_reason)."""
    code = closed_reason(assignment, submission, user=user, started_at=started_at)
    if code:
        raise Forbidden(CLOSED_MESSAGES[code], code=code)


def closed_reason(assignment: Assignment, submission: Submission | None, *,
                  user: User | None = None, started_at: datetime | None = None,
                  dates: deadlines.Deadlines | None = None) -> str | None:
    """Name why no new video is taken (a key of CLOSED_MESSAGES), or None while open.

    `started_at` judges an attempt already under way by when it started: one that began
    before the cut-off may finish after it, and it is no new attempt to count. A held grade
    closes the submission as a released one does, but is never named: the student learns
    of a grade only once it is released. `dates`: the student's deadlines when the caller
    has them already (spares a query).
    """
    if assignment.locked:
        return ASSIGNMENT_LOCKED
    if submission is not None and submission.graded_at is not None:
        return SUBMISSION_GRADED if submission.released else SUBMISSION_IN_REVIEW
    student = user or (submission.user if submission is not None else None)
    cutoff = (dates or deadlines.deadlines_for(assignment, student)).cutoff_at
    if cutoff is not None and (started_at or utcnow()) > cutoff:
        return PAST_CUTOFF
    if started_at is None and assignment.max_attempts and \
            deadlines.attempts_handed_in(submission) >= assignment.max_attempts:
        return NO_ATTEMPTS_LEFT
    return None


def check_file(assignment: Assignment, filename: str, size_bytes: int | None,
               content_type: str = UNKNOWN_CONTENT_TYPE) -> None:
    """Refuse a file of the wrong type, empty, or too large, before any byte moves (a
    recording's size, None, is checked as its bytes arrive)."""
    formats = allowed_formats(assignment)
    ext = os.path.splitext(filename)[1].lower().lstrip(".")
    sound = video_checks.SOUND_FORMATS.get(ext)
    if sound is not None and ext not in formats:
        raise ToolError(video_checks.MESSAGES[video_checks.SOUND_ONLY],
                        code=video_checks.SOUND_ONLY, http_status=415)
    if sound is not None and not _sound_type(sound, content_type):
        raise ToolError(video_checks.MESSAGES[video_checks.NOT_A_SOUND_FILE],
                        code=video_checks.NOT_A_SOUND_FILE, http_status=415)
    if ext not in formats:
        kind = "video or sound" if set(formats) & set(video_checks.SOUND_FORMATS) else "video"
        raise ToolError(f"“{filename}” is not an accepted {kind} format. Accepted: "
                        f"{', '.join(f.upper() for f in formats)}.", code="wrong_format",
                        http_status=415)
    if size_bytes is None:
        return
    if size_bytes <= 0:
        raise ToolError(video_checks.MESSAGES[video_checks.EMPTY], code=video_checks.EMPTY)
    limit = size_limit(assignment)
    if size_bytes > limit:
        raise UploadTooLarge(too_large_message(size_bytes, limit))


def _sound_type(sound: video_checks.SoundFormat, content_type: str) -> bool:
    """Tell whether a sound file's declared media type fits it: any sound type (systems name
    one format many ways), one of the format's own, or none known."""
    kind = content_type.split(";")[0].strip().lower()
    return kind in ("", UNKNOWN_CONTENT_TYPE) or kind.startswith("audio/") \
        or kind in sound.mime_types


def upload_method(backend) -> UploadMethod:
    """Name the browser transport a backend takes new uploads with."""
    if backend.supports(Capability.MULTIPART) and not backend.supports(Capability.TUS):
        return UploadMethod.MULTIPART
    return UploadMethod.TUS

