"""Errors the demo LMS answers with, each carrying its HTTP status and its protocol's error code."""
from __future__ import annotations

from lti_tool.errors import ToolError


class OAuthError(ToolError):
    """A refusal of the token endpoint, answered as RFC 6749 section 5.2 says."""

    code = "invalid_request"


class InvalidClient(OAuthError):
    """The client assertion is missing, unsigned, expired, replayed or for someone else."""

    http_status = 401
    code = "invalid_client"


class BearerError(ToolError):
    """A service request without a valid access token (RFC 6750 section 3.1)."""

    http_status = 401
    code = "invalid_token"

    def __init__(self, message: str, **kw):
        super().__init__(message, **kw)
        self.headers.setdefault(
            "WWW-Authenticate",
            f'Bearer error="{self.code}", error_description="{message.replace(chr(34), "")}"')


class InsufficientScope(BearerError):
    http_status = 403
    code = "insufficient_scope"


class InvalidScore(ToolError):
    """A score Moodle would refuse; the message starts like Moodle's."""

    code = "invalid_score"

    def __init__(self, reason: str):
        super().__init__(f"Incorrect score received: {reason}.")


class InvalidLineItem(ToolError):
    code = "invalid_lineitem"


class UnsupportedMediaType(ToolError):
    http_status = 415
    code = "unsupported_media_type"
