"""The administrator's side of the tool: dashboard, videos, audit log, platforms, settings.

One view module per concern (dashboard, videos, audit_log, platforms, settings_page), the
queries they make in their own domain modules, the blueprint and its routes in routes.py,
and one check in front of every view (access.require_admin) that also fixes the platform
every query is scoped to.
"""
