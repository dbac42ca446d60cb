"""The videos page: search the platform's videos, play, delete, hold, export as CSV."""
from __future__ import annotations

from flask import flash, redirect, request

from lti_tool import audit
from lti_tool.access.launches import launch_url_for
from lti_tool.access.permissions import PlayableVideo
from lti_tool.admin.access import current_admin, require_admin
from lti_tool.admin.csv_export import csv_response
from lti_tool.admin.pages import render_admin
from lti_tool.admin.video_actions import deletion_loss, delete_video, set_legal_hold
from lti_tool.admin.video_search import (VideoFilters, filter_choices, iter_videos,
                                         platform_video, search_videos)
from lti_tool.audit import EventType
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.playback.views import grant_playback
from lti_tool.statuses import VideoStatus
from lti_tool.storage.base import StorageError

CSV_HEADER = ("video id", "course", "assignment", "student", "student email", "attempt",
              "status", "error code", "file name", "size bytes", "duration seconds",
              "uploaded at", "legal hold", "backend")


@require_admin
def videos():
    """List the platform's videos, filtered, sorted and paged on the server."""
    admin = current_admin()
    filters = VideoFilters.from_args(request.args)
    return render_admin("admin/videos.html", filters=filters,
                        page=search_videos(admin.platform_id, filters),
                        choices=filter_choices(admin.platform_id))


@require_admin
def videos_csv():
    """Download the filtered list as CSV (audited)."""
    admin = current_admin()
    filters = VideoFilters.from_args(request.args)
    audit.record(EventType.ADMIN_EXPORT, actor=admin.user, platform_id=admin.platform_id,
                 commit=True, export="videos", filters=filters.as_args(page=1))
    rows = ((r.video.id, r.course.title, r.assignment.title, r.student.display_name,
             r.student.email, r.video.attempt, r.video.status, r.video.error_code,
             r.video.filename, r.video.size_bytes, r.video.duration_seconds,
             r.video.created_at, "yes" if r.video.legal_hold else "no", r.video.backend)
            for r in iter_videos(admin.platform_id, filters))
    return csv_response("videos.csv", CSV_HEADER, rows)


@require_admin
def video(video_id: int):
    """Show one video and play it (each play is a playback grant, audited)."""
    admin = current_admin()
    found = platform_video(admin.platform_id, video_id)
    playback = problem = None
    if found.status == VideoStatus.READY:
        try:
            playback = grant_playback(PlayableVideo.of(found), admin.user)
        except StorageError as err:
            problem = err.message
    return render_admin("admin/video.html", video=found, playback=playback, problem=problem)


@require_admin
def confirm_delete(video_id: int):
    """Say what deleting the video loses, and ask to confirm."""
    found = platform_video(current_admin().platform_id, video_id)
    return render_admin("admin/video_delete.html", loss=deletion_loss(found))


@require_admin
def delete(video_id: int):
    """Delete the video from storage and mark it deleted (audited)."""
    admin = current_admin()
    found = platform_video(admin.platform_id, video_id)
    try:
        delete_video(found, admin.user)
    except ToolError:
        db.session.rollback()
        raise
    db.session.commit()
    flash(f"Video {found.filename or found.id} was deleted from the storage.", "success")
    return redirect(launch_url_for("admin.videos"), code=303)


@require_admin
def legal_hold(video_id: int):
    """Put the video on legal hold, or take it off (form field `hold`: 1 or 0)."""
    admin = current_admin()
    found = platform_video(admin.platform_id, video_id)
    held = request.form.get("hold") == "1"
    set_legal_hold(found, admin.user, held)
    db.session.commit()
    flash("The video is on legal hold: nothing deletes it until the hold is lifted." if held
          else "The legal hold is lifted.", "success")
    return redirect(launch_url_for("admin.video", video_id=found.id), code=303)
