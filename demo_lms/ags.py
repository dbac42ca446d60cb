"""Assignment and Grade Services 2.0, platform side: line items, scores, results.

Validation follows Moodle 4.5's mod/lti/service/gradebookservices: a score without userId,
an ISO 8601 timestamp, both progress values, or scoreMaximum beside scoreGiven, or for a
user who is not an enrolled student, is "Incorrect score received" (400). A score older
than the one on record is ignored and still answered 200 (AGS 2.0 section 3.4.9: "The
platform MUST NOT update a result if the last timestamp on record is later than the
incoming score update. It may just ignore the incoming score update").
"""
from __future__ import annotations

import logging
from datetime import datetime
from numbers import Real

from lti_tool.errors import NotFound
from lti_tool.extensions import db
from lti_tool.web.request_input import parse_id

from . import urls
from .errors import InvalidLineItem, InvalidScore
from .models import (DemoAccessToken, DemoCourse, DemoEnrollment, DemoLineItem, DemoResourceLink,
                     DemoScore, DemoUser)
from .vocab import ActivityProgress, CourseRole, GradingProgress

log = logging.getLogger(__name__)

LINEITEM_FIELDS = {"resourceId": "resource_id", "tag": "tag",
                   "startDateTime": "start_date_time", "endDateTime": "end_date_time"}


# ---- addressing ----
def check_type_id(token: DemoAccessToken, type_id: str | None) -> None:
    """Refuse a service URL whose ?type_id= is missing or not the caller's tool (Moodle's)."""
    if type_id != str(token.tool_id):
        raise NotFound("No such service URL for this tool: the type_id query parameter is "
                       "missing or wrong (did the query string get lost when adding a path?).")


def course_for(course_id: int) -> DemoCourse:
    """Return the course a service URL names, or 404."""
    course = db.session.get(DemoCourse, course_id)
    if course is None:
        raise NotFound("No such course.")
    return course


def lineitem_for(tool_id: int, course_id: int, lineitem_id: int) -> DemoLineItem:
    """Return the tool's line item in that course, or 404 (another tool's items stay hidden)."""
    item = db.session.get(DemoLineItem, lineitem_id)
    if item is None or item.course_id != course_id or item.tool_id != tool_id:
        raise NotFound("No such line item in this course.")
    return item


def lineitem_url(item: DemoLineItem) -> str:
    return urls.lineitem_url(item.tool.issuer, item.course_id, item.id, item.tool_id)


def lineitem_as_json(item: DemoLineItem) -> dict:
    """Return a line item as AGS represents it."""
    body = {"id": lineitem_url(item), "label": item.label, "scoreMaximum": item.score_maximum}
    if item.resource_link_id is not None:
        body["resourceLinkId"] = str(item.resource_link_id)
    for json_name, attr in LINEITEM_FIELDS.items():
        if getattr(item, attr) is not None:
            body[json_name] = getattr(item, attr)
    return body


# ---- line items ----
def list_lineitems(token: DemoAccessToken, course: DemoCourse, args) -> list[DemoLineItem]:
    """Return the tool's line items in the course, filtered as AGS 2.0 section 3.2.4 says."""
    query = db.select(DemoLineItem).filter_by(course_id=course.id, tool_id=token.tool_id)
    if args.get("resource_link_id") is not None:
        rl = args["resource_link_id"]
        query = query.filter(DemoLineItem.resource_link_id == (parse_id(rl) or -1))
    if args.get("resource_id") is not None:
        query = query.filter(DemoLineItem.resource_id == args["resource_id"])
    if args.get("tag") is not None:
        query = query.filter(DemoLineItem.tag == args["tag"])
    return list(db.session.scalars(query.order_by(DemoLineItem.id)))


def create_lineitem(token: DemoAccessToken, course: DemoCourse, body) -> DemoLineItem:
    """Create a line item from a tool's POST."""
    fields = _lineitem_fields(body, course, token, creating=True)
    item = DemoLineItem(course_id=course.id, tool_id=token.tool_id, **fields)
    db.session.add(item)
    db.session.commit()
    log.info("demo LMS: line item %s created by tool %s", item.id, token.tool_id)
    return item


def update_lineitem(token: DemoAccessToken, item: DemoLineItem, body) -> DemoLineItem:
    """Replace a line item's fields from a tool's PUT (its resource link stays)."""
    fields = _lineitem_fields(body, item.course, token, creating=False)
    for attr, value in fields.items():
        setattr(item, attr, value)
    db.session.commit()
    return item


def delete_lineitem(item: DemoLineItem) -> None:
    """Delete a line item and its scores."""
    db.session.execute(db.delete(DemoScore).where(DemoScore.lineitem_id == item.id))
    db.session.delete(item)
    db.session.commit()


def _lineitem_fields(body, course: DemoCourse, token: DemoAccessToken, creating: bool) -> dict:
    if not isinstance(body, dict):
        raise InvalidLineItem("The line item must be a JSON object.")
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise InvalidLineItem("label is required.")
    maximum = body.get("scoreMaximum")
    if not _is_number(maximum) or maximum <= 0:
        raise InvalidLineItem("scoreMaximum must be a number greater than 0.")
    fields = {"label": label.strip(), "score_maximum": float(maximum)}
    for json_name, attr in LINEITEM_FIELDS.items():
        value = body.get(json_name)
        if value is not None and not isinstance(value, str):
            raise InvalidLineItem(f"{json_name} must be a string.")
        fields[attr] = value
    if creating and body.get("resourceLinkId") is not None:
        link = db.session.get(DemoResourceLink, _int_or_none(body["resourceLinkId"]) or -1)
        if link is None or link.course_id != course.id or link.tool_id != token.tool_id:
            raise InvalidLineItem("resourceLinkId is not an activity of this tool in this course.")
        fields["resource_link_id"] = link.id
    return fields


# ---- scores ----
def record_score(item: DemoLineItem, body) -> DemoScore:
    """Validate a score like Moodle and store it; an older timestamp is kept but not applied."""
    if not isinstance(body, dict):
        raise InvalidScore("the score must be a JSON object")
    for name in ("userId", "timestamp", "activityProgress", "gradingProgress"):
        if body.get(name) in (None, ""):
            raise InvalidScore(f"{name} is required")
    timestamp = _parse_timestamp(body["timestamp"])
    if body["activityProgress"] not in set(ActivityProgress):
        raise InvalidScore(f"activityProgress {body['activityProgress']!r} is not valid")
    if body["gradingProgress"] not in set(GradingProgress):
        raise InvalidScore(f"gradingProgress {body['gradingProgress']!r} is not valid")
    given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
    if given is not None and not _is_number(given):
        raise InvalidScore("scoreGiven must be a number")
    if given is not None and maximum is None:
        raise InvalidScore("scoreMaximum is required with scoreGiven")
    if maximum is not None and (not _is_number(maximum) or maximum <= 0):
        raise InvalidScore("scoreMaximum must be a number greater than 0")
    if given is not None and given < 0:
        raise InvalidScore("scoreGiven must not be negative")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidScore("comment must be a string")
    user = _gradable_user(item, body["userId"])
    latest = latest_score(item, user)
    applied = latest is None or latest.timestamp <= timestamp
    if not applied:
        log.info("demo LMS: ignored a score for user %s on line item %s: timestamp %s is older "
                 "than the one on record (%s)", user.id, item.id, timestamp, latest.timestamp)
    score = DemoScore(lineitem_id=item.id, user_id=user.id, score_given=_float(given),
                      score_maximum=_float(maximum), comment=comment,
                      activity_progress=body["activityProgress"],
                      grading_progress=body["gradingProgress"], timestamp=timestamp,
                      applied=applied, body=body)
    db.session.add(score)
    db.session.commit()
    return score


def _parse_timestamp(value) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value:
        raise InvalidScore("timestamp must be an ISO 8601 date and time with a time zone")
    return parsed


def _gradable_user(item: DemoLineItem, user_id) -> DemoUser:
    uid = _int_or_none(user_id)
    enrollment = db.session.scalar(db.select(DemoEnrollment).filter_by(
        course_id=item.course_id, user_id=uid if uid is not None else -1, active=True))
    if enrollment is None or enrollment.role != CourseRole.STUDENT:
        raise InvalidScore(f"user {user_id!r} is not an enrolled student of this course")
    return enrollment.user


def latest_score(item: DemoLineItem, user: DemoUser) -> DemoScore | None:
    """Return the score on record (the newest applied one) for a user, or None."""
    return db.session.scalar(db.select(DemoScore).filter_by(
        lineitem_id=item.id, user_id=user.id, applied=True).order_by(
        DemoScore.timestamp.desc(), DemoScore.id.desc()).limit(1))


# ---- results ----
def results(item: DemoLineItem, user_id: str | None = None) -> list[dict]:
    """Return the line item's results, one per student with a score on record."""
    students = db.session.scalars(db.select(DemoEnrollment).filter_by(
        course_id=item.course_id, role=CourseRole.STUDENT).order_by(DemoEnrollment.id))
    base = lineitem_url(item)
    path, _, query = base.partition("?")
    out = []
    for enrollment in students:
        if user_id is not None and enrollment.user.sub != user_id:
            continue
        score = latest_score(item, enrollment.user)
        if score is None:
            continue
        result = {"id": f"{path}/results/{enrollment.user.sub}?{query}", "scoreOf": base,
                  "userId": enrollment.user.sub, "resultMaximum": item.score_maximum}
        if score.score_given is not None and score.score_maximum:
            result["resultScore"] = score.score_given / score.score_maximum * item.score_maximum
        if score.comment:
            result["comment"] = score.comment
        out.append(result)
    return out


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _float(value) -> float | None:
    return float(value) if value is not None else None


def _int_or_none(value) -> int | None:
    return parse_id(value if isinstance(value, int) else str(value))
