"""Settings read from the environment, with safe defaults for one machine."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from lti_tool.database import is_sqlite, sqlite_engine_options

GIB = 1024**3
DEFAULT_MAX_UPLOAD_BYTES = 5 * GIB  # the largest upload when nobody set one


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


class Config:
    """Production-safe defaults; every name here is documented in the README."""

    SECRET_KEY = os.environ.get("SECRET_KEY") or ""
    DATABASE_URL = os.environ.get("DATABASE_URL") or ""
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # How long a write waits for SQLite's one writer slot before it fails (lti_tool.database).
    SQLITE_BUSY_TIMEOUT_SECONDS = _int("SQLITE_BUSY_TIMEOUT_SECONDS", 30)

    LTI_KEYS_DIR = os.environ.get("LTI_KEYS_DIR", "keys")
    # How long a retired tool key stays in the JWKS after rotation.
    LTI_KEY_OVERLAP_DAYS = _int("LTI_KEY_OVERLAP_DAYS", 7)
    # Leeway for exp/iat: Moodle's id_token lives 60 s, so keep this small.
    LTI_JWT_LEEWAY_SECONDS = _int("LTI_JWT_LEEWAY_SECONDS", 10)
    LTI_LAUNCH_TTL_SECONDS = _int("LTI_LAUNCH_TTL_SECONDS", 8 * 3600)
    # The phone hand-off: how long a link may be claimed, and the tus chunk size for phones
    # (small enough to resend cheaply on a mobile network; Cloudflare needs >= 5 MiB).
    HANDOFF_LINK_TTL_SECONDS = _int("HANDOFF_LINK_TTL_SECONDS", 600)
    HANDOFF_CHUNK_BYTES = _int("HANDOFF_CHUNK_BYTES", 5 * 1024 * 1024)
    LTI_PLATFORM_JWKS_TTL_SECONDS = _int("LTI_PLATFORM_JWKS_TTL_SECONDS", 3600)

    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    LOCAL_STORAGE_DIR = os.environ.get("LOCAL_STORAGE_DIR", "")
    # The largest upload; with DEFAULT_UPLOAD_BYTES and ACCEPTED_FORMATS below, read only
    # through lti_tool.uploads.limits.site_limits (the settings page may override them).
    MAX_UPLOAD_BYTES = _int("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
    PLAYBACK_URL_TTL_SECONDS = _int("PLAYBACK_URL_TTL_SECONDS", 600)
    # Bind playback links to the viewer's address (local disk, Cloudflare, CloudFront; not
    # S3 presigned URLs). Off: campus NAT and mobile networks change addresses mid-video.
    PLAYBACK_BIND_CLIENT_ADDRESS = _bool("PLAYBACK_BIND_CLIENT_ADDRESS", False)
    UPLOAD_EXPIRY_HOURS = _int("UPLOAD_EXPIRY_HOURS", 48)
    # Bytes per tus PATCH the browser sends; 0 = the whole file in one PATCH (fastest). Set it
    # below any body limit of a proxy in front (e.g. 50 MiB behind Cloudflare's 100 MB cap).
    UPLOAD_CHUNK_BYTES = _int("UPLOAD_CHUNK_BYTES", 0)
    # The longest browser recording where the assignment sets no longest video (seconds).
    RECORDING_MAX_SECONDS = _int("RECORDING_MAX_SECONDS", 3600)
    # The WSGI fast path for non-final tus PATCHes (lti_tool/tus/fast.py); off: every PATCH
    # goes through the Flask view. For measuring and diagnosing (bench/tus_fast_path_bench.py).
    TUS_FAST_PATCH = _bool("TUS_FAST_PATCH", True)

    PUBLIC_BASE_URL = (os.environ.get("PUBLIC_BASE_URL") or "").rstrip("/")
    # Number of proxies in front of the app whose X-Forwarded-* headers we trust. 0 (no
    # proxy): a client's own X-Forwarded-For is ignored, so it cannot choose its address.
    PROXY_COUNT = _int("PROXY_COUNT", 0)

    # Total deadline of each call to an LMS service (token, AGS, NRPS).
    LTI_SERVICE_TIMEOUT_SECONDS = _int("LTI_SERVICE_TIMEOUT_SECONDS", 15)
    # A score the LMS keeps refusing to take is marked failed (kept, retryable) after this.
    OUTBOX_GIVE_UP_HOURS = _int("OUTBOX_GIVE_UP_HOURS", 72)
    # Retention (lti_tool/housekeeping/retention.py): videos older than this many days are
    # deleted from storage (0: never); an assignment may set its own period.
    RETENTION_DAYS = _int("RETENTION_DAYS", 90)
    # Videos deleted per batch, and the pause between batches (a provider's rate limits).
    RETENTION_BATCH_SIZE = _int("RETENTION_BATCH_SIZE", 100)
    RETENTION_BATCH_PAUSE_SECONDS = float(os.environ.get("RETENTION_BATCH_PAUSE_SECONDS") or 2)
    SETTINGS_ENCRYPTION_KEY = os.environ.get("SETTINGS_ENCRYPTION_KEY", "")

    DEMO_LMS = _bool("DEMO_LMS", False)
    DEMO_LMS_TOKEN_TTL_SECONDS = _int("DEMO_LMS_TOKEN_TTL_SECONDS", 3600)
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    REDIS_URL = os.environ.get("REDIS_URL", "")
    # --- video processing (lti_tool.processing): a Huey queue, SQLite file by default ---
    # "sqlite" (one machine, nothing else installed), "redis" (several worker machines; the
    # default when REDIS_URL is set) or "immediate" (run each job in the enqueuing request:
    # tests and debugging only).
    PROCESSING_QUEUE = os.environ.get("PROCESSING_QUEUE", "")
    PROCESSING_QUEUE_FILE = os.environ.get("PROCESSING_QUEUE_FILE", "")  # instance/queue.sqlite
    PROCESSING_WORKERS = _int("PROCESSING_WORKERS", 1)  # jobs at once per `flask worker`
    PROCESSING_WORK_DIR = os.environ.get("PROCESSING_WORK_DIR", "")  # temp files; system temp
    # A job directory nothing wrote to for this long was left by a killed worker: removed.
    PROCESSING_STALE_WORK_HOURS = _int("PROCESSING_STALE_WORK_HOURS", 6)
    PROCESSING_TIME_LIMIT_SECONDS = _int("PROCESSING_TIME_LIMIT_SECONDS", 3 * 3600)
    PROCESSING_NICENESS = _int("PROCESSING_NICENESS", 10)
    PROCESSING_FFMPEG_THREADS = _int("PROCESSING_FFMPEG_THREADS", 0)  # 0: ffmpeg decides
    PROCESSING_PRESET = os.environ.get("PROCESSING_PRESET", "veryfast")
    PROCESSING_LEASE_SECONDS = _int("PROCESSING_LEASE_SECONDS", 300)
    PROCESSING_MAX_TRIES = _int("PROCESSING_MAX_TRIES", 3)
    PROCESSING_RETRY_DELAY_SECONDS = _int("PROCESSING_RETRY_DELAY_SECONDS", 30)
    # --- rate limits (lti_tool.web.rate_limits): counters in Redis when REDIS_URL is set, else in
    # the database, so every worker and replica counts together.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "")
    # Dynamic registration makes the tool call out to the URL it is given: keep it rare.
    RATELIMIT_REGISTER = os.environ.get("RATELIMIT_REGISTER", "10 per minute")
    # Per client address: high enough for a whole class behind one campus address.
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "1200 per minute")
    # Refused launches written to the audit log per address; beyond this only logged.
    RATELIMIT_REFUSAL_AUDIT = os.environ.get("RATELIMIT_REFUSAL_AUDIT", "30 per minute")
    # Per user: new upload attempts, and playback grants (each one is audited).
    RATELIMIT_UPLOADS = os.environ.get("RATELIMIT_UPLOADS", "30 per hour")
    RATELIMIT_PLAYBACK = os.environ.get("RATELIMIT_PLAYBACK", "120 per minute")
    # The phone hand-off (lti_tool/handoff): new links per student, and what one client
    # address may send to the code endpoints (the phone page, typing a code, claiming).
    RATELIMIT_HANDOFF_CREATE = os.environ.get("RATELIMIT_HANDOFF_CREATE", "20 per hour")
    RATELIMIT_HANDOFF_CODE = os.environ.get("RATELIMIT_HANDOFF_CODE", "30 per minute")

    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # plain: one text line per event; json: one JSON object per line (lti_tool/observability).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
    # Bearer token Prometheus sends to /metrics; unset: /metrics does not exist (404).
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

    # --- Cloud storage: Cloudflare Stream and S3 (docs/storage-cloudflare.md, storage-s3.md).
    # Read through lti_tool.settings.get_setting, so an admin-set value can override.
    CLOUDFLARE_ACCOUNT_ID = os.environ.get("CLOUDFLARE_ACCOUNT_ID", "")
    CLOUDFLARE_API_TOKEN = os.environ.get("CLOUDFLARE_API_TOKEN", "")  # Stream:Edit only
    CLOUDFLARE_API_BASE = os.environ.get("CLOUDFLARE_API_BASE",
                                         "https://api.cloudflare.com/client/v4")
    CLOUDFLARE_SIGNING_KEY_ID = os.environ.get("CLOUDFLARE_SIGNING_KEY_ID", "")
    CLOUDFLARE_SIGNING_KEY_PEM = os.environ.get("CLOUDFLARE_SIGNING_KEY_PEM", "")
    CLOUDFLARE_WEBHOOK_SECRET = os.environ.get("CLOUDFLARE_WEBHOOK_SECRET", "")
    CLOUDFLARE_CUSTOMER_SUBDOMAIN = os.environ.get("CLOUDFLARE_CUSTOMER_SUBDOMAIN", "")
    # Storage minutes reserved per upload until Cloudflare knows the real duration.
    CLOUDFLARE_MAX_DURATION_SECONDS = _int("CLOUDFLARE_MAX_DURATION_SECONDS", 2 * 3600)
    CLOUDFLARE_TUS_CHUNK_BYTES = _int("CLOUDFLARE_TUS_CHUNK_BYTES", 50 * 1024 * 1024)
    CLOUDFLARE_API_MAX_RETRIES = _int("CLOUDFLARE_API_MAX_RETRIES", 4)
    CLOUDFLARE_API_TIMEOUT_SECONDS = _int("CLOUDFLARE_API_TIMEOUT_SECONDS", 20)
    # Videos not final after this long are asked about (a site without webhooks still works).
    CLOUDFLARE_POLL_AFTER_SECONDS = _int("CLOUDFLARE_POLL_AFTER_SECONDS", 120)
    S3_BUCKET = os.environ.get("S3_BUCKET", "")
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")  # R2, MinIO
    S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID", "")  # empty: default chain
    S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY", "")
    S3_KEY_PREFIX = os.environ.get("S3_KEY_PREFIX", "videos/")
    S3_PART_URL_TTL_SECONDS = _int("S3_PART_URL_TTL_SECONDS", 3600)
    S3_ABORT_MULTIPART_AFTER_HOURS = _int("S3_ABORT_MULTIPART_AFTER_HOURS", 48)
    S3_MAX_ATTEMPTS = _int("S3_MAX_ATTEMPTS", 3)  # per S3 call, with backoff
    CLOUDFRONT_DOMAIN = os.environ.get("CLOUDFRONT_DOMAIN", "")
    CLOUDFRONT_KEY_PAIR_ID = os.environ.get("CLOUDFRONT_KEY_PAIR_ID", "")  # a key group's key
    CLOUDFRONT_PRIVATE_KEY_PEM = os.environ.get("CLOUDFRONT_PRIVATE_KEY_PEM", "")  # or a path
    # --- end of cloud storage settings

    # --- Outgoing calls and dynamic registration (lti_tool/outbound.py, docs/lms-setup.md).
    # Loopback (127.0.0.0/8, ::1) is refused unless this is on: for the demo LMS and tests.
    OUTBOUND_ALLOW_LOOPBACK = _bool("OUTBOUND_ALLOW_LOOPBACK", False)
    # Comma-separated CIDRs the tool may reach although private (an intranet LMS or storage).
    OUTBOUND_ALLOWED_NETWORKS = os.environ.get("OUTBOUND_ALLOWED_NETWORKS", "")
    # Total deadline of one outgoing call (connect, headers and body), e.g. registration, JWKS.
    OUTBOUND_TIMEOUT_SECONDS = _int("OUTBOUND_TIMEOUT_SECONDS", 15)
    OUTBOUND_MAX_RESPONSE_BYTES = _int("OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024)
    # Calls made for unauthenticated requests (registration, a launch's JWKS fetch) at once,
    # per worker process; past it the request is answered 503 at once.
    OUTBOUND_UNAUTHENTICATED_CONCURRENCY = _int("OUTBOUND_UNAUTHENTICATED_CONCURRENCY", 4)
    # Who may register by LTI Dynamic Registration: open (anyone; each registration is its own
    # tenant) or link (only with a one-time link from `flask --app wsgi platforms links create`).
    LTI_REGISTRATION = os.environ.get("LTI_REGISTRATION", "open").strip().lower()
    # --- end of outgoing calls and registration settings
    # --- Security headers and origins (CSP, deep-link return URLs; README "Security headers")
    # Origins the browser sends Cloudflare tus uploads to (the host of the one-time upload
    # URL's Location), space- or comma-separated; the page's CSP allows exactly these.
    CLOUDFLARE_UPLOAD_ORIGINS = os.environ.get(
        "CLOUDFLARE_UPLOAD_ORIGINS",
        "https://upload.videodelivery.net https://upload.cloudflarestream.com")
    # Browsers' CSP violation reports accepted per client address.
    RATELIMIT_CSP_REPORT = os.environ.get("RATELIMIT_CSP_REPORT", "60 per minute")
    # --- end of security headers settings
    # --- The admin dashboard (docs/admin.md): targets and list prices, an admin may override
    # them on the settings page (lti_tool.settings).
    TARGET_UPLOAD_SUCCESS_PERCENT = _float("TARGET_UPLOAD_SUCCESS_PERCENT", 95.0)
    TARGET_PLAYBACK_SUCCESS_PERCENT = _float("TARGET_PLAYBACK_SUCCESS_PERCENT", 98.0)
    TARGET_ERROR_PERCENT = _float("TARGET_ERROR_PERCENT", 1.0)
    # US dollars. Cloudflare Stream: per 1,000 minutes stored (a month) and delivered.
    PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES = _float(
        "PRICE_CLOUDFLARE_STORED_PER_1000_MINUTES", 5.0)
    PRICE_CLOUDFLARE_DELIVERED_PER_1000_MINUTES = _float(
        "PRICE_CLOUDFLARE_DELIVERED_PER_1000_MINUTES", 1.0)
    # S3 Standard (us-east-1, first 50 TB) per GB-month, and transfer out to the internet per GB.
    PRICE_S3_STORAGE_PER_GB_MONTH = _float("PRICE_S3_STORAGE_PER_GB_MONTH", 0.023)
    PRICE_S3_TRANSFER_PER_GB = _float("PRICE_S3_TRANSFER_PER_GB", 0.09)
    # --- end of admin dashboard settings
    # --- Site settings an admin may also set on the admin settings page (docs/admin.md)
    # The limit of an assignment that sets none (0: the site's MAX_UPLOAD_BYTES).
    DEFAULT_UPLOAD_BYTES = _int("DEFAULT_UPLOAD_BYTES", 0)
    # Stop new uploads site-wide (the rollback lever); playback and grading go on.
    UPLOADS_PAUSED = _bool("UPLOADS_PAUSED", False)
    # File extensions the site accepts, comma-separated (empty: every format the tool knows).
    ACCEPTED_FORMATS = os.environ.get("ACCEPTED_FORMATS", "")
    # Who students ask for help (an email address, a URL or a few words), shown on their page.
    SUPPORT_CONTACT = os.environ.get("SUPPORT_CONTACT", "")
    # --- end of site settings


class TestConfig(Config):
    """Settings for the test suite: no scheduler, a throwaway secret."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SCHEDULER_ENABLED = False
    RATELIMIT_ENABLED = False
    PROCESSING_QUEUE = "immediate"  # jobs run inside the request that enqueues them
    RATELIMIT_STORAGE_URI = "memory://"
    # The tests' platforms, demo LMS and storage stand-ins listen on loopback.
    OUTBOUND_ALLOW_LOOPBACK = True


def finalize(app) -> None:
    """Fill settings that depend on the instance folder, and refuse unsafe ones."""
    cfg = app.config
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        url = cfg.get("DATABASE_URL") or f"sqlite:///{instance / 'lti_tool.sqlite'}"
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        cfg["SQLALCHEMY_DATABASE_URI"] = url
    if is_sqlite(cfg["SQLALCHEMY_DATABASE_URI"]):
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = sqlite_engine_options(
            cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {}, cfg["SQLITE_BUSY_TIMEOUT_SECONDS"])
    if not cfg.get("LOCAL_STORAGE_DIR"):
        cfg["LOCAL_STORAGE_DIR"] = str(instance / "media")
    if not cfg.get("PROCESSING_QUEUE_FILE"):
        cfg["PROCESSING_QUEUE_FILE"] = str(instance / "queue.sqlite")
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _instance_secret(instance)


def _instance_secret(instance: Path) -> str:
    """Read or create a random secret kept in the instance folder (never in the repo)."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
