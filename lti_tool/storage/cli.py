"""Operator commands for cloud storage: `flask --app wsgi storage ...`.

Secrets a provider shows once (a signing key, a webhook secret) are printed to the
operator's terminal, or with --save stored encrypted as admin settings; never logged.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import click
from flask import current_app, url_for
from flask.cli import AppGroup

from lti_tool.extensions import db
from lti_tool.settings import set_setting
from lti_tool.storage import backend_class, current_storage
from lti_tool.settings import read_setting

# Registry names of the backends these commands drive (imported on use: boto3 is heavy).
CLOUDFLARE = "cloudflare"
S3 = "s3"


def _backend(name: str):
    """Build a backend by registry name, importing its SDK only now."""
    return backend_class(name)(current_app.config)


def recommended_cors(origin: str) -> dict:
    """Return the bucket CORS configuration browser uploads from `origin` need."""
    return {"CORSRules": [{"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT", "HEAD"],
                           "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"],
                           "MaxAgeSeconds": 3000}]}


def _public_origin() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _show_or_save(values: dict[str, str], save: bool) -> None:
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


def _fail(exc: Exception) -> None:
    raise click.ClickException(getattr(exc, "message", str(exc)))


@click.group("storage", cls=AppGroup)
def cli():
    """Set up and check the cloud video storage (Cloudflare Stream, S3)."""


@cli.command("health")
def health():
    """Check the configured storage backend answers."""
    backend = current_storage()
    result = backend.health()
    click.echo(f"{backend.name}: {'ok' if result.ok else 'NOT OK'} - {result.detail}")
    if not result.ok:
        raise SystemExit(1)


@cli.command("cloudflare-create-signing-key")
@click.option("--save", is_flag=True, help="Store the key as encrypted admin settings "
                                           "instead of printing it.")
def cloudflare_create_signing_key(save: bool):
    """Create a Stream signing key so playback tokens are signed here (POST /stream/keys)."""
    try:
        key = _backend(CLOUDFLARE).create_signing_key()
    except Exception as exc:  # noqa: BLE001  (shown to the operator, not raised further)
        _fail(exc)
    if not key.get("id") or not key.get("pem"):
        raise click.ClickException("Cloudflare did not return a key id and pem.")
    _show_or_save({"CLOUDFLARE_SIGNING_KEY_ID": key["id"],
                   "CLOUDFLARE_SIGNING_KEY_PEM": key["pem"]}, save)


@cli.command("cloudflare-set-webhook")
@click.option("--url", "notification_url", default="",
              help="Where Cloudflare should post results (default: this tool's endpoint "
                   "under PUBLIC_BASE_URL).")
@click.option("--save", is_flag=True, help="Store the secret as an encrypted admin setting.")
def cloudflare_set_webhook(notification_url: str, save: bool):
    """Point the account's Stream webhook at this tool and show the signing secret."""
    if not notification_url:
        base = current_app.config.get("PUBLIC_BASE_URL")
        if not base:
            raise click.ClickException("Set PUBLIC_BASE_URL or pass --url.")
        with current_app.test_request_context(base_url=base):
            notification_url = url_for("webhooks.cloudflare_stream", _external=True)
    if not notification_url.startswith("https://"):
        click.echo("Warning: Cloudflare cannot reach localhost, and a webhook should use "
                   "https.", err=True)
    try:
        result = _backend(CLOUDFLARE).set_webhook(notification_url)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    if not result.get("secret"):
        raise click.ClickException("Cloudflare did not return a webhook secret.")
    click.echo(f"Cloudflare will post results to {result.get('notificationUrl') or notification_url}")
    _show_or_save({"CLOUDFLARE_WEBHOOK_SECRET": result["secret"]}, save)


@cli.command("s3-check-cors")
@click.option("--origin", default="", help="The tool's origin, e.g. https://video.example.edu "
                                           "(default: from PUBLIC_BASE_URL).")
def s3_check_cors(origin: str):
    """Check the bucket lets browsers upload parts and read their ETag."""
    origin = origin or _public_origin()
    if not origin:
        raise click.ClickException("Pass --origin or set PUBLIC_BASE_URL.")
    if not read_setting(current_app.config, "S3_BUCKET", ""):
        raise click.ClickException("S3_BUCKET is not set.")
    try:
        problems = _backend(S3).cors_problems(origin)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    if not problems:
        click.echo(f"CORS ok: {origin} may upload parts and read their ETag.")
        return
    click.echo("The bucket's CORS is not ready for browser uploads:")
    for problem in problems:
        click.echo(f"  - {problem}")
    click.echo("Apply this configuration (aws s3api put-bucket-cors --bucket <bucket> "
               "--cors-configuration file://cors.json):")
    click.echo(json.dumps(recommended_cors(origin), indent=2))
    raise SystemExit(1)
