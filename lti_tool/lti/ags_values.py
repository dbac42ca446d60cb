"""AGS and NRPS values named once: progress values, media types, score fields, scopes.

Scope URIs live in claims.py (the tool's one list of LTI URIs); they are re-exported here so
the grade-passback code reads from one place. Sources: LTI AGS 2.0 sections 3.2-3.4
(https://www.imsglobal.org/spec/lti-ags/v2p0) and NRPS 2.0 section 2.
"""
from __future__ import annotations

from enum import StrEnum

from lti_tool.lti.claims import (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_NRPS,  # noqa: F401
                                 SCOPE_RESULT_READONLY, SCOPE_SCORE)

LINEITEM_READ_SCOPES = frozenset({SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY})


class ActivityProgress(StrEnum):
    """How far the student got (AGS 2.0, 3.4.6)."""

    INITIALIZED = "Initialized"
    STARTED = "Started"
    IN_PROGRESS = "InProgress"
    SUBMITTED = "Submitted"
    COMPLETED = "Completed"


class GradingProgress(StrEnum):
    """Where the grading stands (AGS 2.0, 3.4.7)."""

    FULLY_GRADED = "FullyGraded"
    PENDING = "Pending"
    PENDING_MANUAL = "PendingManual"
    FAILED = "Failed"
    NOT_READY = "NotReady"


class MediaType(StrEnum):
    """Content types of the service payloads."""

    SCORE = "application/vnd.ims.lis.v1.score+json"
    LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
    LINEITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
    RESULT_CONTAINER = "application/vnd.ims.lis.v2.resultcontainer+json"
    MEMBERSHIP_CONTAINER = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


# Canvas's score extension: tells Canvas when the student submitted (Canvas LTI AGS docs).
CANVAS_SUBMISSION_EXT = "https://canvas.instructure.com/lti/submission"
CANVAS_FAMILY = "canvas"

# Our tag on the line items we create (by deep linking or AGS), so we can find them again
# when the launch claim has only the `lineitems` container (Moodle drops `lineitem` once a
# link has two items), with the resourceId we gave the item, which deep linking records in
# the link's custom parameters.
LINEITEM_TAG = "video-assignment"
CUSTOM_LINEITEM_RESOURCE_ID = "lineitem_resource_id"

# NRPS 2.0, 2.3: a member's status; absent means Active.
MEMBER_ACTIVE = "Active"
MEMBER_INACTIVE = "Inactive"
MEMBER_DELETED = "Deleted"
