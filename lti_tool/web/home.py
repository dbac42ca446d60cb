"""The tool's home page and health check."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, url_for
from sqlalchemy import text

from lti_tool.extensions import db

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """Show what this tool is and where admins and newcomers go next."""
    return render_template("home.html", demo=current_app.config.get("DEMO_LMS"),
                           endpoints=set(current_app.view_functions))


@bp.get("/favicon.ico")
def favicon():
    """Send browsers that ask for /favicon.ico to the tool's icon."""
    return redirect(url_for("static", filename="img/lti-logo.svg"), code=301)


@bp.get("/healthz")
def healthz():
    """Report whether the app can reach its database."""
    try:
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok")
    except Exception:
        current_app.logger.exception("health check: database unreachable")
        return jsonify(status="error", error={"code": "database_unreachable",
                                              "message": "The database cannot be reached."}), 503
