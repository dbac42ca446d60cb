"""Operator commands: `flask --app wsgi admins add|remove|list` and `settings reencrypt`."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from lti_tool.access.users import find_user
from lti_tool.admin.grants import granted_admins, set_granted
from lti_tool.errors import NotFound
from lti_tool.extensions import db
from lti_tool.lti.cli import platform_by_id
from lti_tool.settings import reencrypt_secrets


def _user(platform_id: int, who: str):
    try:
        return find_user(platform_by_id(platform_id).id, who)
    except NotFound as err:
        raise click.ClickException(err.message) from None


@click.group("admins")
def admins_cli():
    """Grant the admin area to users of a platform whose LMS sends no administrator role."""


@admins_cli.command("add")
@click.argument("platform_id", type=int)
@click.argument("user")
@with_appcontext
def add(platform_id, user):
    """Make USER (their LTI sub or email) an administrator of platform PLATFORM_ID."""
    found = _user(platform_id, user)
    changed = set_granted(found, True)
    db.session.commit()
    click.echo(f"{found.display_name} (sub {found.sub}) "
               f"{'is now' if changed else 'already was'} an administrator of platform "
               f"{platform_id}.")


@admins_cli.command("remove")
@click.argument("platform_id", type=int)
@click.argument("user")
@with_appcontext
def remove(platform_id, user):
    """Take the operator's grant back from USER (an LMS Administrator role still counts)."""
    found = _user(platform_id, user)
    changed = set_granted(found, False)
    db.session.commit()
    click.echo(f"{found.display_name} (sub {found.sub}) "
               f"{'is no longer' if changed else 'was not'} an operator-granted administrator "
               f"of platform {platform_id}.")
    if found.is_platform_admin:
        click.echo("Their LMS launches still name them Administrator, which lets them in.")


@admins_cli.command("list")
@click.option("--platform", "platform_id", type=int, help="Only this platform's.")
@with_appcontext
def list_admins(platform_id):
    """List the operator-granted administrators."""
    users = granted_admins(platform_id)
    if not users:
        click.echo("No operator-granted administrator. LMS Administrators get in by their "
                   "launch's role.")
    for u in users:
        click.echo(f"[platform {u.platform_id}] {u.display_name}  sub={u.sub}"
                   f"{'  ' + u.email if u.email else ''}")


@click.group("settings")
def settings_cli():
    """Look after the settings admins set on the settings page (stored in the database)."""


@settings_cli.command("reencrypt")
@with_appcontext
def reencrypt():
    """Encrypt every stored secret again under the first SETTINGS_ENCRYPTION_KEY (rotation)."""
    count = reencrypt_secrets()
    db.session.commit()
    click.echo(f"{count} stored secret(s) now encrypted under the first key of "
               "SETTINGS_ENCRYPTION_KEY (or SECRET_KEY when it is not set). The other keys "
               "can be removed once every process runs with the new setting.")
