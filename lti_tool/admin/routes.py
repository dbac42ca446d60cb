"""The admin area's blueprint (/admin) and its routes, each to a view in its concern's module."""
from __future__ import annotations

from flask import Blueprint

from lti_tool.admin import dashboard

bp = Blueprint("admin", __name__, url_prefix="/admin")

bp.add_url_rule("/", "index", dashboard.index)
