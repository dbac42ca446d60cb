"""A receipt for the video a student handed in: when, which file, how big, and a short
code the tool can recompute (an HMAC under the app's secret key) to show the receipt is
its own, should a student and an instructor ever disagree about what was handed in."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from lti_tool.models import LaunchRecord, Submission, Video
from lti_tool.uploads.attempts import NOT_LOOKED_UP, find_submission
from lti_tool.web.formatting import format_moment, format_size

CODE_LENGTH = 12
CODE_GROUP = 4
RECEIPT_TITLE = "Video Assignments: receipt for a handed-in video"


@dataclass(frozen=True)
class Receipt:
    """What the student keeps."""

    video_id: int
    filename: str
    size_bytes: int
    handed_in_at: datetime
    code: str


def receipt_code(video: Video, handed_in_at: datetime) -> str:
    """Return the short code of a video's receipt, e.g. "7F3A-09BC-1D2E"."""
    message = "|".join(str(part) for part in (
        video.id, video.submission.user_id, video.filename, video.size_bytes,
        handed_in_at.isoformat())).encode()
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()[:CODE_LENGTH].upper()
    return "-".join(digest[i:i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def receipt_for(launch: LaunchRecord,
                submission: Submission | None = NOT_LOOKED_UP) -> Receipt | None:
    """Return the receipt of the launching student's handed-in video, if they have one
    (`submission`: theirs, or None for none, when the caller has looked it up already)."""
    if submission is NOT_LOOKED_UP:
        submission = find_submission(launch.assignment, launch.user)
    video = submission.current_video if submission is not None else None
    if video is None:
        return None
    handed_in_at = video.uploaded_at or video.ready_at or video.created_at
    return Receipt(video.id, video.filename or "", video.size_bytes or 0, handed_in_at,
                   receipt_code(video, handed_in_at))


def receipt_text(launch: LaunchRecord, receipt: Receipt) -> str:
    """Write the receipt as the plain-text file the student downloads."""
    assignment = launch.assignment
    lines = [
        RECEIPT_TITLE,
        "",
        f"Course:      {assignment.course.title or ''}",
        f"Assignment:  {assignment.title}",
        f"Student:     {launch.user.display_name}",
        f"File:        {receipt.filename}",
        f"Size:        {format_size(receipt.size_bytes)} ({receipt.size_bytes} bytes)",
        f"Handed in:   {format_moment(receipt.handed_in_at)}",
        f"Receipt:     {receipt.code}",
    ]
    return "\n".join(lines) + "\n"
