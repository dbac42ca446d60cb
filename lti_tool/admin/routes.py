"""The admin area's blueprint (/admin) and its routes, each to a view in its concern's module."""
from __future__ import annotations

from flask import Blueprint

from lti_tool.admin import audit_log, dashboard, people, platforms, settings_page, videos
from lti_tool.audit import event_label
from lti_tool.jobs import job_label
from lti_tool.statuses import video_status_label

bp = Blueprint("admin", __name__, url_prefix="/admin")
# Stored names as people read them (each label is defined beside its names).
bp.add_app_template_filter(video_status_label, "video_status")
bp.add_app_template_filter(event_label, "event_label")
bp.add_app_template_filter(job_label, "job_label")

bp.add_url_rule("/", "index", dashboard.index)
bp.add_url_rule("/usage.csv", "usage_csv", dashboard.usage_csv)
bp.add_url_rule("/usage-so-far.csv", "usage_so_far_csv", dashboard.usage_so_far_csv)
bp.add_url_rule("/scores/retry", "retry_failed_scores", dashboard.retry_failed_scores,
                methods=["POST"])
bp.add_url_rule("/processing/<int:video_id>/retry", "retry_processing",
                dashboard.retry_processing_job, methods=["POST"])

bp.add_url_rule("/videos", "videos", videos.videos)
bp.add_url_rule("/videos.csv", "videos_csv", videos.videos_csv)
bp.add_url_rule("/videos/<int:video_id>", "video", videos.video)
bp.add_url_rule("/videos/<int:video_id>/delete", "confirm_delete", videos.confirm_delete)
bp.add_url_rule("/videos/<int:video_id>/delete", "delete", videos.delete, methods=["POST"])
bp.add_url_rule("/videos/<int:video_id>/hold", "legal_hold", videos.legal_hold,
                methods=["POST"])

bp.add_url_rule("/audit", "audit_log", audit_log.audit_log)
bp.add_url_rule("/audit.csv", "audit_csv", audit_log.audit_csv)

bp.add_url_rule("/people", "people", people.people)
bp.add_url_rule("/people/<int:user_id>", "person", people.person)
bp.add_url_rule("/people/<int:user_id>/export", "export_person", people.export)
bp.add_url_rule("/people/<int:user_id>/erase", "erase_person", people.erase, methods=["POST"])

bp.add_url_rule("/platforms", "platforms", platforms.platforms)
bp.add_url_rule("/platforms", "add_platform", platforms.add, methods=["POST"])
bp.add_url_rule("/platforms/policy", "platform_policy", platforms.policy, methods=["POST"])
bp.add_url_rule("/platforms/<int:platform_id>/remove", "confirm_remove_platform",
                platforms.confirm_remove)
bp.add_url_rule("/platforms/<int:platform_id>/remove", "remove_platform", platforms.remove,
                methods=["POST"])

bp.add_url_rule("/settings", "settings", settings_page.settings)
bp.add_url_rule("/settings", "save_settings", settings_page.save_settings, methods=["POST"])
bp.add_url_rule("/settings/test", "test_storage", settings_page.test_storage, methods=["POST"])
