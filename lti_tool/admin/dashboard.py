"""The dashboard: uploads, failures, processing queue, storage, cost, grade passback and jobs
at a glance."""
from __future__ import annotations

from flask import current_app, flash, redirect

from lti_tool.access.launches import launch_url_for
from lti_tool.admin import metrics
from lti_tool.admin.access import current_admin, require_admin
from lti_tool.admin.charts import stacked_bars
from lti_tool.admin.pages import render_admin
from lti_tool.admin.processing_queue import processing_queue
from lti_tool.admin.video_search import platform_video
from lti_tool.extensions import db
from lti_tool.grading import outbox
from lti_tool.processing.retry import retry_processing


@require_admin
def index():
    """Show the dashboard of the admin's platform."""
    platform_id = current_admin().platform_id
    days = metrics.uploads_per_day(platform_id)
    uses = metrics.storage_use(platform_id)
    backend = current_app.config["STORAGE_BACKEND"]
    return render_admin(
        "admin/dashboard.html", window=metrics.WINDOW_DAYS, days=days,
        chart=stacked_bars([(d.day.strftime("%d %b"), d.uploads, d.failed) for d in days]),
        rates=metrics.rates(platform_id), breakdown=metrics.error_breakdown(platform_id),
        failures=metrics.recent_failures(platform_id), uses=uses, backend=backend,
        cost=metrics.monthly_cost(backend, uses), passback=metrics.passback(platform_id),
        jobs=metrics.latest_job_runs(), processing=processing_queue(platform_id))


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
def retry_processing_job(video_id: int):
    """Put one failed processing job of this platform back on the queue (audited)."""
    admin = current_admin()
    video = platform_video(admin.platform_id, video_id)
    retry_processing(video, actor=admin.user)  # audited, committed; a refusal says why
    flash(f"Processing of {video.filename or f'video {video.id}'} will be tried again.",
          "success")
    return redirect(launch_url_for("admin.index"), code=303)
