"""Operator commands for grades on their way to the LMS: `flask --app wsgi grades ...`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from lti_tool.extensions import db
from lti_tool.grading import outbox
from lti_tool.lti.cli import platform_by_id
from lti_tool.web.formatting import format_moment


@click.group("grades", cls=AppGroup)
def grades_cli():
    """See and resend the grades waiting for an LMS."""


@grades_cli.command("status")
@click.argument("platform_id", type=int)
def status(platform_id: int):
    """Count the platform's grades pending and failed, and the oldest pending."""
    health = outbox.passback_health(platform_by_id(platform_id).id)
    click.echo(f"pending: {health['pending']} (oldest queued "
               f"{format_moment(health['oldest_pending_at']) or '-'})")
    click.echo(f"failed grades: {health['failed_grades']}")
    click.echo(f"failed submitted notices (no grade refused): {health['failed_notices']}")


@grades_cli.command("retry-failed")
@click.argument("platform_id", type=int)
def retry_failed(platform_id: int):
    """Send every failed grade of the platform again (after fixing what the LMS refused)."""
    count = outbox.retry_failed_scores(platform_by_id(platform_id).id)
    db.session.commit()
    click.echo(f"{count} failed scores queued again; the delivery job sends them within a "
               f"minute.")
