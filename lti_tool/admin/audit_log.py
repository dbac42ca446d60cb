"""The audit log page: who did what to which thing and when, filtered, paged, as CSV."""
from __future__ import annotations

import json

from flask import request

from lti_tool import audit
from lti_tool.admin.access import current_admin, require_admin
from lti_tool.admin.audit_search import ACTIONS, AuditFilters, iter_events, search_events
from lti_tool.admin.csv_export import csv_response
from lti_tool.admin.pages import render_admin
from lti_tool.admin.video_search import course_choices
from lti_tool.audit import EventType, event_label

CSV_HEADER = ("at", "action", "user", "user email", "user sub", "course", "target type",
              "target id", "details", "ip")


@require_admin
def audit_log():
    """List the platform's audit events, newest first."""
    admin = current_admin()
    filters = AuditFilters.from_args(request.args)
    return render_admin("admin/audit.html", filters=filters,
                        page=search_events(admin.platform_id, filters),
                        courses=course_choices(admin.platform_id),
                        actions=sorted(ACTIONS, key=event_label))


@require_admin
def audit_csv():
    """Download the filtered audit log as CSV (the download is audited too)."""
    admin = current_admin()
    filters = AuditFilters.from_args(request.args)
    audit.record(EventType.ADMIN_EXPORT, actor=admin.user, platform_id=admin.platform_id,
                 commit=True, export="audit", filters=filters.as_args(page=1))
    rows = ((r.event.at, r.event.event_type, r.actor.display_name if r.actor else "",
             r.actor.email if r.actor else "", r.actor.sub if r.actor else "",
             r.course.title if r.course else "", r.event.target_type, r.event.target_id,
             details_json(r.event.data), r.event.ip)
            for r in iter_events(admin.platform_id, filters))
    return csv_response("audit-log.csv", CSV_HEADER, rows)


def details_json(data: dict | None) -> str:
    """Return an event's details as JSON for the CSV (empty when it has none), which a
    spreadsheet or a script reads back, unlike Python's own repr."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str) if data else ""
