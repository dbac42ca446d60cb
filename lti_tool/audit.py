"""The audit log: a function to record an event (and one to write it at once on hot paths),
and every event name, named once."""
from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from flask import has_request_context, request
from sqlalchemy import insert

from lti_tool.extensions import db
from lti_tool.models import AuditEvent

log = logging.getLogger(__name__)


class EventType(StrEnum):
    """Names of audited events."""

    LAUNCH = "launch"
    LAUNCH_REFUSED = "launch_refused"
    PLATFORM_REGISTERED = "platform_registered"
    PLATFORM_REMOVED = "platform_removed"
    PLATFORM_UPDATED = "platform_updated"
    REGISTRATION_REFUSED = "registration_refused"
    REGISTRATION_LINK_CREATED = "registration_link_created"
    REGISTRATION_LINK_USED = "registration_link_used"
    REGISTRATION_LINK_REVOKED = "registration_link_revoked"
    DEPLOYMENT_ADDED = "deployment_added"
    DEEP_LINK_CREATED = "deep_link_created"
    KEY_ROTATED = "key_rotated"
    UPLOAD_CREATED = "upload_created"
    UPLOAD_COMPLETED = "upload_completed"
    UPLOAD_DELETED = "upload_deleted"
    VIDEO_READY = "video_ready"
    VIDEO_FAILED = "video_failed"
    VIDEO_DELETED = "video_deleted"
    PLAYBACK_GRANTED = "playback_granted"
    PLAYBACK_REFUSED = "playback_refused"
    DOWNLOAD_GRANTED = "download_granted"
    GRADE_SAVED = "grade_saved"
    GRADE_RELEASED = "grade_released"
    SCORE_DELIVERED = "score_delivered"
    SCORE_FAILED = "score_failed"
    SCORES_RETRIED = "scores_retried"
    COMMENT_ADDED = "comment_added"
    COMMENT_DELETED = "comment_deleted"
    CAPTIONS_ADDED = "captions_added"
    CAPTIONS_DELETED = "captions_deleted"
    ROSTER_SYNCED = "roster_synced"
    WEBHOOK_RECEIVED = "webhook_received"
    SETTING_CHANGED = "setting_changed"
    # The admin area (lti_tool/admin).
    ADMIN_GRANTED = "admin_granted"
    ADMIN_REVOKED = "admin_revoked"
    LEGAL_HOLD_SET = "legal_hold_set"
    LEGAL_HOLD_LIFTED = "legal_hold_lifted"
    ADMIN_EXPORT = "admin_export"
    STORAGE_TESTED = "storage_tested"  # "Test connection": the backend and what failed
    PROCESSING_RETRIED = "processing_retried"  # an admin put a failed processing job back
    # Privacy (lti_tool/privacy): an export, an erasure, a person's request for one.
    USER_DATA_EXPORTED = "user_data_exported"
    USER_DATA_DELETED = "user_data_deleted"
    USER_DATA_DELETION_REQUESTED = "user_data_deletion_requested"
    # Deadlines and attempts (lti_tool/uploads/deadlines).
    ASSIGNMENT_SETTINGS_CHANGED = "assignment_settings_changed"
    EXTENSION_GRANTED = "extension_granted"
    EXTENSION_REMOVED = "extension_removed"
    # The phone hand-off (lti_tool/handoff): a link made, claimed by a phone, its upload done.
    HANDOFF_CREATED = "handoff_created"
    HANDOFF_CLAIMED = "handoff_claimed"
    HANDOFF_COMPLETED = "handoff_completed"


# How each event reads for people (the audit log's filter and column); the name stays the
# filter value and the CSV's value.
EVENT_LABELS: dict[EventType, str] = {
    EventType.LAUNCH: "Launch",
    EventType.LAUNCH_REFUSED: "Launch refused",
    EventType.PLATFORM_REGISTERED: "LMS registered",
    EventType.PLATFORM_REMOVED: "LMS removed",
    EventType.PLATFORM_UPDATED: "LMS updated",
    EventType.REGISTRATION_REFUSED: "Registration refused",
    EventType.REGISTRATION_LINK_CREATED: "Registration link created",
    EventType.REGISTRATION_LINK_USED: "Registration link used",
    EventType.REGISTRATION_LINK_REVOKED: "Registration link revoked",
    EventType.DEPLOYMENT_ADDED: "Deployment added",
    EventType.DEEP_LINK_CREATED: "Assignment link created",
    EventType.KEY_ROTATED: "Signing key rotated",
    EventType.UPLOAD_CREATED: "Upload started",
    EventType.UPLOAD_COMPLETED: "Upload completed",
    EventType.UPLOAD_DELETED: "Upload deleted",
    EventType.VIDEO_READY: "Video ready",
    EventType.VIDEO_FAILED: "Video failed",
    EventType.VIDEO_DELETED: "Video deleted",
    EventType.PLAYBACK_GRANTED: "Playback granted",
    EventType.PLAYBACK_REFUSED: "Playback refused",
    EventType.DOWNLOAD_GRANTED: "Download granted",
    EventType.GRADE_SAVED: "Grade saved",
    EventType.GRADE_RELEASED: "Grade released",
    EventType.SCORE_DELIVERED: "Score sent to the LMS",
    EventType.SCORE_FAILED: "Score not delivered",
    EventType.SCORES_RETRIED: "Scores retried",
    EventType.COMMENT_ADDED: "Comment added",
    EventType.COMMENT_DELETED: "Comment deleted",
    EventType.CAPTIONS_ADDED: "Captions added",
    EventType.CAPTIONS_DELETED: "Captions deleted",
    EventType.ROSTER_SYNCED: "Roster synced",
    EventType.WEBHOOK_RECEIVED: "Webhook received",
    EventType.SETTING_CHANGED: "Setting changed",
    EventType.ADMIN_GRANTED: "Admin rights granted",
    EventType.ADMIN_REVOKED: "Admin rights revoked",
    EventType.LEGAL_HOLD_SET: "Legal hold set",
    EventType.LEGAL_HOLD_LIFTED: "Legal hold lifted",
    EventType.ADMIN_EXPORT: "Admin export",
    EventType.STORAGE_TESTED: "Storage connection tested",
    EventType.PROCESSING_RETRIED: "Processing retried",
    EventType.USER_DATA_EXPORTED: "Personal data exported",
    EventType.USER_DATA_DELETED: "Personal data erased",
    EventType.USER_DATA_DELETION_REQUESTED: "Erasure requested",
    EventType.ASSIGNMENT_SETTINGS_CHANGED: "Assignment settings changed",
    EventType.EXTENSION_GRANTED: "Extension granted",
    EventType.EXTENSION_REMOVED: "Extension removed",
    EventType.HANDOFF_CREATED: "Phone link created",
    EventType.HANDOFF_CLAIMED: "Phone link opened",
    EventType.HANDOFF_COMPLETED: "Phone upload completed",
}


def event_label(name: str) -> str:
    """Return an event name as people read it; a name no longer in EventType as stored."""
    return EVENT_LABELS.get(name, name)


def record(event_type: EventType | str, *, actor=None, platform_id: int | None = None,
           course_id: int | None = None, target=None, commit: bool = False,
           **data: Any) -> AuditEvent:
    """Add one audit event to the session (and commit it when asked).

    `target` may be a model instance (its table name and id are kept) or None.
    Never put secrets or tokens in `data`.
    """
    event = AuditEvent(**_columns(event_type, actor, platform_id, course_id, target, data))
    db.session.add(event)
    # Logged before the commit: reading the event after it would reload the row.
    _log(event.event_type, event.actor_id, event.target_type, event.target_id)
    if commit:
        db.session.commit()
    return event


def write(event_type: EventType | str, *, actor=None, platform_id: int | None = None,
          course_id: int | None = None, target=None, **data: Any) -> None:
    """Insert one audit event in the session's transaction and commit it, as `record` does
    with commit=True, without an ORM object to build, flush and expire (hot paths: a
    playback grant writes one per play)."""
    insert_event(event_type, actor=actor, platform_id=platform_id, course_id=course_id,
                 target=target, **data)
    db.session.commit()


def insert_event(event_type: EventType | str, *, actor=None, platform_id: int | None = None,
                 course_id: int | None = None, target=None, **data: Any) -> None:
    """Insert one audit event in the session's transaction, not committed (`write` without
    its commit: the launch commits it with its launch row). The actor and target must have
    their ids already (flushed)."""
    columns = _columns(event_type, actor, platform_id, course_id, target, data)
    # On the session's connection, table-level, one statement object for every call (its
    # compiled form is cached): the ORM's bulk-insert path costs as much as the unit of work
    # it replaces.
    db.session.connection().execute(_INSERT, columns)
    _log(columns["event_type"], columns["actor_id"], columns["target_type"],
         columns["target_id"])


_INSERT = insert(AuditEvent.__table__)


def _columns(event_type, actor, platform_id, course_id, target, data) -> dict:
    return {
        "event_type": str(event_type),
        "actor_id": getattr(actor, "id", None),
        "platform_id": platform_id if platform_id is not None
        else getattr(actor, "platform_id", None),
        "course_id": course_id,
        "target_type": getattr(target, "__tablename__", None) if target is not None else None,
        "target_id": str(getattr(target, "id", "")) if target is not None else None,
        "data": data or None,
        "ip": request.remote_addr if has_request_context() else None,
    }


def _log(event_type, actor_id, target_type, target_id) -> None:
    log.info("audit %s actor=%s target=%s:%s", event_type, actor_id, target_type, target_id)
