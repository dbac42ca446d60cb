"""Cloudflare Stream set-up commands (`flask --app wsgi storage cloudflare-...`)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.storage.cli import backend_by_name, fail, show_or_save
from lti_tool.web.urls import public_url

CLOUDFLARE = "cloudflare"  # the backend's registry name (its SDK loads on use)


@click.command("cloudflare-create-signing-key")
@with_appcontext
@click.option("--save", is_flag=True, help="Store the key as encrypted admin settings "
                                           "instead of printing it.")
def cloudflare_create_signing_key(save: bool):
    """Create a Stream signing key so playback tokens are signed here (POST /stream/keys)."""
    try:
        key = backend_by_name(CLOUDFLARE).create_signing_key()
    except Exception as exc:  # noqa: BLE001  (shown to the operator, not raised further)
        fail(exc)
    if not key.get("id") or not key.get("pem"):
        raise click.ClickException("Cloudflare did not return a key id and pem.")
    show_or_save({"CLOUDFLARE_SIGNING_KEY_ID": key["id"],
                   "CLOUDFLARE_SIGNING_KEY_PEM": key["pem"]}, save)


@click.command("cloudflare-set-webhook")
@with_appcontext
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
            notification_url = public_url("webhooks.cloudflare_stream")
    if not notification_url.startswith("https://"):
        click.echo("Warning: Cloudflare cannot reach localhost, and a webhook should use "
                   "https.", err=True)
    try:
        result = backend_by_name(CLOUDFLARE).set_webhook(notification_url)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    if not result.get("secret"):
        raise click.ClickException("Cloudflare did not return a webhook secret.")
    click.echo(f"Cloudflare will post results to {result.get('notificationUrl') or notification_url}")
    show_or_save({"CLOUDFLARE_WEBHOOK_SECRET": result["secret"]}, save)


COMMANDS = (cloudflare_create_signing_key, cloudflare_set_webhook)
