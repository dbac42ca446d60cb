"""The LTI 1.3 video-assignment tool: create_app() builds the Flask application."""
from __future__ import annotations

import logging
import sys
from importlib import import_module
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module

# Blueprint modules, each exposing `bp`; one per feature.
BLUEPRINTS = [
    "lti_tool.home",
    "lti_tool.student",
    "lti_tool.review",
    "lti_tool.tus.views", "lti_tool.uploads", "lti_tool.playback",
    "lti_tool.lti.views",
    "lti_tool.multipart", "lti_tool.webhooks",
    "lti_tool.captions",
    "lti_tool.csp",
]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config -> extensions -> blueprints -> error handlers -> cli -> jobs."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    register_config(app, test_config)
    register_logging(app)
    register_extensions(app)
    register_request_input(app)
    register_blueprints(app)
    register_demo_lms(app)
    register_error_handlers(app)
    register_cli(app)
    register_jobs(app)
    return app


def register_config(app: Flask, test_config: dict | None) -> None:
    if test_config is None:
        app.config.from_object(config_module.Config)
    else:
        app.config.from_object(config_module.TestConfig)
        app.config.update(test_config)
    config_module.finalize(app)
    if app.config["PROXY_COUNT"] > 0:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    else:
        app.wsgi_app = NoTrustedProxy(app.wsgi_app, app.config["PUBLIC_BASE_URL"])


class NoTrustedProxy:
    """WSGI middleware for PROXY_COUNT=0: no X-Forwarded-* header is believed.

    A public base URL on https means whatever reaches the app came through TLS (terminated
    in front), so the request counts as https (secure cookies). A request that does carry
    X-Forwarded-For is logged once: the operator probably forgot PROXY_COUNT.
    """

    def __init__(self, app, public_base_url: str):
        self.app = app
        self.https = (public_base_url or "").startswith("https://")
        self.warned = False

    def __call__(self, environ, start_response):
        if self.https:
            environ["wsgi.url_scheme"] = "https"
        if not self.warned and "HTTP_X_FORWARDED_FOR" in environ:
            self.warned = True
            logging.getLogger(__name__).warning(
                "a request came with X-Forwarded-For, but PROXY_COUNT=0: client addresses "
                "are the socket's peer. Behind a reverse proxy set PROXY_COUNT=1 (README).")
        return self.app(environ, start_response)


def register_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=app.config.get("LOG_LEVEL", "INFO"),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces each of its plugins at INFO on import: noise in every CLI command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # APScheduler logs every run at INFO; our jobs log what they do themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def register_extensions(app: Flask) -> None:
    from .extensions import db, login_manager
    from . import models  # noqa: F401  (models must be imported for migrations)
    from . import auth  # noqa: F401  (registers the user loader)

    db.init_app(app)
    from . import outbound
    outbound.init_app(app)
    if not in_server_worker():  # `flask db ...`, tests, scripts: Alembic is needed
        from flask_migrate import Migrate
        Migrate(app, db, directory=str(_project_path(app, "migrations")))
    login_manager.init_app(app)
    from . import rate_limits
    rate_limits.init_app(app)
    from .cookies import init_app as init_cookies
    init_cookies(app)
    from .headers import init_app as init_headers
    init_headers(app)


def in_server_worker() -> bool:
    """Tell whether a gunicorn process is loading the app (it serves; it never migrates)."""
    program = Path(sys.argv[0] if sys.argv else "")
    return "gunicorn" in (program.name, program.parent.name)


def register_request_input(app: Flask) -> None:
    """Bound `<int:...>` ids and refuse NUL bytes (before blueprints add their rules)."""
    from . import request_input
    request_input.init_app(app)


def register_blueprints(app: Flask) -> None:
    for module_name in BLUEPRINTS:
        module = import_module(module_name)
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)


def register_demo_lms(app: Flask) -> None:
    """Serve the built-in demo LMS when DEMO_LMS is on; otherwise never import it.

    The demo LMS is a development aid that lives beside the product (the top-level
    `demo_lms` package): this is the one place the product refers to it.
    """
    if not app.config.get("DEMO_LMS"):
        return
    import demo_lms
    demo_lms.init_app(app)


def register_error_handlers(app: Flask) -> None:
    from . import errors
    errors.init_app(app)


def register_cli(app: Flask) -> None:
    from . import cli
    cli.init_app(app)


def register_jobs(app: Flask) -> None:
    from . import jobs
    jobs.init_app(app)


def _project_path(app: Flask, name: str):
    return Path(app.root_path).parent / name
