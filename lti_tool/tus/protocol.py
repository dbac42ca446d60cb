"""Every tus 1.0.0 header name and protocol value, named once (https://tus.io/protocols/resumable-upload)."""
from __future__ import annotations

TUS_VERSION = "1.0.0"

# Headers
TUS_RESUMABLE = "Tus-Resumable"
TUS_VERSION_HEADER = "Tus-Version"
TUS_EXTENSION = "Tus-Extension"
TUS_MAX_SIZE = "Tus-Max-Size"
TUS_CHECKSUM_ALGORITHM = "Tus-Checksum-Algorithm"
UPLOAD_OFFSET = "Upload-Offset"
UPLOAD_LENGTH = "Upload-Length"
UPLOAD_DEFER_LENGTH = "Upload-Defer-Length"
UPLOAD_METADATA = "Upload-Metadata"
UPLOAD_EXPIRES = "Upload-Expires"
UPLOAD_CHECKSUM = "Upload-Checksum"
UPLOAD_CONCAT = "Upload-Concat"
X_HTTP_METHOD_OVERRIDE = "X-HTTP-Method-Override"

# Extensions this server implements, in the order OPTIONS lists them.
EXT_CREATION = "creation"
EXT_CREATION_WITH_UPLOAD = "creation-with-upload"
EXT_TERMINATION = "termination"
EXT_EXPIRATION = "expiration"
EXT_CHECKSUM = "checksum"
EXT_CREATION_DEFER_LENGTH = "creation-defer-length"  # the browser recorder's uploads
EXTENSIONS = (EXT_CREATION, EXT_CREATION_WITH_UPLOAD, EXT_CREATION_DEFER_LENGTH,
              EXT_TERMINATION, EXT_EXPIRATION, EXT_CHECKSUM)
# The one value Upload-Defer-Length may have.
DEFER_LENGTH_YES = "1"

CHECKSUM_SHA1 = "sha1"
CHECKSUM_ALGORITHMS = (CHECKSUM_SHA1,)

# The only body type a PATCH (or a creation-with-upload POST) may carry.
OFFSET_OCTET_STREAM = "application/offset+octet-stream"

# Status the checksum extension names for a mismatch (not in the HTTP registry).
STATUS_CHECKSUM_MISMATCH = 460

# Response headers a browser script must be allowed to read when origins differ.
EXPOSED_HEADERS = (UPLOAD_OFFSET, UPLOAD_LENGTH, UPLOAD_DEFER_LENGTH, UPLOAD_METADATA, UPLOAD_EXPIRES, TUS_RESUMABLE,
                   TUS_VERSION_HEADER, TUS_EXTENSION, TUS_MAX_SIZE, TUS_CHECKSUM_ALGORITHM,
                   "Location")

# Metadata keys our uploader sends (values are base64 in the header).
META_VIDEO_ID = "video_id"
META_FILENAME = "filename"
META_FILETYPE = "filetype"
