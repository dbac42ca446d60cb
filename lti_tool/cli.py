"""Flask commands for operators; each feature adds its command group here."""
from __future__ import annotations

from flask import Flask

# Modules exposing a click group or command named `cli`, added to `flask --app wsgi`.
COMMAND_MODULES: list[str] = [
    "lti_tool.lti.cli",
    "lti_tool.storage.cli",
]


def init_app(app: Flask) -> None:
    """Register every operator command group."""
    from importlib import import_module
    for module_name in COMMAND_MODULES:
        app.cli.add_command(import_module(module_name).cli)
