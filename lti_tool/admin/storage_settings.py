"""The storage settings on the settings page: which backend new uploads go to, and its
credentials; and "Test connection", which checks them against the provider for real.

The backend and its credentials are admin settings (lti_tool.settings) over the
environment; the storage registry and every backend read them on each call, so a change
applies at once, in every process within a second. LOCAL_STORAGE_DIR stays in the
environment only: a folder on the server is the operator's choice, not a web form's.
"""
from __future__ import annotations

import re
from typing import Callable, Mapping

from flask import current_app

from lti_tool import audit
from lti_tool.admin.site_settings import CLEAR, KEEP, SiteSetting, secret_field
from lti_tool.audit import EventType
from lti_tool.errors import ToolError
from lti_tool.models import User
from lti_tool.settings import get_setting
from lti_tool.storage import BACKENDS, backend_class
from lti_tool.storage.base import Capability, ConnectionCheck
from lti_tool.uploads.limits import MAX_UPLOAD_BYTES, site_limits

BACKEND_LABELS = {"local": "This server's disk", "s3": "Amazon S3 or compatible (R2, MinIO)",
                  "cloudflare": "Cloudflare Stream"}
MAX_TEXT_CHARS = 255

# What each backend cannot work without (the page refuses to switch to it without them).
REQUIRED = {
    "s3": ("S3_BUCKET",),
    "cloudflare": ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN",
                   "CLOUDFLARE_CUSTOMER_SUBDOMAIN"),
    "local": (),
}


def _text(name: str, what: str, pattern: str, example: str) -> Callable[[Mapping], str]:
    """Parse a one-line text setting that must match `pattern` (or be empty); a form
    without the field keeps the value."""
    def parse(form):
        if name not in form:
            return KEEP
        value = (form.get(name) or "").strip()
        if value and (len(value) > MAX_TEXT_CHARS or not re.fullmatch(pattern, value)):
            raise ToolError(f"The {what} does not look right: expected something like "
                            f"{example}.", code="bad_setting")
        return value
    return parse


def _entered(form: Mapping, setting: SiteSetting) -> object:
    """Return what the form gives a storage setting: its value, or what stays."""
    value = setting.parse(form)
    if value is KEEP:
        return get_setting(setting.name, "")
    if value is CLEAR:
        return current_app.config.get(setting.name) or ""
    return value


def _backend(form: Mapping) -> object:
    if "STORAGE_BACKEND" not in form:
        return KEEP
    name = (form.get("STORAGE_BACKEND") or "").strip()
    if name not in BACKENDS:
        raise ToolError("Choose where videos are stored.", code="bad_setting")
    by_name = {s.name: s for s in STORAGE_SETTINGS}
    missing = [by_name[n].label for n in REQUIRED[name] if not _entered(form, by_name[n])]
    if missing:
        raise ToolError(f"{BACKEND_LABELS[name]} needs: {', '.join(missing)}. Enter them, or "
                        "keep the current storage.", code="bad_setting")
    return name


STORAGE_SETTINGS: tuple[SiteSetting, ...] = (
    SiteSetting("STORAGE_BACKEND", "Where new videos are stored",
                "Videos already uploaded stay where they are and keep playing. Test the "
                "connection before switching.", "choice", _backend,
                choices=tuple(BACKEND_LABELS.items()), default="local", audit_value=False),
    # Cloudflare Stream (docs/storage-cloudflare.md)
    SiteSetting("CLOUDFLARE_ACCOUNT_ID", "Account id",
                "In the Cloudflare dashboard: Stream, on the right.", "text",
                _text("CLOUDFLARE_ACCOUNT_ID", "account id", r"[A-Za-z0-9]{1,64}",
                      "023e105f4ecef8ad9ca31a8372d0c353"),
                default="", group="cloudflare", audit_value=False),
    SiteSetting("CLOUDFLARE_API_TOKEN", "API token",
                "A token with the Stream:Edit permission for this account only.", "secret",
                secret_field("CLOUDFLARE_API_TOKEN"), secret=True, group="cloudflare"),
    SiteSetting("CLOUDFLARE_CUSTOMER_SUBDOMAIN", "Customer subdomain",
                "customer-<code>.cloudflarestream.com, shown in the Stream dashboard; videos "
                "play from it.", "text",
                _text("CLOUDFLARE_CUSTOMER_SUBDOMAIN", "customer subdomain",
                      r"(https://)?[A-Za-z0-9.-]+/?", "customer-abc123.cloudflarestream.com"),
                default="", group="cloudflare", audit_value=False),
    SiteSetting("CLOUDFLARE_SIGNING_KEY_ID", "Signing key id",
                "Playback tokens are signed here with this key (flask --app wsgi storage "
                "cloudflare-create-signing-key --save creates one).", "text",
                _text("CLOUDFLARE_SIGNING_KEY_ID", "signing key id", r"[A-Za-z0-9]{1,64}",
                      "8f926b2b01f383510025a78a4dcbf6a"),
                default="", group="cloudflare", audit_value=False),
    SiteSetting("CLOUDFLARE_SIGNING_KEY_PEM", "Signing key (private part)",
                "The pem value Cloudflare returned when the key was created (base64).",
                "secret", secret_field("CLOUDFLARE_SIGNING_KEY_PEM"), secret=True,
                group="cloudflare"),
    SiteSetting("CLOUDFLARE_WEBHOOK_SECRET", "Webhook secret",
                "Cloudflare signs the results it posts with it (flask --app wsgi storage "
                "cloudflare-set-webhook --save sets the webhook and stores it).", "secret",
                secret_field("CLOUDFLARE_WEBHOOK_SECRET"), secret=True, group="cloudflare"),
    # S3 and compatible (docs/storage-s3.md)
    SiteSetting("S3_BUCKET", "Bucket", "A private bucket for the videos.", "text",
                _text("S3_BUCKET", "bucket name", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
                      "videos-example-edu"),
                default="", group="s3", audit_value=False),
    SiteSetting("S3_REGION", "Region", "The bucket's region (R2: auto).", "text",
                _text("S3_REGION", "region", r"[a-z0-9-]{2,32}", "eu-west-1"),
                default="", group="s3", audit_value=False),
    SiteSetting("S3_ENDPOINT_URL", "Endpoint URL",
                "Empty for AWS; the S3 endpoint of R2 or MinIO otherwise.", "text",
                _text("S3_ENDPOINT_URL", "endpoint URL", r"https?://[^\s/?#]+(/[^\s?#]*)?",
                      "https://<account>.r2.cloudflarestorage.com"),
                default="", group="s3", audit_value=False),
    SiteSetting("S3_ACCESS_KEY_ID", "Access key id",
                "Empty: the server's own credentials (an IAM role).", "text",
                _text("S3_ACCESS_KEY_ID", "access key id", r"[A-Za-z0-9]{8,128}",
                      "AKIAIOSFODNN7EXAMPLE"),
                default="", group="s3", audit_value=False),
    SiteSetting("S3_SECRET_ACCESS_KEY", "Secret access key",
                "Shown once by AWS when the key was created.", "secret",
                secret_field("S3_SECRET_ACCESS_KEY"), secret=True, group="s3"),
)


def trial_config(form: Mapping) -> dict:
    """Return the app's settings with the storage settings the form gives (nothing saved);
    a bad field raises ToolError as saving would."""
    config = dict(current_app.config, **{MAX_UPLOAD_BYTES: site_limits().max_bytes})
    for setting in STORAGE_SETTINGS:
        config[setting.name] = _entered(form, setting)
    return config


def test_connection(form: Mapping, origin: str,
                    actor: User) -> tuple[str, list[ConnectionCheck]]:
    """Check the storage the form describes against its provider, for real; return the
    backend's name and every check made (audited: the backend and the names of the checks
    that failed; the caller commits)."""
    config = trial_config(form)
    name = config["STORAGE_BACKEND"]
    backend = backend_class(name)(config)
    checks = (backend.check_connection(origin)
              if backend.supports(Capability.CONNECTION_CHECK) else [])
    audit.record(EventType.STORAGE_TESTED, actor=actor, backend=name,
                 failed=[c.name for c in checks if not c.ok])
    return name, checks
