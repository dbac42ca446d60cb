"""The LTI 1.3 video-assignment tool: create_app() builds the Flask application.

Everything the app is made of is wired here, in the order a request meets it: settings,
the WSGI middleware in front of Flask, extensions, request checks and response headers,
each feature's blueprint, the signals features use to react to each other, what templates
can call, error pages, operator commands and scheduled jobs. Feature modules only define
things; they register nothing by themselves.
"""
from __future__ import annotations

import logging
from importlib import import_module
from pathlib import Path

from flask import Flask

from lti_tool import config as config_module

# Blueprint modules, each exposing `bp`, one per feature. The demo LMS (a development aid)
# is added only when DEMO_LMS is on (register_demo_lms).
BLUEPRINTS = [
    "lti_tool.web.home",
    "lti_tool.web.csp",
    "lti_tool.lti.views",
    "lti_tool.uploads.pages",
    "lti_tool.uploads.views",
    "lti_tool.uploads.multipart_views",
    "lti_tool.handoff.views",
    "lti_tool.tus.views",
    "lti_tool.playback.views",
    "lti_tool.grading.views",
    "lti_tool.captions.views",
    "lti_tool.storage.cloudflare.webhooks",
    "lti_tool.admin.routes",
    "lti_tool.privacy.views",
    "lti_tool.observability.views",
]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config -> middleware -> extensions -> request handling -> blueprints
    -> signals -> templates -> error handlers -> cli -> jobs."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    register_config(app, test_config)
    register_logging(app)
    register_middleware(app)
    register_extensions(app)
    register_request_handling(app)
    register_blueprints(app)
    register_signals(app)
    register_templates(app)
    register_error_handlers(app)
    register_cli(app)
    register_jobs(app)
    return app


def register_config(app: Flask, test_config: dict | None) -> None:
    """Read settings (environment, or the test suite's), fill defaults, refuse bad ones."""
    if test_config is None:
        app.config.from_object(config_module.Config)
    else:
        app.config.from_object(config_module.TestConfig)
        app.config.update(test_config)
    config_module.finalize(app)
    from lti_tool.lti.registration import registration_mode
    registration_mode(app.config)  # a wrong LTI_REGISTRATION stops the start


def register_logging(app: Flask) -> None:
    """Log at LOG_LEVEL, plain lines or JSON (LOG_FORMAT), each with its request id, unless
    the host program configured logging."""
    from lti_tool.observability import logs
    logs.configure(app.config.get("LOG_LEVEL", "INFO"), app.config.get("LOG_FORMAT", "plain"))
    # Alembic announces each of its plugins at INFO on import: noise in every CLI command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # APScheduler logs every run at INFO; our jobs log what they do themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def register_middleware(app: Flask) -> None:
    """Put the WSGI layers in front of Flask: trusted proxies outermost, then the tus fast
    path for chunk PATCHes (lti_tool/tus/fast.py) unless TUS_FAST_PATCH is off."""
    from lti_tool.tus import fast
    from lti_tool.tus.views import protocol_headers
    from lti_tool.web import proxies
    proxies.install(app)
    if app.config["TUS_FAST_PATCH"]:
        fast.install(app, protocol_headers)


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations, logins, rate limits, the outgoing HTTP client and the
    per-process caches of registrations and settings."""
    from lti_tool import models  # noqa: F401  (models must be imported for migrations)
    from lti_tool import outbound, process_cache
    from lti_tool.access import launches
    from lti_tool.extensions import db, login_manager
    from lti_tool.runtime import in_server_worker
    from lti_tool.web import rate_limits

    db.init_app(app)
    if not in_server_worker():  # `flask db ...`, tests, scripts: Alembic is needed
        from flask_migrate import Migrate
        Migrate(app, db, directory=str(_project_path(app, "migrations")))
    login_manager.init_app(app)
    login_manager.user_loader(launches.load_user)
    rate_limits.init_app(app)
    outbound.init_app(app)
    process_cache.init_app(app)
    register_processing_queue(app)


def register_processing_queue(app: Flask) -> None:
    """Build the video processing queue (Huey) from the settings and register its task."""
    from lti_tool.processing import queue
    queue.init_app(app)


def register_request_handling(app: Flask) -> None:
    """Check every request at the door and dress every answer: request ids and metrics,
    bounded `<int:...>` ids and no NUL bytes (before blueprints add their rules),
    iframe-friendly session cookies, security headers and the Content-Security-Policy."""
    from lti_tool.observability import logs, metrics
    from lti_tool.web import cookies, csp, request_input, security_headers
    logs.init_app(app)
    metrics.init_app(app)
    request_input.init_app(app)
    cookies.init_app(app)
    security_headers.init_app(app)
    csp.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Register every feature's routes (and the demo LMS's when DEMO_LMS is on)."""
    for module_name in BLUEPRINTS:
        app.register_blueprint(import_module(module_name).bp)
    from lti_tool.lti.views import jwks
    app.add_url_rule("/.well-known/jwks.json", "lti_well_known_jwks", jwks)
    if app.config.get("DEMO_LMS"):
        register_demo_lms(app)


def register_demo_lms(app: Flask) -> None:
    """Serve the built-in demo LMS at /demo-lms/ (development only: anyone can act as
    anyone there).

    It lives beside the product (the top-level `demo_lms` package, its tables in their own
    metadata); this is the one place the product refers to it, and only when DEMO_LMS is on.
    """
    import demo_lms
    demo_lms.init_app(app)


def register_signals(app: Flask) -> None:
    """Let features react to each other without importing each other."""
    from lti_tool import signals
    from lti_tool.grading.service import on_video_ready
    from lti_tool.observability import metrics
    signals.video_ready.connect(on_video_ready)  # tell the LMS the student submitted
    from lti_tool.processing.queue import on_video_uploaded
    signals.video_uploaded.connect(on_video_uploaded)  # probe, thumbnail, transcode
    # Count for Prometheus (connected once per process: blinker keeps one receiver).
    signals.upload_started.connect(metrics.on_upload_started)
    signals.video_ready.connect(metrics.on_video_ready)
    signals.video_failed.connect(metrics.on_video_failed)
    signals.playback_granted.connect(metrics.on_playback_granted)
    signals.upload_bytes_received.connect(metrics.on_upload_bytes_received)
    signals.job_finished.connect(metrics.on_job_finished)


def register_templates(app: Flask) -> None:
    """Give templates the shared filters (sizes, durations, moments) and helpers."""
    from lti_tool.access.launches import launch_url_for, posted_page_url
    from lti_tool.captions.service import captions_panel
    from lti_tool.grading.views import student_feedback
    from lti_tool.web.formatting import TEMPLATE_FILTERS
    app.jinja_env.filters.update(TEMPLATE_FILTERS)
    app.jinja_env.globals.update(launch_url_for=launch_url_for, captions_panel=captions_panel,
                                 released_feedback=student_feedback,
                                 posted_page_url=posted_page_url)


def register_error_handlers(app: Flask) -> None:
    """Render every error one way: an HTML page for people, JSON for scripts."""
    from lti_tool import errors
    errors.init_app(app)


def register_cli(app: Flask) -> None:
    """Add the operator commands (`flask --app wsgi <group> --help`)."""
    from lti_tool.admin.cli import admins_cli, settings_cli
    from lti_tool.grading.cli import grades_cli
    from lti_tool.housekeeping.cli import reports_cli
    from lti_tool.jobs_cli import jobs_cli
    from lti_tool.lti.cli import keys_cli, platforms_cli
    from lti_tool.privacy.cli import privacy_cli
    from lti_tool.processing.cli import worker_command
    from lti_tool.storage.cli import storage_cli
    from lti_tool.storage.cloudflare.cli import COMMANDS as CLOUDFLARE_COMMANDS
    from lti_tool.storage.s3.cli import COMMANDS as S3_COMMANDS
    for command in (*CLOUDFLARE_COMMANDS, *S3_COMMANDS):  # their SDKs load on use
        storage_cli.add_command(command)
    for group in (platforms_cli, keys_cli, storage_cli, admins_cli, jobs_cli, grades_cli,
                  privacy_cli, reports_cli, settings_cli, worker_command):
        app.cli.add_command(group)


def register_jobs(app: Flask) -> None:
    """Start the scheduled jobs (lti_tool/jobs.py) where this process should run them."""
    from lti_tool import jobs
    jobs.init_app(app)


def _project_path(app: Flask, name: str):
    return Path(app.root_path).parent / name
