"""Operator commands for the video storage: `flask --app wsgi storage ...`.

The group holds what every backend answers (health); each provider's package defines its
own set-up commands (lti_tool/storage/cloudflare/cli.py, lti_tool/storage/s3/cli.py), which
the app factory adds to the group. Secrets a
provider shows once are printed to the operator's terminal, or with --save stored encrypted
as admin settings; never logged.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup

from lti_tool.extensions import db
from lti_tool.settings import set_setting
from lti_tool.storage import backend_class, current_storage


def backend_by_name(name: str):
    """Build a backend by registry name, importing its SDK only now."""
    return backend_class(name)(current_app.config)


def public_origin() -> str:
    """Return the tool's origin from PUBLIC_BASE_URL ('' when it is not set)."""
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def show_or_save(values: dict[str, str], save: bool) -> None:
    """Print settings to set, or store them encrypted as admin settings."""
    if save:
        for name, value in values.items():
            set_setting(name, value, secret=True)
        db.session.commit()
        click.echo("Saved (encrypted) as admin settings: " + ", ".join(values))
        return
    click.echo("Set these settings (environment or admin settings); they are shown only "
               "now and were not stored or logged:")
    for name, value in values.items():
        click.echo(f"{name}={value}")


def fail(exc: Exception) -> None:
    """Stop a command with the error's message for the operator."""
    raise click.ClickException(getattr(exc, "message", str(exc)))


@click.group("storage", cls=AppGroup)
def storage_cli():
    """Set up and check the video storage (local disk, Cloudflare Stream, S3)."""


@storage_cli.command("health")
def health():
    """Check the configured storage backend answers."""
    backend = current_storage()
    result = backend.health()
    click.echo(f"{backend.name}: {'ok' if result.ok else 'NOT OK'} - {result.detail}")
    if not result.ok:
        raise SystemExit(1)
