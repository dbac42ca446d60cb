"""The site settings an admin sets on the settings page, each read and checked one way.

They are stored by lti_tool.settings (overriding the environment). The storage settings
(lti_tool/admin/storage_settings.py) include secrets (`secret=True`): those are stored
encrypted, shown only as set or not, never sent back to the browser (their inputs stay
empty; empty keeps the stored value), and audited by name only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from flask import current_app

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import ToolError
from lti_tool.extensions import db
from lti_tool.housekeeping import MAX_RETENTION_DAYS
from lti_tool.models import Setting, User
from lti_tool.settings import get_setting, set_setting
from lti_tool.uploads.limits import (ACCEPTED_FORMATS, DEFAULT_UPLOAD_BYTES, KNOWN_FORMATS,
                                     MAX_UPLOAD_BYTES)
from lti_tool.web.formatting import GB

MAX_SUPPORT_CHARS = 200
ON = "1"
MAX_SECRET_CHARS = 10_000
CLEAR_SUFFIX = "__clear"  # the checkbox beside a secret that forgets the stored value
KEEP = object()  # a secret left empty: the stored value stays
CLEAR = object()  # a secret to forget (the environment's value, if any, applies again)
# The dashboard's targets (lti_tool.admin.metrics reads them), in percent.
TARGET_UPLOAD_SUCCESS = "TARGET_UPLOAD_SUCCESS_PERCENT"
TARGET_PLAYBACK_SUCCESS = "TARGET_PLAYBACK_SUCCESS_PERCENT"
TARGET_ERROR = "TARGET_ERROR_PERCENT"


@dataclass(frozen=True)
class SiteSetting:
    """One setting of the page: its name, what it means, and how a form value becomes it."""

    name: str
    label: str
    help: str
    kind: str  # number | text | checkbox | formats | choice | secret
    parse: Callable[[Mapping], object]
    shown: Callable[[str], object] = str
    secret: bool = False
    default: object = None
    group: str = ""  # storage settings: the backend they belong to
    choices: tuple[tuple[str, str], ...] = ()  # kind "choice": (value, label)
    # Whether the audit entry carries the new value (not for storage settings: names only).
    audit_value: bool = True


def _number(name, low, high, what, scale=1.0) -> Callable[[Mapping], str]:
    def parse(form):
        raw = (form.get(name) or "").strip()
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ToolError(f"{what} must be a number from {low:g} to {high:g}.",
                            code="bad_setting")
        return str(int(round(value * scale)))
    return parse


def _percent(name, what) -> Callable[[Mapping], str]:
    def parse(form):
        raw = (form.get(name) or "").strip()
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not 0 <= value <= 100:  # NaN fails both bounds
            raise ToolError(f"{what} must be a percentage from 0 to 100.", code="bad_setting")
        return f"{value:g}"
    return parse


def _shown_percent(value) -> str:
    return f"{float(value):g}"


def _support(form) -> str:
    value = " ".join((form.get("SUPPORT_CONTACT") or "").split())
    if len(value) > MAX_SUPPORT_CHARS:
        raise ToolError(f"The support contact must be at most {MAX_SUPPORT_CHARS} characters.",
                        code="bad_setting")
    return value


def _formats(form) -> str:
    chosen = [f for f in KNOWN_FORMATS if f in form.getlist(ACCEPTED_FORMATS)]
    if not chosen:
        raise ToolError("Choose at least one accepted format.", code="bad_setting")
    return ",".join(chosen)


def _switch(form) -> str:
    return ON if form.get("UPLOADS_PAUSED") == ON else "0"


SETTINGS: tuple[SiteSetting, ...] = (
    SiteSetting("UPLOADS_PAUSED", "Stop new uploads on the whole site",
                "Students cannot start a new upload and are told to try later; videos "
                "already submitted play, grading goes on. The rollback lever.",
                "checkbox", _switch, lambda v: str(v).lower() in {"1", "true", "yes", "on"},
                default=False),
    SiteSetting("RETENTION_DAYS", "Keep videos for (days)",
                "The retention job deletes videos older than this from the storage (an "
                "assignment may keep them longer or shorter; 0 keeps them forever; never a "
                "video on legal hold).", "number",
                _number("RETENTION_DAYS", 0, MAX_RETENTION_DAYS, "The retention period"),
                int, default=90),
    SiteSetting(MAX_UPLOAD_BYTES, "Largest upload (GB)",
                "The site's limit, enforced and shown by every way in (browser, phone, tus "
                "clients); an assignment may set a lower one. 1 GB = 1024 MB, as students "
                "read sizes.", "number",
                _number(MAX_UPLOAD_BYTES, 0.001, 5000, "The largest upload", scale=GB),
                lambda v: f"{int(v) / GB:g}"),
    SiteSetting(DEFAULT_UPLOAD_BYTES, "Largest upload of an assignment that sets none (GB)",
                "0: the site's largest upload. Never more than it.", "number",
                _number(DEFAULT_UPLOAD_BYTES, 0, 5000, "The default upload limit", scale=GB),
                lambda v: f"{int(v or 0) / GB:g}", default=0),
    SiteSetting(ACCEPTED_FORMATS, "Accepted formats",
                "File types students may upload; an assignment may accept fewer.",
                "formats", _formats,
                lambda v: [f for f in str(v or "").split(",") if f] or list(KNOWN_FORMATS),
                default=""),
    SiteSetting("SUPPORT_CONTACT", "Support contact shown to students",
                "An email address, a web address or a few words, shown on the student's "
                "page under the upload limits. Empty: nothing is shown.", "text", _support,
                default=""),
    SiteSetting(TARGET_UPLOAD_SUCCESS, "Target: uploads that succeed (at least, %)",
                "The dashboard marks the upload success rate of the last 30 days on or off "
                "target against this.", "number",
                _percent(TARGET_UPLOAD_SUCCESS, "The upload success target"), _shown_percent),
    SiteSetting(TARGET_PLAYBACK_SUCCESS, "Target: playbacks granted (at least, %)",
                "The dashboard's target for playback requests that get the video.", "number",
                _percent(TARGET_PLAYBACK_SUCCESS, "The playback target"), _shown_percent),
    SiteSetting(TARGET_ERROR, "Target: errors (at most, %)",
                "Failed uploads, refused playbacks and grades the LMS refused, of all of "
                "them: the dashboard's ceiling.", "number",
                _percent(TARGET_ERROR, "The error target"), _shown_percent),
)


def secret_field(name: str) -> Callable[[Mapping], object]:
    """Parse a secret's password input: empty keeps the stored value, the clear box forgets
    it, anything else replaces it."""
    def parse(form):
        if form.get(name + CLEAR_SUFFIX) == ON:
            return CLEAR
        value = (form.get(name) or "").strip()
        if len(value) > MAX_SECRET_CHARS:
            raise ToolError(f"A secret must be at most {MAX_SECRET_CHARS:,} characters.",
                            code="bad_setting")
        return value or KEEP
    return parse


def secret_state(name: str) -> str:
    """Say where a secret's value comes from, never what it is."""
    if db.session.get(Setting, name) is not None:
        return "stored"  # set on this page, encrypted
    return "environment" if current_app.config.get(name) else ""


def current_values(settings: tuple[SiteSetting, ...] = ()) -> dict[str, object]:
    """Return each setting's value for the form (a secret's only as where it is set)."""
    values = {}
    for s in settings or SETTINGS:
        value = get_setting(s.name, s.default)
        values[s.name] = secret_state(s.name) if s.secret else s.shown(
            value if value is not None else "")
    return values


def save(form: Mapping, actor: User, settings: tuple[SiteSetting, ...] = ()) -> list[str]:
    """Check every field, store those that changed (audited), return their names; the caller
    commits. A bad field refuses the whole form."""
    settings = settings or SETTINGS
    parsed = {s.name: s.parse(form) for s in settings}
    changed = []
    for s in settings:
        new = parsed[s.name]
        if new is KEEP:
            continue
        if new is CLEAR:
            if db.session.get(Setting, s.name) is None:
                continue
            set_setting(s.name, None)
        else:
            old = get_setting(s.name, s.default)
            if s.shown(old if old is not None else "") == s.shown(new):
                continue
            set_setting(s.name, new, secret=s.secret)
        changed.append(s.name)
        details = {"value": new} if s.audit_value and not s.secret else {}
        audit.record(EventType.SETTING_CHANGED, actor=actor, setting=s.name, how="admin",
                     **details)
    return changed
