"""Storage backends, chosen by STORAGE_BACKEND: a registry of name -> class."""
from __future__ import annotations

from importlib import import_module

from flask import current_app

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


def current_storage() -> StorageBackend:
    """Return the app's configured backend, built once per app."""
    backend = current_app.extensions.get(_EXT_KEY)
    if backend is None:
        name = current_app.config["STORAGE_BACKEND"]
        backend = backend_class(name)(current_app.config)
        current_app.extensions[_EXT_KEY] = backend
    return backend


def storage_for(name: str) -> StorageBackend:
    """Return a backend by name (a video keeps the backend it was uploaded to)."""
    if name == current_app.config["STORAGE_BACKEND"]:
        return current_storage()
    return backend_class(name)(current_app.config)
