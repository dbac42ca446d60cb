"""The score outbox: every score for the LMS is stored first, then delivered by a job.

A grade and its outbox row are written in one transaction, so nothing is lost when the LMS
is down. The job `deliver_scores` (safe to run twice, on many replicas at once) sends due
rows with exponential backoff and jitter on network errors, 5xx and 429 (honouring
Retry-After); a permanent 4xx marks the row FAILED with the platform's reason until someone
retries it. Per submission only the newest score counts: older pending rows become
SUPERSEDED, and one score of a submission is in flight at a time, so an older score never
lands over a newer one.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from lti_tool import audit, outbound
from lti_tool.extensions import db
from lti_tool.lti import ags
from lti_tool.lti.service_token import ServiceError
from lti_tool.models import ScoreOutbox, Submission, utcnow
from lti_tool.statuses import OutboxStatus

log = logging.getLogger(__name__)

RUNNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
LEASE = timedelta(minutes=2)
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
MAX_RETRY_AFTER_SECONDS = 6 * 3600
DEFAULT_GIVE_UP_HOURS = 72
BATCH = 200
# Rows that may still be sent (or were): a newer one replaces these.
OPEN_STATUSES = (OutboxStatus.PENDING, OutboxStatus.FAILED)
LIVE_STATUSES = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.DELIVERED)
LATEST_BATCH = 1000  # submissions per query of latest_items (bound parameters stay few)


def queue_score(submission: Submission, payload: dict, timestamp: datetime) -> ScoreOutbox:
    """Add a score to the outbox in the caller's transaction; older open ones are superseded.

    A score older than one already queued or delivered is stored as SUPERSEDED at once.
    """
    db.session.flush()
    newer = db.session.scalar(select(func.count(ScoreOutbox.id)).where(
        ScoreOutbox.submission_id == submission.id,
        ScoreOutbox.status.in_(LIVE_STATUSES),
        ScoreOutbox.score_timestamp > timestamp))
    item = ScoreOutbox(submission_id=submission.id,
                       platform_id=submission.assignment.course.platform_id,
                       payload=payload, score_timestamp=timestamp,
                       status=OutboxStatus.PENDING, next_attempt_at=utcnow(), attempts=0)
    if newer:
        item.status = OutboxStatus.SUPERSEDED
        log.info("score for submission %s at %s is older than one queued: superseded",
                 submission.id, timestamp)
    else:
        db.session.execute(update(ScoreOutbox).where(
            ScoreOutbox.submission_id == submission.id,
            ScoreOutbox.status.in_(OPEN_STATUSES),
            ScoreOutbox.score_timestamp <= timestamp).values(status=OutboxStatus.SUPERSEDED))
    db.session.add(item)
    db.session.flush()
    return item


def retry(submission: Submission) -> ScoreOutbox | None:
    """Send the submission's latest failed score again (back to pending, due now)."""
    item = latest_items([submission.id]).get(submission.id)
    if item is None or item.status != OutboxStatus.FAILED:
        return None
    item.status = OutboxStatus.PENDING
    item.attempts = 0
    item.next_attempt_at = utcnow()
    item.created_at = utcnow()  # the give-up clock starts again
    item.last_error = None
    return item


def retry_failed_scores(platform_id: int, actor=None) -> int:
    """Send every failed score of a platform's courses again ("retry all failed", after
    an admin fixed what the LMS refused); return how many (the caller commits)."""
    ids = db.session.scalars(
        select(ScoreOutbox.id).where(ScoreOutbox.platform_id == platform_id,
                                     ScoreOutbox.status == OutboxStatus.FAILED)).all()
    if not ids:
        return 0
    now = utcnow()
    db.session.execute(update(ScoreOutbox).where(ScoreOutbox.id.in_(ids)).values(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now,
        last_error=None).execution_options(synchronize_session=False))
    audit.record(audit.EventType.SCORES_RETRIED, actor=actor, platform_id=platform_id,
                 count=len(ids))
    log.info("%d failed scores of platform %s queued again", len(ids), platform_id)
    return len(ids)


def is_notice(item: ScoreOutbox) -> bool:
    """Tell whether a score only says the student submitted (it carries no grade).

    A notice the LMS did not take is not a grade the LMS refused: counts of refused
    grades leave it out.
    """
    return (item.payload or {}).get("scoreGiven") is None


def passback_health(platform_id: int) -> dict:
    """Count a platform's scores on their way to the LMS: pending, failed grades, failed
    submitted notices, and when the oldest pending one was queued (for the dashboard)."""
    rows = db.session.execute(
        select(ScoreOutbox.status, ScoreOutbox.payload, ScoreOutbox.created_at)
        .where(ScoreOutbox.platform_id == platform_id,
               ScoreOutbox.status.in_(OPEN_STATUSES))).all()
    pending = [r.created_at for r in rows if r.status == OutboxStatus.PENDING]
    failed = [r for r in rows if r.status == OutboxStatus.FAILED]
    notices = sum(1 for r in failed if is_notice(r))
    return {"pending": len(pending), "failed_grades": len(failed) - notices,
            "failed_notices": notices, "oldest_pending_at": min(pending, default=None)}


def latest_items(submission_ids) -> dict[int, ScoreOutbox]:
    """Return each submission's newest live outbox row (what the gradebook has or will get)."""
    ids = sorted(set(submission_ids))
    found: dict[int, ScoreOutbox] = {}
    # Ranked by submission through ix_outbox_submission, then fetched by primary key: no
    # scan of other courses' rows (a max(id) ... IN (...) made PostgreSQL hash every row).
    for start in range(0, len(ids), LATEST_BATCH):
        ranked = (select(ScoreOutbox.id, func.row_number().over(
            partition_by=ScoreOutbox.submission_id,
            order_by=ScoreOutbox.id.desc()).label("rank"))
            .where(ScoreOutbox.submission_id.in_(ids[start:start + LATEST_BATCH]),
                   ScoreOutbox.status.in_(LIVE_STATUSES))).subquery()
        found.update((row.submission_id, row) for row in db.session.scalars(
            select(ScoreOutbox).join(ranked, ranked.c.id == ScoreOutbox.id)
            .where(ranked.c.rank == 1)))
    return found


def grade_not_in_lms(submission_id):
    """Return an SQL condition: the submission has something the LMS gradebook has not got.

    A score still on its way (pending) or refused (failed) is open until delivered (a newer
    one supersedes it, so any open row is the latest news); a grade held back from release
    has not been sent at all. Retention keeps such a submission's videos.
    """
    score, graded = aliased(ScoreOutbox), aliased(Submission)  # never the outer query's
    open_score = exists().where(score.submission_id == submission_id,
                                score.status.in_(OPEN_STATUSES))
    held_grade = exists().where(graded.id == submission_id, graded.score_given.is_not(None),
                                graded.released.is_(False))
    return or_(open_score, held_grade)


# ---- delivery --------------------------------------------------------------------------

def deliver_scores(limit: int = BATCH) -> dict[str, int]:
    """Deliver due scores, one claimed row at a time; return counts by outcome (the job)."""
    counts = {"delivered": 0, "retry": 0, "failed": 0, "superseded": 0}
    tried: set[int] = set()
    for _ in range(limit):
        item_id = _claim_next(tried)
        if item_id is None:
            break
        tried.add(item_id)
        counts[_deliver(item_id)] += 1
    if any(counts.values()):
        log.info("score outbox run: %s", counts)
    return counts


def _due_filter(now: datetime):
    return and_(ScoreOutbox.status == OutboxStatus.PENDING, ScoreOutbox.next_attempt_at <= now,
                or_(ScoreOutbox.claimed_until.is_(None), ScoreOutbox.claimed_until < now))


def _claim_next(skip: set[int]) -> int | None:
    """Claim one due row for this runner and commit the claim; None when nothing is due.

    PostgreSQL: the candidate and its submission are locked FOR UPDATE SKIP LOCKED, so
    concurrent runners pass each other by. Elsewhere the claim is one atomic UPDATE whose
    WHERE re-checks that the row is still due and no sibling is in flight.
    """
    now = utcnow()
    postgres = db.session.get_bind().dialect.name == "postgresql"
    query = (select(ScoreOutbox.id, ScoreOutbox.submission_id).where(_due_filter(now))
             .order_by(ScoreOutbox.next_attempt_at, ScoreOutbox.id).limit(20))
    if skip:
        query = query.where(ScoreOutbox.id.not_in(skip))
    if postgres:
        query = query.with_for_update(skip_locked=True, of=ScoreOutbox)
    for item_id, submission_id in db.session.execute(query).all():
        if postgres and db.session.scalar(
                select(Submission.id).where(Submission.id == submission_id)
                .with_for_update(skip_locked=True)) is None:
            continue  # another runner is working on this submission's scores
        sibling = aliased(ScoreOutbox)
        in_flight = exists().where(sibling.submission_id == submission_id,
                                   sibling.id != item_id, sibling.claimed_until > now)
        claimed = db.session.execute(
            update(ScoreOutbox)
            .where(ScoreOutbox.id == item_id, _due_filter(now), ~in_flight)
            .values(claimed_until=now + LEASE, claimed_by=RUNNER,
                    attempts=ScoreOutbox.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        if claimed == 1:
            db.session.commit()
            return item_id
    db.session.commit()
    return None


def _deliver(item_id: int) -> str:
    """Send one claimed row and record the outcome; return the outcome's name."""
    item = db.session.get(ScoreOutbox, item_id)
    db.session.refresh(item)
    submission = item.submission
    assignment = submission.assignment
    newer = db.session.scalar(select(func.count(ScoreOutbox.id)).where(
        ScoreOutbox.submission_id == item.submission_id, ScoreOutbox.id != item.id,
        ScoreOutbox.status.in_(LIVE_STATUSES),
        ScoreOutbox.score_timestamp > item.score_timestamp))
    if newer:
        return _finish(item, OutboxStatus.SUPERSEDED, "superseded")
    try:
        ags.send_score(assignment, item.payload)
    except ServiceError as exc:
        if exc.retryable:
            return _schedule_retry(item, exc.message, exc.retry_after)
        audit.record(audit.EventType.SCORE_FAILED, platform_id=assignment.course.platform_id,
                     course_id=assignment.course_id, target=item, status=exc.status,
                     reason=exc.message)
        item.last_error = exc.message
        log.warning("score %s for submission %s failed: %s", item.id, submission.id, exc.message)
        return _finish(item, OutboxStatus.FAILED, "failed")
    except Exception as exc:  # a bug must not lose the score: keep it and retry later
        db.session.rollback()
        item = db.session.get(ScoreOutbox, item_id)
        log.exception("unexpected error delivering score %s", item_id)
        return _schedule_retry(item, f"Internal error ({type(exc).__name__}); will retry.", None)
    item.delivered_at = utcnow()
    item.last_error = None
    audit.record(audit.EventType.SCORE_DELIVERED, platform_id=assignment.course.platform_id,
                 course_id=assignment.course_id, target=item, attempts=item.attempts,
                 activity=item.payload.get("activityProgress"),
                 grading=item.payload.get("gradingProgress"))
    return _finish(item, OutboxStatus.DELIVERED, "delivered")


def _schedule_retry(item: ScoreOutbox, reason: str, retry_after: float | None) -> str:
    """Put the row back in the queue after a backoff, or fail it when it is too old."""
    now = utcnow()
    give_up = timedelta(hours=current_app.config.get("OUTBOX_GIVE_UP_HOURS",
                                                      DEFAULT_GIVE_UP_HOURS))
    item.last_error = reason
    if now - item.created_at > give_up:
        item.last_error = (f"The LMS could not be reached for {give_up.total_seconds() / 3600:g} "
                           f"hours. Last error: {reason}")
        submission = item.submission
        audit.record(audit.EventType.SCORE_FAILED, platform_id=submission.assignment.course
                     .platform_id, course_id=submission.assignment.course_id, target=item,
                     reason=item.last_error)
        return _finish(item, OutboxStatus.FAILED, "failed")
    delay = backoff_seconds(item.attempts)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    item.next_attempt_at = now + timedelta(seconds=delay)
    log.info("score %s: %s; retry in %.0f s (attempt %s)", item.id, reason, delay, item.attempts)
    return _finish(item, OutboxStatus.PENDING, "retry")


def backoff_seconds(attempts: int) -> float:
    """Return the wait before the next try after `attempts` failed ones."""
    return outbound.backoff_delay(attempts - 1, BASE_DELAY_SECONDS, MAX_DELAY_SECONDS)


def _finish(item: ScoreOutbox, status: OutboxStatus, outcome: str) -> str:
    """Release the claim and set the status, unless a newer score superseded the row meanwhile."""
    db.session.flush()  # last_error, next_attempt_at, delivered_at as set on the item
    still_open = db.session.execute(
        update(ScoreOutbox).where(ScoreOutbox.id == item.id,
                                  ScoreOutbox.status == OutboxStatus.PENDING,
                                  ScoreOutbox.claimed_by == RUNNER)
        .values(status=status, claimed_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)).rowcount
    if not still_open:
        db.session.execute(update(ScoreOutbox).where(ScoreOutbox.id == item.id,
                                                     ScoreOutbox.claimed_by == RUNNER)
                           .values(claimed_until=None, claimed_by=None)
                           .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire_all()
    return outcome


@dataclass(frozen=True)
class LmsState:
    """What reached the LMS gradebook for one submission, in the words the pages show."""

    label: str
    css: str  # badge modifier: delivered, pending, failed, held, none
    title: str = ""
    held: bool = False  # a grade is saved but held back (never sent until released)


LMS_NOTHING_SENT = LmsState("Nothing sent", "none")


def lms_state(item: ScoreOutbox | None, submission: Submission | None) -> LmsState:
    """Say what the LMS really holds: a reported submission, a grade, a failed delivery.

    A delivered row without `scoreGiven` only told the LMS that work was handed in: it is
    "Submission reported", never "Grade in LMS". A held grade is named as such, beside
    whatever was sent before it.
    """
    held = (submission is not None and submission.graded_at is not None
            and not submission.released)
    if item is None:
        state = LMS_NOTHING_SENT
    elif item.status == OutboxStatus.DELIVERED:
        when = f"since {item.delivered_at:%Y-%m-%d %H:%M} UTC" if item.delivered_at else ""
        if item.payload.get("scoreGiven") is not None:
            state = LmsState("Grade in LMS", "delivered", f"The grade is in the LMS {when}")
        else:
            state = LmsState("Submission reported", "reported",
                             f"The LMS knows the work was handed in {when}; no grade sent")
    elif item.status == OutboxStatus.FAILED and is_notice(item):
        # Only the "submitted" notice: no grade was refused.
        state = LmsState("Submission not noted in LMS", "pending",
                         "The LMS did not take the notice that the student submitted; no "
                         "grade was refused")
    elif item.status == OutboxStatus.FAILED:
        state = LmsState("Delivery failed", "failed", item.last_error or "")
    elif item.last_error:
        state = LmsState("Delivery failed (retrying)", "pending",
                         f"Try {item.attempts} failed, trying again: {item.last_error}")
    else:
        state = LmsState("Sending", "pending", "On its way to the LMS")
    return LmsState(state.label, state.css, state.title, held) if held else state
