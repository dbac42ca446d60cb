"""Storage backends, chosen by STORAGE_BACKEND: a registry of name -> class.

STORAGE_BACKEND is read through lti_tool.settings, so the admin settings page can switch
it: new uploads go to the new backend, every video keeps the one it was uploaded to
(`Video.backend`). Backends read their own settings on each call, so changed credentials
apply at once without rebuilding them.
"""
from __future__ import annotations

from importlib import import_module

from flask import current_app
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Video
from lti_tool.settings import get_setting
from lti_tool.storage.base import StorageBackend

# name -> "module:Class", imported on first use so an unused backend's SDK is not needed.
BACKENDS = {
    "local": "lti_tool.storage.local.backend:LocalStorage",
    "cloudflare": "lti_tool.storage.cloudflare.backend:CloudflareStorage",
    "s3": "lti_tool.storage.s3.backend:S3Storage",
}

_EXT_KEY = "lti_tool.storage"


def backend_class(name: str) -> type[StorageBackend]:
    """Return the backend class registered under `name`."""
    try:
        module_name, class_name = BACKENDS[name].split(":")
    except KeyError:
        raise ValueError(f"Unknown STORAGE_BACKEND {name!r}; choose one of "
                         f"{', '.join(sorted(BACKENDS))}.") from None
    return getattr(import_module(module_name), class_name)


def active_backend_name() -> str:
    """Return the name of the backend new uploads go to (admin setting, else environment)."""
    return str(get_setting("STORAGE_BACKEND", "local"))


def backends_in_use() -> list[str]:
    """Return the active backend's name and that of every backend still holding a video."""
    held = set(db.session.scalars(select(Video.backend).distinct()))
    return sorted(held | {active_backend_name()})


def current_storage() -> StorageBackend:
    """Return the backend new uploads go to, built once per app (again after a switch)."""
    return _active_storage(active_backend_name())


def _active_storage(name: str) -> StorageBackend:
    backend = current_app.extensions.get(_EXT_KEY)
    if backend is None or backend.name != name:
        backend = backend_class(name)(current_app.config)
        current_app.extensions[_EXT_KEY] = backend
    return backend


def storage_for(name: str) -> StorageBackend:
    """Return a backend by name (a video keeps the backend it was uploaded to)."""
    if name == active_backend_name():  # the setting read once (a grant per play)
        return _active_storage(name)
    return backend_class(name)(current_app.config)
