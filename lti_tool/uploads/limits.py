"""The site's upload limits, read one way: the largest upload, the limit of an assignment
that sets none, and the accepted formats.

Each is a setting an admin may set on the settings page, overriding the environment
(lti_tool.settings). Every door reads them through site_limits(), so what the admin set is
what each one enforces and advertises: tus (OPTIONS' Tus-Max-Size, creation), the upload API
and the storage backends behind it (local, S3 multipart, Cloudflare direct upload), the
phone hand-off, the deep-linking form and the student's page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from flask import current_app

from lti_tool.config import DEFAULT_MAX_UPLOAD_BYTES
from lti_tool.settings import read_setting

# The settings' names (lti_tool.config holds the environment's values).
MAX_UPLOAD_BYTES = "MAX_UPLOAD_BYTES"
DEFAULT_UPLOAD_BYTES = "DEFAULT_UPLOAD_BYTES"
ACCEPTED_FORMATS = "ACCEPTED_FORMATS"
# File extensions the uploader takes (lower case, no dot); the site may accept fewer, an
# assignment fewer still (the deep-linking form offers the site's). Processing makes each
# playable in every browser (tests/test_processing.py has a sample of each).
KNOWN_FORMATS = ("mp4", "mov", "m4v", "webm", "mkv", "avi", "wmv", "mpeg", "mpg")
# Sound files are not the site's to choose: an assignment that accepts sound-only submissions
# takes every one of video_checks.SOUND_FORMATS where the storage keeps them (rules.py).


@dataclass(frozen=True)
class SiteLimits:
    """What the site accepts at most; an assignment may accept less."""

    max_bytes: int  # the largest upload
    default_bytes: int  # the limit of an assignment that sets none (never above max_bytes)
    formats: tuple[str, ...]  # accepted file extensions, in KNOWN_FORMATS' order


def site_limits(config: Mapping[str, Any] | None = None) -> SiteLimits:
    """Return the site's upload limits: an admin-set value over the environment's.

    `config` is the settings a storage backend was built from (the app's own by default);
    a Test connection's trial settings are another mapping, read as they are.
    """
    config = current_app.config if config is None else config
    max_bytes = int(read_setting(config, MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_BYTES))
    default = int(read_setting(config, DEFAULT_UPLOAD_BYTES, 0) or 0)
    chosen = {f.strip().lower().lstrip(".")
              for f in str(read_setting(config, ACCEPTED_FORMATS, "") or "").split(",")}
    formats = tuple(f for f in KNOWN_FORMATS if f in chosen) or KNOWN_FORMATS
    return SiteLimits(max_bytes=max_bytes,
                      default_bytes=min(max_bytes, default) if default > 0 else max_bytes,
                      formats=formats)
