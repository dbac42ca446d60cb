"""Deep Linking 2.0: the instructor's settings become an ltiResourceLink with a line item.

The response is a JWT signed with the tool's key (Deep Linking 2.0, section 4.4 "Deep Linking
Response"; 1EdTech Security Framework 5.2 for tool-originating messages), auto-posted to the
platform's deep_link_return_url.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import jwt

from lti_tool.housekeeping import CUSTOM_RETENTION_DAYS, MAX_RETENTION_DAYS
from lti_tool.lti import claims as c, keys
from lti_tool.lti.ags_values import CUSTOM_LINEITEM_RESOURCE_ID, LINEITEM_TAG
from lti_tool.lti.origins import check_return_url
from lti_tool.models import LaunchRecord
from lti_tool.uploads.limits import SiteLimits
from lti_tool.web.formatting import GB, MB, format_size

SIZE_UNITS = {"MB": MB, "GB": GB}
# The line item tag that marks our gradebook columns (AGS 2.0, 3.2.6), for finding them again.
RESPONSE_TTL_SECONDS = 300
TITLE_MAX = 255
MAX_SCORE_LIMIT = 10000
# Deadline settings carried on the link as custom parameters (provisioning reads them once).
DEADLINE_CUSTOM = ("due_at", "cutoff_at", "max_attempts")


@dataclass
class LinkSettings:
    """What an instructor chose for a new video assignment."""

    title: str
    instructions: str = ""
    max_score: float = 100.0
    max_file_bytes: int | None = None
    allowed_formats: list[str] = field(default_factory=list)
    max_duration_seconds: int | None = None
    # Deadlines (UTC): due date, cut-off for new attempts, videos a student may hand in.
    due_at: datetime | None = None
    cutoff_at: datetime | None = None
    max_attempts: int | None = None
    # Days the videos are kept (None: the site's period; 0: for ever).
    retention_days: int | None = None
    # Sound-only submissions (a microphone recording) accepted.
    accepts_audio: bool = False
    # The gradebook column's resourceId, also kept on the link to find the column again.
    lineitem_resource_id: str = field(default_factory=lambda: f"va-{secrets.token_hex(8)}")

    def custom(self) -> dict[str, str]:
        """Return the link's custom parameters (strings, as Deep Linking requires)."""
        out = {"max_score": f"{self.max_score:g}"}
        if self.instructions:
            out["instructions"] = self.instructions
        if self.max_file_bytes:
            out["max_file_bytes"] = str(self.max_file_bytes)
        if self.allowed_formats:
            out["allowed_formats"] = ",".join(self.allowed_formats)
        if self.max_duration_seconds:
            out["max_duration_seconds"] = str(self.max_duration_seconds)
        if self.retention_days is not None:
            out[CUSTOM_RETENTION_DAYS] = str(self.retention_days)
        if self.accepts_audio:
            out[c.CUSTOM_ACCEPTS_AUDIO] = "1"
        for name in DEADLINE_CUSTOM:
            value = getattr(self, name)
            if value:
                out[name] = value.isoformat() if isinstance(value, datetime) else str(value)
        out[CUSTOM_LINEITEM_RESOURCE_ID] = self.lineitem_resource_id
        return out


def _number(raw: str | None, label: str, errors: dict, key: str, *, minimum: float,
            maximum: float | None = None) -> float | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[key] = f"{label} must be a number."
        return None
    if value < minimum or (maximum is not None and value > maximum):
        errors[key] = (f"{label} must be between {minimum:g} and {maximum:g}." if maximum
                       else f"{label} must be at least {minimum:g}.")
        return None
    return value


def parse_settings(form, site: SiteLimits) -> tuple[LinkSettings | None, dict[str, str]]:
    """Read the deep-linking form within the site's limits; return (settings, {}) or
    (None, {field: message})."""
    errors: dict[str, str] = {}
    title = (form.get("title") or "").strip()
    if not title:
        errors["title"] = "Give the assignment a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"The title may have at most {TITLE_MAX} characters."
    max_score = _number(form.get("max_score"), "Maximum score", errors, "max_score",
                        minimum=0.01, maximum=MAX_SCORE_LIMIT)
    unit = form.get("max_size_unit", "GB")
    size = _number(form.get("max_size"), "Maximum file size", errors, "max_size", minimum=0.001)
    max_bytes = None
    if size is not None:
        if unit not in SIZE_UNITS:
            errors["max_size"] = "Choose MB or GB."
        else:
            max_bytes = int(size * SIZE_UNITS[unit])
            if max_bytes > site.max_bytes:
                errors["max_size"] = (f"This site accepts files up to "
                                      f"{format_size(site.max_bytes)}.")
    minutes = _number(form.get("max_duration_minutes"), "Maximum duration", errors,
                      "max_duration_minutes", minimum=0.1, maximum=24 * 60)
    formats = [f for f in form.getlist("allowed_formats") if f in site.formats]
    due, cutoff = _moment(form, "due_at", "Due date", errors), \
        _moment(form, "cutoff_at", "Cut-off", errors)
    if due and cutoff and cutoff < due:
        errors["cutoff_at"] = "The cut-off must not come before the due date."
    attempts = _number(form.get("max_attempts"), "Videos a student may hand in", errors,
                       "max_attempts", minimum=1, maximum=100)
    if attempts is not None and attempts != int(attempts):
        errors["max_attempts"] = "Videos a student may hand in: a whole number."
    keep = _number(form.get(CUSTOM_RETENTION_DAYS), "Keep the videos for", errors,
                   CUSTOM_RETENTION_DAYS, minimum=0, maximum=MAX_RETENTION_DAYS)
    if keep is not None and keep != int(keep):
        errors[CUSTOM_RETENTION_DAYS] = "Keep the videos for: a whole number of days."
    if errors:
        return None, errors
    return LinkSettings(
        title=title, instructions=(form.get("instructions") or "").strip(),
        max_score=max_score if max_score is not None else 100.0, max_file_bytes=max_bytes,
        allowed_formats=formats,
        max_duration_seconds=int(minutes * 60) if minutes is not None else None,
        due_at=due, cutoff_at=cutoff,
        max_attempts=int(attempts) if attempts is not None else None,
        retention_days=int(keep) if keep is not None else None,
        accepts_audio=str(form.get(c.CUSTOM_ACCEPTS_AUDIO, "")) in ("1", "on")), {}


def _moment(form, key: str, label: str, errors: dict) -> datetime | None:
    """Read a UTC moment from a datetime-local field (None when empty)."""
    raw = (form.get(key) or "").strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)
    except ValueError:
        errors[key] = f"{label}: write a date and time such as 2031-03-01T09:00."
        return None


def content_item(settings: LinkSettings, launch_url: str, accept_lineitem: bool) -> dict:
    """Return the ltiResourceLink content item (Deep Linking 2.0, 3.4.1)."""
    item = {"type": "ltiResourceLink", "title": settings.title, "url": launch_url,
            "custom": settings.custom()}
    if settings.instructions:
        item["text"] = settings.instructions[:1000]
    if settings.due_at:  # Deep Linking 2.0, 3.4.1: when submissions are accepted until
        item["submission"] = {"endDateTime": settings.due_at.isoformat()}
    if accept_lineitem:
        item["lineItem"] = {"scoreMaximum": settings.max_score, "label": settings.title,
                            "resourceId": settings.lineitem_resource_id, "tag": LINEITEM_TAG}
    return item


def deep_link_settings(launch: LaunchRecord) -> dict:
    """Return the platform's deep linking settings from the launch."""
    return launch.claims.get(c.DL_SETTINGS) or {}


def return_url(launch: LaunchRecord, allow_loopback: bool) -> str:
    """Return the platform's deep_link_return_url once it is safe to auto-post the response to.

    Raises ReturnUrlRefused unless it is an https URL (http only on loopback when allowed)
    on an origin of the launch's registration: the page posts the signed response there.
    """
    return check_return_url(deep_link_settings(launch).get("deep_link_return_url"),
                            launch.platform, allow_loopback=allow_loopback)


def accepts_lineitem(dl: dict) -> bool:
    """Tell whether the platform takes a line item with the link (absent means yes)."""
    value = dl.get("accept_lineitem", True)
    return value not in (False, "false")


def response_jwt(launch: LaunchRecord, items: list[dict]) -> str:
    """Return the signed LtiDeepLinkingResponse for the launch, echoing its `data`."""
    now = int(time.time())
    platform = launch.platform
    dl = deep_link_settings(launch)
    payload = {
        "iss": platform.client_id, "aud": platform.issuer, "iat": now,
        "exp": now + RESPONSE_TTL_SECONDS, "nonce": secrets.token_urlsafe(16),
        c.DEPLOYMENT_ID: launch.claims[c.DEPLOYMENT_ID],
        c.MESSAGE_TYPE: c.DEEP_LINKING_RESPONSE,
        c.VERSION: c.LTI_VERSION_1_3,
        c.DL_CONTENT_ITEMS: items,
    }
    if "data" in dl:
        payload[c.DL_DATA] = dl["data"]
    kid, pem = keys.signing_key()
    return jwt.encode(payload, pem, algorithm=keys.SIGNING_ALG, headers={"kid": kid})
