"""The tool's home page."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for

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
