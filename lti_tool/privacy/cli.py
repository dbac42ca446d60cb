"""Operator commands for privacy requests: `flask --app wsgi privacy export|delete`.

A user is named by the platform's id (`platforms list`) and the LMS's user id (`sub`, the
id the LMS sends in launches; in Moodle, the user's id number) or their email, as for
`admins add` (lti_tool.access.users.find_user).
"""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.privacy.erase import erase_user
from lti_tool.access.users import find_user
from lti_tool.privacy.export import export_user
from lti_tool.privacy.requests import pending_deletion_requests
from lti_tool.web.formatting import format_moment


@click.group("privacy", cls=AppGroup)
def privacy_cli():
    """Export or erase everything the tool holds about one user (GDPR)."""


def _user(platform_id: int, sub: str):
    try:
        return find_user(platform_id, sub)
    except ToolError as exc:
        raise click.ClickException(exc.message) from None


@privacy_cli.command("export")
@click.argument("platform_id", type=int)
@click.argument("sub")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the JSON document to this file (default: standard output).")
def export(platform_id: int, sub: str, output: str | None):
    """Write everything held about user SUB (LTI sub or email) of platform PLATFORM_ID as one
    JSON document."""
    document = export_user(_user(platform_id, sub))
    db.session.commit()
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        click.echo(f"Exported to {output}.", err=True)
    else:
        sys.stdout.write(text + "\n")


@privacy_cli.command("delete")
@click.argument("platform_id", type=int)
@click.argument("sub")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--request", "request_ref", help="Reference of the request (kept in the audit log).")
def delete(platform_id: int, sub: str, yes: bool, request_ref: str | None):
    """Erase user SUB (LTI sub or email) of platform PLATFORM_ID: videos from storage,
    submissions, grades, comments received, launches, profile."""
    user = _user(platform_id, sub)
    if not yes:
        click.confirm(f"Erase all data of {user.display_name} ({sub}) on platform "
                      f"{platform_id}, their videos in storage included? This cannot be "
                      f"undone", abort=True)
    try:
        counts = erase_user(user, request_ref=request_ref)
    except ToolError as exc:
        raise click.ClickException(exc.message) from None
    click.echo("Erased: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))


@privacy_cli.command("requests")
@click.option("--platform", "platform_id", type=int, help="Only this platform's requests.")
def requests(platform_id: int | None):
    """List the erasure requests people made (data privacy page) that wait for an admin."""
    pending = pending_deletion_requests(platform_id)
    if not pending:
        click.echo("No erasure request is waiting.")
    for request in pending:
        who = "the person" if request.by_self else "an administrator"
        click.echo(f"{format_moment(request.requested_at)}  platform {request.user.platform_id}"
                   f"  sub {request.user.sub}  {request.user.display_name}  (asked by {who})")
        click.echo(f"    flask --app wsgi privacy delete {request.user.platform_id} "
                   f"{request.user.sub}")
