"""How cloud backends read their settings: an admin-set value first, then the environment."""
from __future__ import annotations

from typing import Any, Mapping

from flask import current_app, has_app_context


def read_setting(config: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """Return setting `name` for a backend built from `config`.

    Inside the app that owns `config`, an admin-set value (lti_tool.settings_store, stored
    encrypted when secret) overrides the environment; elsewhere `config` alone is used.
    """
    if has_app_context() and config is current_app.config:
        from lti_tool.settings_store import get_setting
        return get_setting(name, default)
    value = config.get(name)
    return default if value in (None, "") else value
