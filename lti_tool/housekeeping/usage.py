"""The usage report (a monthly job): per course, uploads and their minutes in the month,
what storage holds at the end of it, and its estimated monthly cost at list prices.

Each report is kept in its job run (JobRun.counts, kept for ever) and downloadable as CSV
(`flask --app wsgi reports usage`). Prices are the settings the dashboard uses
(PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES, PRICE_S3_STORAGE_PER_GB_MONTH); delivery is not
counted per course.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from sqlalchemy import case, func, select

from lti_tool.extensions import db
from lti_tool.models import Assignment, Course, JobRun, Submission, Video, utcnow
from lti_tool.settings import get_setting
from lti_tool.statuses import VideoStatus

JOB_NAME = "usage_report"
GB = 1024 ** 3
# Today's list prices (US dollars), used when no setting says otherwise.
DEFAULT_PRICES = {"PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES": 5.0,
                  "PRICE_S3_STORAGE_PER_GB_MONTH": 0.023}
COLUMNS = ["period", "platform_id", "course_id", "course", "uploads", "upload_minutes",
           "stored_videos", "stored_bytes", "stored_minutes", "estimated_storage_cost_usd"]


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


def usage_report(now: datetime | None = None) -> dict:
    """Build last month's usage per course (the job's counts; safe to run twice)."""
    start, end = previous_month(now or utcnow())
    period = start.strftime("%Y-%m")
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
        .group_by(Course.id, Course.platform_id, Course.title, Video.backend)
        .order_by(Course.id)).all()
    courses: dict[int, dict] = {}
    for row in rows:
        entry = courses.setdefault(row.id, {
            "period": period, "platform_id": row.platform_id, "course_id": row.id,
            "course": row.title or "", "uploads": 0, "upload_minutes": 0.0,
            "stored_videos": 0, "stored_bytes": 0, "stored_minutes": 0.0,
            "estimated_storage_cost_usd": 0.0})
        entry["uploads"] += int(row.uploads or 0)
        entry["upload_minutes"] += float(row.upload_minutes or 0)
        entry["stored_videos"] += int(row.stored_videos or 0)
        entry["stored_bytes"] += int(row.stored_bytes or 0)
        entry["stored_minutes"] += float(row.stored_minutes or 0)
        entry["estimated_storage_cost_usd"] += _storage_cost(
            row.backend, int(row.stored_bytes or 0), float(row.stored_minutes or 0))
    listed = [entry for entry in courses.values() if entry["uploads"] or entry["stored_videos"]]
    for entry in listed:
        for key in ("upload_minutes", "stored_minutes"):
            entry[key] = round(entry[key], 1)
        entry["estimated_storage_cost_usd"] = round(entry["estimated_storage_cost_usd"], 2)
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
