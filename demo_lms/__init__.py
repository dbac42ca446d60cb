"""The built-in demo LMS: a small LTI 1.3 platform for development and tests (DEMO_LMS=true).

A development aid beside the product, not part of it: it uses the tool only through its
public modules (`lti_tool.models`, `lti_tool.extensions`, ...), and the tool imports it in
one place, its app factory, only when DEMO_LMS is on. Its `demo_` tables live in a metadata
of their own (`demo_lms.models.DemoBase`), outside the tool's schema and migrations, and are
created when the demo LMS is first used (`demo_lms.schema`).
"""
from flask import Flask

from .registration import ensure_demo_registration  # noqa: F401


def init_app(app: Flask) -> None:
    """Serve the demo LMS at /demo-lms/ in this app."""
    from . import views
    app.register_blueprint(views.bp)
    views.init_app(app)
