"""Settings an admin may set in the tool, overriding the environment (lti_tool.config);
secrets encrypted.

Secret values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived
from SETTINGS_ENCRYPTION_KEY, or from SECRET_KEY when that is not set, so a copy of the
database alone does not reveal them.

The table is read once per process and kept (decrypted) until an admin changes a setting:
then this process reloads it at once, every other one within a second
(lti_tool.process_cache). A playback used to read it three times.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Any, Mapping

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, has_app_context

from lti_tool.extensions import db
from lti_tool.models import Setting
from lti_tool.process_cache import ProcessCache

CACHE = ProcessCache("settings", (Setting,))
_MISSING = object()


def _fernet() -> Fernet:
    material = (current_app.config.get("SETTINGS_ENCRYPTION_KEY")
                or current_app.config["SECRET_KEY"]).encode()
    key = hashlib.sha256(b"lti-tool-settings:" + material).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _stored_settings() -> dict[str, Any]:
    """Return every admin-set value, decrypted (one query)."""
    values: dict[str, Any] = {}
    for row in db.session.scalars(db.select(Setting)):
        if not row.encrypted:
            values[row.key] = row.value
            continue
        try:
            values[row.key] = _fernet().decrypt(row.value.encode()).decode()
        except InvalidToken:
            current_app.logger.error(
                "setting %s cannot be decrypted (was SECRET_KEY or SETTINGS_ENCRYPTION_KEY "
                "changed?); falling back to the environment", row.key)
    return values


def get_setting(name: str, default=None):
    """Return an admin-set value for `name`, else the app config's, else `default`."""
    value = CACHE.get("all", _stored_settings).get(name, _MISSING)
    if value is not _MISSING:
        return value
    value = current_app.config.get(name)
    return default if value in (None, "") else value


def set_setting(name: str, value: str | None, *, secret: bool = False) -> None:
    """Store (or with None, remove) an admin-set value; the caller commits."""
    row = db.session.get(Setting, name)
    if value is None:
        if row is not None:
            db.session.delete(row)
        return
    stored = _fernet().encrypt(value.encode()).decode() if secret else value
    if row is None:
        db.session.add(Setting(key=name, value=stored, encrypted=secret))
    else:
        row.value, row.encrypted = stored, secret


def read_setting(config: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """Return setting `name` for a component (a storage backend) built from `config`.

    Inside the app that owns `config`, an admin-set value overrides the environment;
    elsewhere `config` alone is used.
    """
    if has_app_context() and config is current_app.config:
        return get_setting(name, default)
    value = config.get(name)
    return default if value in (None, "") else value
