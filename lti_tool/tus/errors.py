"""tus protocol errors, each carrying the status the tus 1.0.0 specification names."""
from __future__ import annotations

from lti_tool.errors import ToolError
from lti_tool.tus.protocol import STATUS_CHECKSUM_MISMATCH, TUS_VERSION, TUS_VERSION_HEADER


class TusError(ToolError):
    """A tus request the protocol refuses."""

    http_status = 400
    code = "tus_bad_request"
    title = "The upload request is not valid"


class UnsupportedVersion(TusError):
    http_status = 412
    code = "tus_version_unsupported"
    title = "Unsupported tus version"

    def __init__(self, message: str):
        super().__init__(message, headers={TUS_VERSION_HEADER: TUS_VERSION})


class OffsetMismatch(TusError):
    http_status = 409
    code = "tus_offset_mismatch"
    title = "The upload offset does not match"


class UploadLocked(TusError):
    http_status = 423
    code = "tus_upload_locked"
    title = "The upload is busy"


class UploadGone(TusError):
    http_status = 410
    code = "tus_upload_expired"
    title = "The upload expired"


class WrongContentType(TusError):
    http_status = 415
    code = "tus_wrong_content_type"
    title = "Wrong content type"


class ChecksumMismatch(TusError):
    http_status = STATUS_CHECKSUM_MISMATCH
    code = "tus_checksum_mismatch"
    title = "Checksum mismatch"


class UploadFinished(TusError):
    http_status = 409
    code = "tus_upload_finished"
    title = "The upload is already finished"
