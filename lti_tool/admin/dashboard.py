"""The dashboard: uploads, failures, processing queue, storage, cost, grade passback and jobs
at a glance; the platform's share of the monthly usage report as CSV."""
from __future__ import annotations

import re

from flask import flash, redirect, request

from lti_tool import audit
from lti_tool.access.launches import launch_url_for
from lti_tool.admin import metrics
from lti_tool.admin.access import current_admin, require_admin
from lti_tool.admin.charts import stacked_bars
from lti_tool.admin.csv_export import csv_response
from lti_tool.admin.pages import render_admin
from lti_tool.admin.processing_queue import processing_queue
from lti_tool.admin.video_search import platform_video
from lti_tool.audit import EventType
from lti_tool.errors import NotFound, ToolError
from lti_tool.extensions import db
from lti_tool.grading import outbox
from lti_tool.housekeeping import usage
from lti_tool.processing.retry import retry_processing
from lti_tool.storage import active_backend_name

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")  # a usage report's month, YYYY-MM


@require_admin
def index():
    """Show the dashboard of the admin's platform."""
    platform_id = current_admin().platform_id
    window = metrics.window_videos(platform_id)
    days = window.per_day()
    uses = metrics.storage_use(platform_id)
    backend = active_backend_name()
    return render_admin(
        "admin/dashboard.html", window=metrics.WINDOW_DAYS, days=days,
        chart=stacked_bars([(d.day.strftime("%d %b"), d.uploads, d.failed) for d in days]),
        rates=metrics.rates(platform_id, window=window), breakdown=window.breakdown(),
        failures=metrics.recent_failures(platform_id), uses=uses, backend=backend,
        cost=metrics.monthly_cost(backend, uses), passback=metrics.passback(platform_id),
        jobs=metrics.latest_job_runs(), usage_report=usage.stored_report(),
        processing=processing_queue(platform_id))


@require_admin
def retry_failed_scores():
    """Send every grade the LMS refused on this platform again (audited)."""
    admin = current_admin()
    retried = outbox.retry_failed_scores(admin.platform_id, actor=admin.user)  # audited
    db.session.commit()
    flash(f"{retried} {'grade' if retried == 1 else 'grades'} will be sent to the "
          "LMS again in a moment." if retried else "There was no refused grade to send again.",
          "success" if retried else "info")
    return redirect(launch_url_for("admin.index"), code=303)


@require_admin
def usage_csv():
    """Download the platform's courses of a kept monthly usage report (the newest, or
    ?period=YYYY-MM) as CSV (audited)."""
    admin = current_admin()
    period = request.args.get("period") or None
    if period is not None and not PERIOD.fullmatch(period):
        raise ToolError("The period must be a month written YYYY-MM, such as 2026-11.",
                        code="bad_period")
    run = usage.stored_report(period)
    if run is None:
        raise NotFound("No usage report" + (f" for {period}" if period else "") + " was "
                       "kept yet: the usage report job makes one on the first of each month.",
                       code="no_usage_report")
    period = run.counts["period"]
    audit.record(EventType.ADMIN_EXPORT, actor=admin.user, platform_id=admin.platform_id,
                 commit=True, export="usage", period=period)
    rows = ([entry.get(key) for key in usage.COLUMNS]
            for entry in run.counts.get("courses") or []
            if entry.get("platform_id") == admin.platform_id)
    return csv_response(f"usage-{period}.csv", usage.COLUMNS, rows)


@require_admin
def usage_so_far_csv():
    """Download the platform's usage per course of this month so far, computed now (audited)."""
    admin = current_admin()
    report = usage.month_so_far(admin.platform_id)
    audit.record(EventType.ADMIN_EXPORT, actor=admin.user, platform_id=admin.platform_id,
                 commit=True, export="usage", period=report["period"])
    rows = ([entry.get(key) for key in usage.COLUMNS] for entry in report["courses"])
    return csv_response(f"usage-{report['period'].replace(' ', '-')}.csv", usage.COLUMNS, rows)


@require_admin
def retry_processing_job(video_id: int):
    """Put one failed processing job of this platform back on the queue (audited)."""
    admin = current_admin()
    video = platform_video(admin.platform_id, video_id)
    retry_processing(video, actor=admin.user)  # audited, committed; a refusal says why
    flash(f"Processing of {video.filename or f'video {video.id}'} will be tried again.",
          "success")
    return redirect(launch_url_for("admin.index"), code=303)
