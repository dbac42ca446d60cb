"""Settings an admin may set in the tool, overriding the environment (lti_tool.config);
secrets encrypted.

Secret values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, authenticated) under a
key derived by HKDF-SHA256 from SETTINGS_ENCRYPTION_KEY, or from SECRET_KEY when that is not
set, so a copy of the database alone does not reveal them. Rotation: SETTINGS_ENCRYPTION_KEY
may list several keys (comma-separated); the first encrypts, every one of them (and
SECRET_KEY) can still decrypt, and `flask --app wsgi settings reencrypt` rewrites every
stored secret under the first, after which the old keys can be dropped (the runbook in
docs/admin-operations.md, "Rotate credentials").

The table is read once per process and kept (decrypted) until an admin changes a setting:
then this process reloads it at once, every other one within a second
(lti_tool.process_cache). A playback used to read it three times.
"""
from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, has_app_context

from lti_tool.extensions import db
from lti_tool.models import Setting
from lti_tool.process_cache import ProcessCache

CACHE = ProcessCache("settings", (Setting,))
_MISSING = object()


HKDF_INFO = b"lti-tool admin settings v1"
LEGACY_PREFIX = b"lti-tool-settings:"  # the derivation before HKDF: sha256(prefix + key)


def _key_materials() -> list[str]:
    """Return the configured keys, the one that encrypts first; SECRET_KEY always last."""
    listed = [k for k in re.split(r"[\s,]+", current_app.config.get(
        "SETTINGS_ENCRYPTION_KEY") or "") if k]
    secret_key = current_app.config["SECRET_KEY"]
    return listed + [secret_key] if secret_key not in listed else listed


def _derive(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=HKDF_INFO).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _legacy(material: str) -> Fernet:
    key = hashlib.sha256(LEGACY_PREFIX + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _fernet() -> MultiFernet:
    """Return the cipher: encrypts under the first key, decrypts under any configured one
    (and under the pre-HKDF derivation of each, for values stored before it)."""
    materials = _key_materials()
    return MultiFernet([_derive(m) for m in materials] + [_legacy(m) for m in materials])


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


def reencrypt_secrets() -> int:
    """Rewrite every stored secret under the first key; return how many (caller commits).

    A secret no configured key can read is left as it is (and logged by name)."""
    cipher, count = _fernet(), 0
    for row in db.session.scalars(db.select(Setting).filter_by(encrypted=True)):
        try:
            row.value = cipher.rotate(row.value.encode()).decode()
        except InvalidToken:
            current_app.logger.error("setting %s cannot be decrypted with any configured key; "
                                     "left as it is (enter it again)", row.key)
            continue
        count += 1
    return count


def read_setting(config: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """Return setting `name` for a component (a storage backend) built from `config`.

    Inside the app that owns `config`, an admin-set value overrides the environment;
    elsewhere `config` alone is used.
    """
    if has_app_context() and config is current_app.config:
        return get_setting(name, default)
    value = config.get(name)
    return default if value in (None, "") else value
