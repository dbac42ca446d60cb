"""LTI Assignment and Grade Services 2.0: the assignment's line item and its scores.

https://www.imsglobal.org/spec/lti-ags/v2p0 . The line item comes from the launch claim (or
deep linking); otherwise we look for ours in the line items container by resourceLinkId or
tag, and create it only when the platform granted the line-item scope. Moodle's "grade sync
only" grants the score scope alone: then no line-item call is made at all.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from lti_tool.extensions import db
from lti_tool.lti.ags_values import (CANVAS_FAMILY, CANVAS_SUBMISSION_EXT,
                                     CUSTOM_LINEITEM_RESOURCE_ID, LINEITEM_READ_SCOPES,
                                     LINEITEM_TAG, SCOPE_LINEITEM, SCOPE_SCORE, ActivityProgress,
                                     GradingProgress, MediaType)
from lti_tool.lti.service_token import ScopeNotGranted, ServiceRefused, iter_pages, service_request
from lti_tool.models import Assignment, utcnow
from lti_tool.statuses import DueSource

log = logging.getLogger(__name__)

REVIEWABLE_STATUS = (ActivityProgress.SUBMITTED, ActivityProgress.COMPLETED)

# Re-read the line item (scoreMaximum, endDateTime) when older than this.
LINEITEM_STALE_AFTER = timedelta(minutes=10)


def scores_url(lineitem_url: str) -> str:
    """Return the scores endpoint of a line item: `/scores` goes before the query string."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def granted_scopes(assignment: Assignment) -> frozenset[str]:
    """Return the AGS scopes the platform granted for this assignment's link."""
    return frozenset(assignment.ags_scopes or ())


def has_gradebook(assignment: Assignment) -> bool:
    """Tell whether the platform offered AGS for this link at all."""
    return bool(assignment.lineitem_url or assignment.lineitems_url)


def iso(moment: datetime) -> str:
    """Format a timestamp as ISO 8601 with its timezone, as Moodle and Canvas require."""
    return moment.isoformat(timespec="milliseconds")


def parse_iso(value) -> datetime | None:
    """Parse an ISO 8601 timestamp from a platform, or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        log.info("ignoring unreadable timestamp %r from the platform", value)
        return None
    if parsed.tzinfo is None:
        return None  # an endDateTime without zone cannot be placed in time
    return parsed


# ---- line items ---------------------------------------------------------------------------

def lineitem_url(assignment: Assignment) -> str:
    """Return the assignment's line item URL, finding or creating it when allowed."""
    if assignment.lineitem_url:
        return assignment.lineitem_url
    if not assignment.lineitems_url:
        raise ServiceRefused("The LMS offered no gradebook column for this activity "
                             "(no Assignment and Grade Services endpoint in the launch).")
    scopes = granted_scopes(assignment)
    item = find_lineitem(assignment) if scopes & LINEITEM_READ_SCOPES else None
    if item is None and SCOPE_LINEITEM in scopes:
        item = create_lineitem(assignment)
    if item is None:
        raise ScopeNotGranted(
            "The LMS did not tell the tool which gradebook column belongs to this activity, "
            "and did not allow it to look for or create one (line-item scope).")
    apply_lineitem(assignment, item)
    return assignment.lineitem_url


def find_lineitem(assignment: Assignment) -> dict | None:
    """Find this link's line item in the container: resourceLinkId first, then our tag."""
    platform = assignment.course.platform
    read_scope = _read_scope(assignment)
    by_tag = None
    for page in iter_pages(platform, [read_scope], assignment.lineitems_url,
                           accept=MediaType.LINEITEM_CONTAINER,
                           params={"resource_link_id": assignment.resource_link_id}):
        for item in page if isinstance(page, list) else []:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            if item.get("resourceLinkId") == assignment.resource_link_id:
                return item
            if by_tag is None and not item.get("resourceLinkId") and (
                    item.get("tag") == LINEITEM_TAG
                    and item.get("resourceId") == _resource_id(assignment)):
                by_tag = item
    return by_tag


def create_lineitem(assignment: Assignment) -> dict:
    """Create the assignment's gradebook column (needs the line-item scope)."""
    body = {"scoreMaximum": assignment.max_score or 100, "label": assignment.title,
            "resourceLinkId": assignment.resource_link_id, "tag": LINEITEM_TAG,
            "resourceId": _resource_id(assignment),
            # The gradebook may open a student's submission in the tool (LTI Submission
            # Review 1.0, section 2.1): once handed in or graded.
            "submissionReview": {"reviewableStatus": list(REVIEWABLE_STATUS),
                                 "label": "Open the video submission"}}
    if assignment.due_at:
        body["endDateTime"] = iso(assignment.due_at)
    resp = service_request(assignment.course.platform, [SCOPE_LINEITEM], "POST",
                           assignment.lineitems_url, json=body, accept=MediaType.LINEITEM,
                           content_type=MediaType.LINEITEM)
    try:
        item = resp.json()
    except ValueError:
        item = None
    if not isinstance(item, dict) or not item.get("id"):
        raise ServiceRefused("The LMS created no usable gradebook column (no id returned).")
    log.info("created line item %s for assignment %s", item["id"], assignment.id)
    return item


def refresh_lineitem(assignment: Assignment, *, force: bool = False) -> bool:
    """Re-read scoreMaximum and endDateTime from the line item when stale; tell if read."""
    if not assignment.lineitem_url or not (granted_scopes(assignment) & LINEITEM_READ_SCOPES):
        return False
    synced = assignment.lineitem_synced_at
    if not force and synced is not None and utcnow() - synced < LINEITEM_STALE_AFTER:
        return False
    resp = service_request(assignment.course.platform, [_read_scope(assignment)], "GET",
                           assignment.lineitem_url, accept=MediaType.LINEITEM)
    try:
        item = resp.json()
    except ValueError:
        item = None
    if isinstance(item, dict):
        apply_lineitem(assignment, item)
    return True


def apply_lineitem(assignment: Assignment, item: dict) -> None:
    """Take the line item's URL, maximum score and end date into the assignment."""
    assignment.lineitem_url = item.get("id") or assignment.lineitem_url
    maximum = item.get("scoreMaximum")
    if isinstance(maximum, (int, float)) and maximum > 0:
        assignment.max_score = float(maximum)
    end = parse_iso(item.get("endDateTime"))
    # The instructor's date stays; a column without end date leaves the assignment's own.
    if "endDateTime" in item and assignment.due_source != DueSource.TOOL and (
            end or assignment.due_source != DueSource.LMS_ASSIGNMENT):
        assignment.due_at = end
        assignment.due_source = DueSource.LMS if end else None
    assignment.lineitem_synced_at = utcnow()


def _read_scope(assignment: Assignment) -> str:
    scopes = granted_scopes(assignment)
    return SCOPE_LINEITEM if SCOPE_LINEITEM in scopes else next(iter(
        scopes & LINEITEM_READ_SCOPES))


def _resource_id(assignment: Assignment) -> str:
    """Return the resourceId of the assignment's column: the one deep linking gave it, else
    ours for columns this tool creates by AGS."""
    recorded = (assignment.custom or {}).get(CUSTOM_LINEITEM_RESOURCE_ID)
    return recorded if isinstance(recorded, str) and recorded else f"assignment-{assignment.id}"


# ---- scores -------------------------------------------------------------------------------

def build_score(*, user_sub: str, timestamp: datetime, activity: ActivityProgress,
                grading: GradingProgress, score_given: float | None = None,
                score_maximum: float | None = None, comment: str | None = None,
                submitted_at: datetime | None = None, new_submission: bool = False,
                product_family: str | None = None) -> dict:
    """Build an AGS score (3.4) that Moodle accepts and Canvas understands."""
    score = {"userId": user_sub, "timestamp": iso(timestamp),
             "activityProgress": str(activity), "gradingProgress": str(grading)}
    if score_given is not None:
        score["scoreGiven"] = score_given
        score["scoreMaximum"] = score_maximum
    if comment:
        score["comment"] = comment
    if product_family == CANVAS_FAMILY and submitted_at is not None:
        score[CANVAS_SUBMISSION_EXT] = {"new_submission": new_submission,
                                        "submitted_at": iso(submitted_at)}
    return score


def send_score(assignment: Assignment, score: dict) -> None:
    """POST one score to the assignment's line item (needs the score scope); commits first."""
    if SCOPE_SCORE not in granted_scopes(assignment):
        raise ScopeNotGranted(
            "The LMS did not allow this tool to send grades (the AGS score scope was not "
            "granted). Ask the LMS administrator to enable grade sync for the tool.")
    url = lineitem_url(assignment)
    # Keep a line item we found or created, and hold no write lock while the LMS answers.
    db.session.commit()
    service_request(assignment.course.platform, [SCOPE_SCORE], "POST", scores_url(url),
                    json=score, content_type=MediaType.SCORE)
