"""The life of a hand-off link: made for a student's assignment, claimed by one phone, used
for one attempt, followed by the desktop page, cleaned up by a job.

The phone that claims a link gets a launch of its own (a LaunchRecord whose id starts with
PHONE_LAUNCH_PREFIX): the same student, course and assignment, so the upload endpoints (tus,
S3 multipart, status) and every rule they apply (formats, sizes, deadlines, attempts,
processing) work for it unchanged. views.scope_phone_launch keeps such a launch to those
endpoints; the phone keeps its id in the page (sessionStorage), never in a cookie.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, update

from lti_tool import audit
from lti_tool.access.roles import Role
from lti_tool.audit import EventType
from lti_tool.errors import Conflict, Forbidden, NotFound, ToolError
from lti_tool.extensions import db
from lti_tool.handoff.codes import hash_code, new_code, normalize_code
from lti_tool.models import HandoffLink, LaunchRecord, Video, new_token, utcnow
from lti_tool.statuses import FINAL_VIDEO_STATES, UNFINISHED_VIDEO_STATES
from lti_tool.storage.base import UploadTicket
from lti_tool.uploads.attempts import complete_upload, find_submission, start_attempt
from lti_tool.uploads.rules import ensure_open_for_submission, ensure_uploads_open
from lti_tool.uploads.status import iso, video_status

# A phone's launch id: "." never occurs in a token_urlsafe id, so no LMS launch has it.
PHONE_LAUNCH_PREFIX = "handoff."
PHONE_MESSAGE_TYPE = "HandoffPhone"
# A link row outlives its claim deadline this long (the desktop follows the upload), then
# the cleanup job deletes it. Longer than a phone launch (LTI_LAUNCH_TTL_SECONDS).
KEEP_AFTER_EXPIRY = timedelta(days=1)


class LinkState:
    """What the desktop page shows of a link, named once."""

    WAITING = "waiting"      # not claimed yet
    EXPIRED = "expired"      # not claimed in time (or replaced by a newer link)
    CLAIMED = "claimed"      # a phone has it; no upload started yet
    UPLOADING = "uploading"  # the phone is sending the bytes
    DONE = "done"            # the bytes arrived: the attempt's status says the rest


UNKNOWN = "handoff_unknown"
EXPIRED = "handoff_expired"
CLAIMED = "handoff_claimed"
USED = "handoff_used"
OTHER_STUDENT = "handoff_other_student"
NOT_A_PHONE = "handoff_not_a_phone"
MESSAGES = {
    UNKNOWN: "This upload link or code is not valid. Check the code on your computer's "
             "screen and try again.",
    EXPIRED: "This upload link has expired. On your computer, choose \"Upload from your "
             "phone\" again to get a new one.",
    CLAIMED: "This upload link is already in use on another device. On your computer, "
             "choose “Upload from your phone” again to get a new one.",
    USED: "This upload link was already used for an upload. On your computer, choose "
          "“Upload from your phone” again to upload another video.",
    OTHER_STUDENT: "This upload link belongs to another student. Each student gets their "
                   "own link on their own assignment page.",
    NOT_A_PHONE: "This call is only for the phone that claimed an upload link.",
}


class LinkExpired(ToolError):
    """The link was not claimed in time (410: it will not come back)."""

    http_status = 410
    code = EXPIRED
    title = "This link has expired"


def _now() -> datetime:
    return utcnow()


def _hash(code: str) -> str:
    return hash_code(code, current_app.config["SECRET_KEY"])


def is_phone_launch_id(launch_id: str | None) -> bool:
    """Tell whether a launch id is a phone's (made by claim_link)."""
    return bool(launch_id) and launch_id.startswith(PHONE_LAUNCH_PREFIX)


def create_link(launch: LaunchRecord) -> tuple[HandoffLink, str]:
    """Make a new link for the launching student's assignment; return it and its code.

    Refused like a new upload would be (paused uploads, locked, past the cut-off, no
    attempts left). The student's earlier unclaimed links stop working: one at a time.
    """
    assignment, user = launch.assignment, launch.user
    ensure_uploads_open()
    ensure_open_for_submission(assignment, find_submission(assignment, user), user=user)
    now = _now()
    db.session.execute(
        update(HandoffLink)
        .where(HandoffLink.user_id == user.id, HandoffLink.assignment_id == assignment.id,
               HandoffLink.claimed_at.is_(None), HandoffLink.expires_at > now)
        .values(expires_at=now))
    code = new_code()
    link = HandoffLink(code_hash=_hash(code), user_id=user.id, assignment_id=assignment.id,
                       created_at=now, expires_at=now + timedelta(
                           seconds=current_app.config["HANDOFF_LINK_TTL_SECONDS"]))
    db.session.add(link)
    db.session.flush()
    audit.record(EventType.HANDOFF_CREATED, actor=user, course_id=assignment.course_id,
                 target=link, expires_at=iso(link.expires_at))
    db.session.commit()
    return link, code


def find_link(typed_code: str) -> HandoffLink:
    """Return the link a code names, still claimable or already claimed; refuse the rest."""
    code = normalize_code(typed_code)
    link = None if code is None else db.session.scalar(
        db.select(HandoffLink).filter_by(code_hash=_hash(code)))
    if link is None:
        raise NotFound(MESSAGES[UNKNOWN], code=UNKNOWN)
    if link.claimed_at is None and link.expires_at <= _now():
        raise LinkExpired(MESSAGES[EXPIRED])
    return link


def claim_link(link: HandoffLink, session_user_id: int | None = None) -> LaunchRecord:
    """Bind the link to the asking device: return the phone's own launch (its claim secret).

    Only the first claim wins (one atomic UPDATE); a browser whose session belongs to
    another student is refused.
    """
    if session_user_id is not None and session_user_id != link.user_id:
        raise Forbidden(MESSAGES[OTHER_STUDENT], code=OTHER_STUDENT)
    now = _now()
    launch_id = PHONE_LAUNCH_PREFIX + new_token()
    won = db.session.execute(
        update(HandoffLink)
        .where(HandoffLink.id == link.id, HandoffLink.claimed_at.is_(None),
               HandoffLink.expires_at > now)
        .values(claimed_at=now, phone_launch_id=launch_id)
        .execution_options(synchronize_session=False)).rowcount
    if not won:
        db.session.rollback()
        db.session.refresh(link)
        if link.claimed_at is None:
            raise LinkExpired(MESSAGES[EXPIRED])
        raise Conflict(MESSAGES[CLAIMED], code=CLAIMED)
    assignment = link.assignment
    phone = LaunchRecord(
        id=launch_id, user_id=link.user_id, platform_id=link.user.platform_id,
        course_id=assignment.course_id, assignment_id=assignment.id, role=Role.LEARNER,
        message_type=PHONE_MESSAGE_TYPE, claims={},
        expires_at=now + timedelta(seconds=current_app.config["LTI_LAUNCH_TTL_SECONDS"]))
    db.session.add(phone)
    audit.record(EventType.HANDOFF_CLAIMED, actor=link.user, course_id=assignment.course_id,
                 target=link)
    db.session.commit()
    db.session.refresh(link)
    return phone


def phone_link(launch: LaunchRecord | None) -> HandoffLink:
    """Return the link a phone's launch claimed, or refuse a launch that is no phone's."""
    link = None
    if launch is not None and is_phone_launch_id(launch.id):
        link = db.session.scalar(db.select(HandoffLink).filter_by(phone_launch_id=launch.id))
    if link is None:
        raise Forbidden(MESSAGES[NOT_A_PHONE], code=NOT_A_PHONE)
    return link


def start_phone_upload(link: HandoffLink, launch: LaunchRecord, filename: str,
                       size_bytes: int, content_type: str) -> tuple[Video, UploadTicket]:
    """Open the link's one attempt, as a desktop upload would (every rule applies)."""
    if link.video_id is not None:
        raise Conflict(MESSAGES[USED], code=USED)
    video, ticket = start_attempt(launch, filename, size_bytes, content_type)
    taken = db.session.execute(
        update(HandoffLink).where(HandoffLink.id == link.id, HandoffLink.video_id.is_(None))
        .values(video_id=video.id).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not taken:  # a second start raced the first: it gets no attempt of its own
        raise Conflict(MESSAGES[USED], code=USED)
    db.session.refresh(link)
    return video, ticket


def complete_phone_upload(link: HandoffLink, video_id: int) -> Video:
    """Finish the link's attempt once the phone sent its bytes; safe to call twice."""
    video = link.video
    if video is None or video.id != video_id:
        raise NotFound("No such upload.")
    complete_upload(video)
    if link.completed_at is None:
        link.completed_at = _now()
        audit.record(EventType.HANDOFF_COMPLETED, actor=link.user,
                     course_id=link.assignment.course_id, target=link, video_id=video.id)
        db.session.commit()
    return video


def owned_link(launch: LaunchRecord, link_id: int) -> HandoffLink:
    """Load one of the launching student's links for this assignment, or 404."""
    link = db.session.get(HandoffLink, link_id)
    if (link is None or link.user_id != launch.user_id
            or link.assignment_id != launch.assignment_id):
        raise NotFound("No such upload link.")
    return link


def link_state(link: HandoffLink) -> dict:
    """Describe a link for the desktop page: its state and, once started, its attempt."""
    video = link.video
    if video is not None:
        state = (LinkState.UPLOADING if video.status in UNFINISHED_VIDEO_STATES
                 else LinkState.DONE)
    elif link.claimed_at is not None:
        state = LinkState.CLAIMED
    elif link.expires_at <= _now():
        state = LinkState.EXPIRED
    else:
        state = LinkState.WAITING
    return {"id": link.id, "state": state, "expires_at": iso(link.expires_at),
            "claimed_at": iso(link.claimed_at), "completed_at": iso(link.completed_at),
            "video": video_status(video) if video is not None else None,
            "final": video is not None and video.status in FINAL_VIDEO_STATES}


def purge_expired_links() -> dict[str, int]:
    """Delete links a day past their claim deadline (a job; safe to run twice)."""
    deleted = db.session.execute(
        delete(HandoffLink).where(HandoffLink.expires_at <= _now() - KEEP_AFTER_EXPIRY)
    ).rowcount
    db.session.commit()
    return {"deleted": deleted}
