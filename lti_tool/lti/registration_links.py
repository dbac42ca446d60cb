"""One-time registration links: the URL an administrator gives an LMS to register the tool.

With LTI_REGISTRATION=link, dynamic registration runs only through such a link
(`/lti/register/<token>`); with `open` a link works as well. A link works once and expires.
Only a SHA-256 of its token is stored. These functions serve the CLI and (later) an admin page.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import update

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import LaunchError, NotFound
from lti_tool.extensions import db
from lti_tool.models import Platform, RegistrationLink, utcnow
from lti_tool.statuses import RegistrationLinkState

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
DEFAULT_LINK_HOURS = 24
MAX_LINK_HOURS = 30 * 24
NOTE_MAX_CHARS = 255
NEW_LINK_HINT = ("An administrator of the tool makes a new one with "
                 "`flask --app wsgi platforms links create`.")


class RegistrationLinkRefused(LaunchError):
    """The registration link is unknown, used, expired or revoked."""

    http_status = 403
    code = "registration_link_refused"
    title = "This registration link cannot be used"


def hash_token(token: str) -> str:
    """Return the stored form of a link token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(*, hours: int = DEFAULT_LINK_HOURS, note: str | None = None,
                actor=None) -> tuple[RegistrationLink, str]:
    """Make a link valid for `hours`; return it and its token (shown once, never stored)."""
    if not 1 <= hours <= MAX_LINK_HOURS:
        raise ValueError(f"A registration link lives between 1 and {MAX_LINK_HOURS} hours.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = RegistrationLink(token_hash=hash_token(token),
                            note=(note or "").strip()[:NOTE_MAX_CHARS] or None,
                            expires_at=utcnow() + timedelta(hours=hours))
    db.session.add(link)
    db.session.flush()
    audit.record(EventType.REGISTRATION_LINK_CREATED, actor=actor, target=link,
                 expires_at=link.expires_at.isoformat(), note=link.note)
    db.session.commit()
    return link, token


def list_links() -> list[RegistrationLink]:
    """Return every registration link, newest first."""
    return list(db.session.scalars(db.select(RegistrationLink)
                                   .order_by(RegistrationLink.id.desc())))


def revoke_link(link_id: int, *, actor=None) -> RegistrationLink:
    """Make an unused link unusable."""
    link = db.session.get(RegistrationLink, link_id)
    if link is None:
        raise NotFound(f"No registration link with id {link_id}.")
    state = link.state()
    if state == RegistrationLinkState.USED:
        raise RegistrationLinkRefused(f"Registration link {link_id} was already used (platform "
                                      f"{link.platform_id}); remove that platform instead.",
                                      http_status=409)
    if state != RegistrationLinkState.REVOKED:
        link.revoked_at = utcnow()
        audit.record(EventType.REGISTRATION_LINK_REVOKED, actor=actor, target=link)
        db.session.commit()
    return link


def usable_link(token: str) -> RegistrationLink:
    """Return the link this token names if it can still register, or raise why not."""
    link = db.session.scalar(db.select(RegistrationLink).filter_by(token_hash=hash_token(token)))
    if link is None:
        raise RegistrationLinkRefused("This registration link is not known to the tool.",
                                      hint=NEW_LINK_HINT)
    state = link.state()
    if state == RegistrationLinkState.USED:
        raise RegistrationLinkRefused("This registration link has already been used; a link "
                                      "registers one LMS once.", hint=NEW_LINK_HINT)
    if state == RegistrationLinkState.EXPIRED:
        raise RegistrationLinkRefused("This registration link has expired.", hint=NEW_LINK_HINT)
    if state == RegistrationLinkState.REVOKED:
        raise RegistrationLinkRefused("This registration link was revoked.", hint=NEW_LINK_HINT)
    return link


def claim_link(link: RegistrationLink, platform: Platform) -> None:
    """Mark the link used by this new registration, in the caller's transaction.

    One conditional UPDATE, so two registrations racing on one link cannot both win.
    """
    now = utcnow()
    claimed = db.session.execute(
        update(RegistrationLink)
        .where(RegistrationLink.id == link.id, RegistrationLink.used_at.is_(None),
               RegistrationLink.revoked_at.is_(None), RegistrationLink.expires_at > now)
        .values(used_at=now, platform_id=platform.id)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise RegistrationLinkRefused("This registration link was used or revoked while the "
                                      "registration ran.", hint=NEW_LINK_HINT)
    audit.record(EventType.REGISTRATION_LINK_USED, platform_id=platform.id, target=link)
