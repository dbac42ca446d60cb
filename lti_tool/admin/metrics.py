"""What the dashboard shows, computed in the database for one platform.

Each function makes a few aggregate queries (no row per video travels to Python), so the
dashboard's cost grows with the window and the number of days, not with the platform's size.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Select, String, and_, case, cast, func, select

from lti_tool.admin.site_settings import (TARGET_ERROR, TARGET_PLAYBACK_SUCCESS,
                                         TARGET_UPLOAD_SUCCESS)
from lti_tool.audit import EventType
from lti_tool.extensions import db
from lti_tool.grading import outbox
from lti_tool.models import (Assignment, AuditEvent, Course, JobRun, ScoreOutbox, Submission,
                             User, Video, utcnow)
from lti_tool.settings import get_setting
from lti_tool.statuses import OutboxStatus, VideoStatus
from lti_tool.uploads.attempts import ABANDONED, CLOSED_WHILE_UPLOADING

WINDOW_DAYS = 30
RECENT_FAILURES = 10
GB = 1_000_000_000  # providers bill decimal gigabytes
# Attempts that ended in error by the student's or the course's doing, not the tool's: a
# newer upload replaced them, or the work was graded or locked while they uploaded.
NOT_FAILURES = frozenset({ABANDONED, *CLOSED_WHILE_UPLOADING})
# Videos whose bytes the storage holds.
STORED_STATES = (VideoStatus.READY, VideoStatus.PROCESSING)


def platform_videos(platform_id: int, *columns) -> Select:
    """Select columns of the platform's videos (the platform is on the row: no join)."""
    return select(*columns).select_from(Video).where(Video.platform_id == platform_id)


def _failed():
    """Return the condition of an attempt that failed by the tool's or the video's doing."""
    return and_(Video.status == VideoStatus.ERROR,
                func.coalesce(Video.error_code, "").notin_(NOT_FAILURES))


def _day(column):
    """Return the UTC day (YYYY-MM-DD text) of a timestamp column, in the database's dialect."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


@dataclass(frozen=True)
class DayCount:
    """Uploads started on one day, and how many of them failed."""

    day: date
    uploads: int
    failed: int


@dataclass(frozen=True)
class WindowVideos:
    """The window's uploads, counted once for the chart, the rates and the breakdown.

    `groups` maps (UTC day, status, error code, started within the last `days` days to the
    second) to a count: one query over the window's videos, where three used to join every
    submission of the platform each (bench/admin_bench.py).
    """

    first: date
    days: int
    groups: dict[tuple[str, str, str | None, bool], int]

    def per_day(self) -> list[DayCount]:
        found: dict[str, list[int]] = {}
        for (day, status, code, _), count in self.groups.items():
            totals = found.setdefault(day, [0, 0])
            totals[0] += count
            if _is_failure(status, code):
                totals[1] += count
        out = []
        for n in range(self.days):
            d = self.first + timedelta(days=n)
            uploads, failed = found.get(d.isoformat(), (0, 0))
            out.append(DayCount(d, uploads, failed))
        return out

    def ready_and_failed(self) -> tuple[int, int]:
        ready = sum(n for (_, status, _, recent), n in self.groups.items()
                    if recent and status == VideoStatus.READY)
        failed = sum(n for (_, status, code, recent), n in self.groups.items()
                     if recent and _is_failure(status, code))
        return ready, failed

    def breakdown(self) -> list[tuple[str, int]]:
        codes: dict[str, int] = {}
        for (_, status, code, recent), n in self.groups.items():
            if recent and status == VideoStatus.ERROR:
                key = "unknown" if code is None else code
                codes[key] = codes.get(key, 0) + n
        return sorted(codes.items(), key=lambda item: (-item[1], item[0]))


def _is_failure(status: str, code: str | None) -> bool:
    """Tell in Python what _failed() tells in SQL."""
    return status == VideoStatus.ERROR and (code or "") not in NOT_FAILURES


def window_videos(platform_id: int, days: int = WINDOW_DAYS,
                  today: date | None = None) -> WindowVideos:
    """Count the uploads started in the window by day, status and error code, in one query.

    The chart's window starts at midnight UTC `days - 1` days ago, the rates' `days` days ago
    to the second: the query covers both and tells which rows fall in the second.
    """
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    since = window_start(days)
    chart_start = datetime(first.year, first.month, first.day, tzinfo=utcnow().tzinfo)
    day = _day(Video.created_at).label("day")
    recent = (Video.created_at >= since).label("recent")
    rows = db.session.execute(
        platform_videos(platform_id, day, Video.status, Video.error_code, recent,
                         func.count(Video.id))
        .where(Video.created_at >= min(since, chart_start))
        .group_by(day, Video.status, Video.error_code, recent)).all()
    groups: dict[tuple[str, str, str | None, bool], int] = {}
    for d, status, code, is_recent, count in rows:
        groups[(d, status, code, bool(is_recent))] = count
    return WindowVideos(first, days, groups)


def uploads_per_day(platform_id: int, days: int = WINDOW_DAYS,
                    today: date | None = None,
                    window: WindowVideos | None = None) -> list[DayCount]:
    """Return uploads started per day over the last `days` days (oldest first, zeros kept)."""
    return (window or window_videos(platform_id, days, today)).per_day()


@dataclass(frozen=True)
class Rate:
    """A success or error rate over the window, against its target."""

    name: str
    good: int
    total: int
    target_percent: float
    higher_is_better: bool = True

    @property
    def percent(self) -> float | None:
        return None if not self.total else 100.0 * self.good / self.total

    @property
    def on_target(self) -> bool | None:
        if self.percent is None:
            return None
        if self.higher_is_better:
            return self.percent >= self.target_percent
        return self.percent <= self.target_percent


def window_start(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def rates(platform_id: int, days: int = WINDOW_DAYS,
          window: WindowVideos | None = None) -> list[Rate]:
    """Return upload success, playback success and the error rate over the window."""
    since = window_start(days)
    ready, failed = (window or window_videos(platform_id, days)).ready_and_failed()
    plays = dict(db.session.execute(
        select(AuditEvent.event_type, func.count(AuditEvent.id))
        .where(AuditEvent.platform_id == platform_id, AuditEvent.at >= since,
               AuditEvent.event_type.in_([EventType.PLAYBACK_GRANTED,
                                          EventType.PLAYBACK_REFUSED]))
        .group_by(AuditEvent.event_type)).all())
    granted = plays.get(EventType.PLAYBACK_GRANTED, 0)
    refused = plays.get(EventType.PLAYBACK_REFUSED, 0)
    scores = dict(db.session.execute(
        _outbox(platform_id, ScoreOutbox.status, func.count(ScoreOutbox.id))
        .where(ScoreOutbox.created_at >= since,
               ScoreOutbox.status.in_([OutboxStatus.DELIVERED, OutboxStatus.FAILED]))
        .group_by(ScoreOutbox.status)).all())
    delivered = scores.get(OutboxStatus.DELIVERED, 0)
    scores_failed = scores.get(OutboxStatus.FAILED, 0)
    errors = failed + refused + scores_failed
    operations = ready + failed + granted + refused + delivered + scores_failed
    return [
        Rate("Uploads that succeeded", ready, ready + failed,
             float(get_setting(TARGET_UPLOAD_SUCCESS))),
        Rate("Playbacks granted", granted, granted + refused,
             float(get_setting(TARGET_PLAYBACK_SUCCESS))),
        Rate("Errors (failed uploads, refused playbacks, grades the LMS refused)", errors,
             operations, float(get_setting(TARGET_ERROR)), higher_is_better=False),
    ]


def error_breakdown(platform_id: int, days: int = WINDOW_DAYS,
                    window: WindowVideos | None = None) -> list[tuple[str, int]]:
    """Return (error code, attempts) of the window's failed uploads, most frequent first."""
    return (window or window_videos(platform_id, days)).breakdown()


def videos_in_context(platform_id: int) -> Select:
    """Select the platform's videos with their assignment, course and student."""
    return (platform_videos(platform_id, Video, Assignment, Course, User)
            .join(Submission, Video.submission_id == Submission.id)
            .join(Assignment, Submission.assignment_id == Assignment.id)
            .join(Course, Assignment.course_id == Course.id)
            .join(User, Submission.user_id == User.id))


def recent_failures(platform_id: int, limit: int = RECENT_FAILURES) -> list:
    """Return the newest failed uploads with their course, assignment and student."""
    return db.session.execute(
        videos_in_context(platform_id)
        .where(_failed()).order_by(Video.created_at.desc(), Video.id.desc())
        .limit(limit)).all()


@dataclass(frozen=True)
class StorageUse:
    """What one backend holds for the platform, and what its viewers fetched in the window."""

    backend: str
    videos: int
    bytes: int
    minutes: float
    delivered_minutes: float
    delivered_bytes: int


def storage_use(platform_id: int, days: int = WINDOW_DAYS) -> list[StorageUse]:
    """Return stored videos, bytes and minutes per backend, and an estimate of delivery.

    Delivery is estimated from the playback grants of the window, each counted as the whole
    video watched once: an upper bound (a viewer may stop early, or replay within a grant).
    """
    # Every stored video of the platform, from the video table alone (a covering index was
    # not used: when most videos are stored, PostgreSQL reads the table, 100,000 rows in
    # 25-40 ms on the bench database).
    stored = db.session.execute(
        platform_videos(platform_id, Video.backend, func.count(),
                         func.coalesce(func.sum(Video.size_bytes), 0),
                         func.coalesce(func.sum(Video.duration_seconds), 0.0))
        .where(Video.status.in_(STORED_STATES))
        .group_by(Video.backend)).all()
    delivered = dict((r[0], (r[1], r[2])) for r in db.session.execute(
        select(Video.backend, func.coalesce(func.sum(Video.duration_seconds), 0.0),
               func.coalesce(func.sum(Video.size_bytes), 0))
        .select_from(AuditEvent)
        .join(Video, cast(Video.id, String) == AuditEvent.target_id)
        .where(AuditEvent.platform_id == platform_id,
               AuditEvent.event_type == EventType.PLAYBACK_GRANTED,
               AuditEvent.target_type == Video.__tablename__,
               AuditEvent.at >= window_start(days))
        .group_by(Video.backend)).all())
    out = []
    for backend, count, size, seconds in stored:
        d_seconds, d_bytes = delivered.pop(backend, (0.0, 0))
        out.append(StorageUse(backend, count, int(size), float(seconds) / 60,
                              float(d_seconds) / 60, int(d_bytes)))
    for backend, (d_seconds, d_bytes) in delivered.items():  # played, since deleted
        out.append(StorageUse(backend, 0, 0, 0.0, float(d_seconds) / 60, int(d_bytes)))
    return sorted(out, key=lambda u: u.backend)


@dataclass(frozen=True)
class CostLine:
    what: str
    quantity: float
    unit: str
    price: float
    price_unit: str

    @property
    def amount(self) -> float:
        return self.quantity * self.price


@dataclass(frozen=True)
class CostEstimate:
    """An estimated monthly bill of the active backend for the platform's videos."""

    backend: str
    lines: list[CostLine]
    note: str

    @property
    def total(self) -> float:
        return sum(line.amount for line in self.lines)


def monthly_cost(backend: str, uses: list[StorageUse]) -> CostEstimate:
    """Estimate a month of the active backend at the list prices (settings)."""
    use = next((u for u in uses if u.backend == backend), StorageUse(backend, 0, 0, 0, 0, 0))
    if backend == "cloudflare":
        stored = float(get_setting("PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES"))
        served = float(get_setting("PRICE_CLOUDFLARE_DELIVERED_PER_1000_MINUTES"))
        return CostEstimate(backend, [
            CostLine("Minutes stored", use.minutes, "minutes", stored / 1000,
                     f"${stored:g} per 1,000 minutes"),
            CostLine(f"Minutes delivered (last {WINDOW_DAYS} days, at most)",
                     use.delivered_minutes, "minutes", served / 1000,
                     f"${served:g} per 1,000 minutes")],
            "Cloudflare Stream bills minutes of video stored and delivered, not bytes.")
    if backend == "s3":
        stored = float(get_setting("PRICE_S3_STORAGE_PER_GB_MONTH"))
        transfer = float(get_setting("PRICE_S3_TRANSFER_PER_GB"))
        return CostEstimate(backend, [
            CostLine("GB stored", use.bytes / GB, "GB", stored, f"${stored:g} per GB-month"),
            CostLine(f"GB transferred (last {WINDOW_DAYS} days, at most)",
                     use.delivered_bytes / GB, "GB", transfer, f"${transfer:g} per GB")],
            "S3 Standard storage and transfer out; requests and a CDN are not counted.")
    return CostEstimate(backend, [], "Videos are on this server's disk: no provider bill, "
                                     "only the disk the server has.")


@dataclass(frozen=True)
class Passback:
    """Grades on their way to the LMS: waiting, refused, and the oldest waiting."""

    pending: int
    failed: int
    oldest_pending: datetime | None


def _outbox(platform_id: int, *columns) -> Select:
    # The platform is on the outbox row (ix_outbox_platform_status).
    return select(*columns).select_from(ScoreOutbox).where(
        ScoreOutbox.platform_id == platform_id)


def passback(platform_id: int) -> Passback:
    """Return the platform's grade passback health (a refused "submitted" notice is not a
    refused grade: grading/outbox.passback_health leaves it out)."""
    health = outbox.passback_health(platform_id)
    oldest = health["oldest_pending_at"]
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=timezone.utc)
    return Passback(health["pending"], health["failed_grades"], oldest)


@dataclass(frozen=True)
class JobRunSummary:
    """A job's newest run as a platform's admin sees it: its figures, never its lists."""

    name: str
    started_at: datetime
    duration_seconds: float | None
    ok: bool | None
    dry_run: bool
    error: str | None
    counts: dict[str, object]


def _figures(counts: dict | None) -> dict[str, object]:
    # A run's lists and tables name other platforms' courses, videos and objects (the usage
    # report's courses, the orphans, a dry run's videos): site-wide totals only.
    return {k: v for k, v in (counts or {}).items()
            if isinstance(v, (int, float, str, bool)) or v is None}


def latest_job_runs() -> list[JobRunSummary]:
    """Return the newest run of each background job (site-wide: jobs serve every platform)."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.name).scalar_subquery()
    return [JobRunSummary(run.name, run.started_at, run.duration_seconds, run.ok,
                          bool(run.dry_run), run.error, _figures(run.counts))
            for run in db.session.scalars(select(JobRun).where(JobRun.id.in_(newest))
                                          .order_by(JobRun.name))]
