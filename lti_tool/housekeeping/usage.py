"""The usage report (a monthly job): per course, uploads and their minutes in the month,
what storage holds at the end of it, what was played in the month, and the estimated cost
at list prices.

Each report is kept in its job run (JobRun.counts, kept for ever) and downloadable as CSV
(`flask --app wsgi reports usage`; a platform's courses from its admin dashboard). Prices are the settings the dashboard uses.

Minutes delivered are estimated from the audit log: each playback grant in the month
(`playback_granted`, one per time a viewer opens a video) counts as the whole video
watched once, its duration in minutes (its size in bytes for S3 transfer). That is an upper
bound: viewers stop early, and a video watched for longer than PLAYBACK_URL_TTL_SECONDS
asks again. Cloudflare bills minutes delivered (PRICE_CLOUDFLARE_DELIVERED_PER_1000_MINUTES),
S3 bytes transferred out (PRICE_S3_TRANSFER_PER_GB); the local disk has no bill.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from sqlalchemy import String, case, cast, func, select

from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.models import AuditEvent, Assignment, Course, JobRun, Submission, Video, utcnow
from lti_tool.settings import get_setting
from lti_tool.statuses import VideoStatus

JOB_NAME = "usage_report"
GB = 1024 ** 3
# Today's list prices (US dollars), used when no setting says otherwise.
DEFAULT_PRICES = {"PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES": 5.0,
                  "PRICE_CLOUDFLARE_DELIVERED_PER_1000_MINUTES": 1.0,
                  "PRICE_S3_STORAGE_PER_GB_MONTH": 0.023,
                  "PRICE_S3_TRANSFER_PER_GB": 0.09}
COLUMNS = ["period", "platform_id", "course_id", "course", "uploads", "upload_minutes",
           "stored_videos", "stored_bytes", "stored_minutes", "estimated_storage_cost_usd",
           "plays", "delivered_minutes", "delivered_bytes", "estimated_delivery_cost_usd",
           "estimated_cost_usd"]
PARTIAL_SUFFIX = " so far"  # the period of a month not over yet ("2026-12 so far")
ROUNDED = {"upload_minutes": 1, "stored_minutes": 1, "delivered_minutes": 1,
           "estimated_storage_cost_usd": 2, "estimated_delivery_cost_usd": 2,
           "estimated_cost_usd": 2}


def previous_month(now: datetime) -> tuple[datetime, datetime]:
    """Return the first moments of last month and of this month (UTC)."""
    this = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0,
                                                microsecond=0)
    last = (this.replace(year=this.year - 1, month=12) if this.month == 1
            else this.replace(month=this.month - 1))
    return last, this


def _price(name: str) -> float:
    return float(get_setting(name, DEFAULT_PRICES[name]))


def _storage_cost(backend: str, stored_bytes: int, stored_minutes: float) -> float:
    if backend == "cloudflare":
        return stored_minutes * _price("PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES") / 1000
    if backend == "s3":
        return stored_bytes / GB * _price("PRICE_S3_STORAGE_PER_GB_MONTH")
    return 0.0  # the server's own disk: no provider bill


def _delivery_cost(backend: str, delivered_bytes: int, delivered_minutes: float) -> float:
    if backend == "cloudflare":
        return delivered_minutes * _price("PRICE_CLOUDFLARE_DELIVERED_PER_1000_MINUTES") / 1000
    if backend == "s3":
        return delivered_bytes / GB * _price("PRICE_S3_TRANSFER_PER_GB")
    return 0.0


def _deliveries(start: datetime, end: datetime):
    """Return (course, backend, plays, minutes, bytes) played in [start, end): each playback
    grant counted as its whole video once (see the module's doc)."""
    return db.session.execute(
        select(AuditEvent.course_id, Video.backend, func.count(AuditEvent.id).label("plays"),
               func.coalesce(func.sum(Video.duration_seconds), 0.0).label("seconds"),
               func.coalesce(func.sum(Video.size_bytes), 0).label("bytes"))
        .select_from(AuditEvent)
        .join(Video, cast(Video.id, String) == AuditEvent.target_id)
        .where(AuditEvent.event_type == EventType.PLAYBACK_GRANTED,
               AuditEvent.target_type == Video.__tablename__,
               AuditEvent.course_id.is_not(None),
               AuditEvent.at >= start, AuditEvent.at < end)
        .group_by(AuditEvent.course_id, Video.backend)).all()


def _blank(period: str, course_id: int, platform_id: int, title: str | None) -> dict:
    entry = {key: 0 for key in COLUMNS[4:]}
    entry.update({key: 0.0 for key in ROUNDED})
    entry.update(period=period, platform_id=platform_id, course_id=course_id,
                 course=title or "")
    return entry


def usage_report(now: datetime | None = None) -> dict:
    """Build last month's usage per course (the job's counts; safe to run twice)."""
    start, end = previous_month(now or utcnow())
    return month_usage(start, end, start.strftime("%Y-%m"))


def month_so_far(platform_id: int, now: datetime | None = None) -> dict:
    """Build this month's usage per course of one platform from its first day to now,
    computed on demand; its period says it is partial ("2026-12 so far")."""
    end = (now or utcnow()).astimezone(timezone.utc)
    start = previous_month(end)[1]
    return month_usage(start, end, start.strftime("%Y-%m") + PARTIAL_SUFFIX, platform_id)


def month_usage(start: datetime, end: datetime, period: str,
                platform_id: int | None = None) -> dict:
    """Build the usage per course in [start, end) (of one platform, or of every one)."""
    in_month = (Video.created_at >= start) & (Video.created_at < end)
    stored = (Video.status == VideoStatus.READY) & (Video.created_at < end)
    minutes = func.coalesce(Video.duration_seconds, 0) / 60.0
    rows = db.session.execute(
        select(Course.id, Course.platform_id, Course.title, Video.backend,
               func.sum(case((in_month, 1), else_=0)).label("uploads"),
               func.sum(case((in_month, minutes), else_=0)).label("upload_minutes"),
               func.sum(case((stored, 1), else_=0)).label("stored_videos"),
               func.sum(case((stored, func.coalesce(Video.size_bytes, 0)), else_=0))
               .label("stored_bytes"),
               func.sum(case((stored, minutes), else_=0)).label("stored_minutes"))
        .select_from(Video)
        .join(Submission, Video.submission_id == Submission.id)
        .join(Assignment, Submission.assignment_id == Assignment.id)
        .join(Course, Assignment.course_id == Course.id)
        .where(Course.platform_id == platform_id if platform_id is not None else True)
        .group_by(Course.id, Course.platform_id, Course.title, Video.backend)
        .order_by(Course.id)).all()
    courses: dict[int, dict] = {}
    for row in rows:
        entry = courses.setdefault(row.id, _blank(period, row.id, row.platform_id, row.title))
        entry["uploads"] += int(row.uploads or 0)
        entry["upload_minutes"] += float(row.upload_minutes or 0)
        entry["stored_videos"] += int(row.stored_videos or 0)
        entry["stored_bytes"] += int(row.stored_bytes or 0)
        entry["stored_minutes"] += float(row.stored_minutes or 0)
        entry["estimated_storage_cost_usd"] += _storage_cost(
            row.backend, int(row.stored_bytes or 0), float(row.stored_minutes or 0))
    for row in _deliveries(start, end):
        entry = courses.get(row.course_id)
        if entry is None:  # played, its videos since gone from the course's rows
            course = db.session.get(Course, row.course_id)
            if course is None or platform_id not in (None, course.platform_id):
                continue
            entry = courses[course.id] = _blank(period, course.id, course.platform_id,
                                                course.title)
        minutes, size = float(row.seconds or 0) / 60, int(row.bytes or 0)
        entry["plays"] += int(row.plays or 0)
        entry["delivered_minutes"] += minutes
        entry["delivered_bytes"] += size
        entry["estimated_delivery_cost_usd"] += _delivery_cost(row.backend, size, minutes)
    listed = [entry for entry in courses.values()
              if entry["uploads"] or entry["stored_videos"] or entry["plays"]]
    for entry in listed:
        entry["estimated_cost_usd"] = (entry["estimated_storage_cost_usd"]
                                       + entry["estimated_delivery_cost_usd"])
        for key, digits in ROUNDED.items():
            entry[key] = round(entry[key], digits)
    listed.sort(key=lambda e: e["course_id"])
    totals = {key: round(sum(e[key] for e in listed), 2) for key in COLUMNS[4:]}
    return {"period": period, "courses_count": len(listed), **totals, "courses": listed}


def stored_report(period: str | None = None) -> JobRun | None:
    """Return the kept run of the usage report for `period` (YYYY-MM), or the newest."""
    query = select(JobRun).where(JobRun.name == JOB_NAME, JobRun.ok.is_(True),
                                 JobRun.dry_run.is_(False)).order_by(JobRun.id.desc())
    for run in db.session.scalars(query):
        if period is None or (run.counts or {}).get("period") == period:
            return run
    return None


def report_csv(counts: dict) -> str:
    """Write a kept report's courses as CSV (one row per course)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for entry in counts.get("courses") or []:
        writer.writerow({key: _safe_cell(entry.get(key)) for key in COLUMNS})
    return out.getvalue()


def _safe_cell(value):
    """Keep a spreadsheet from reading a course title as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
