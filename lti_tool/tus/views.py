"""The tus 1.0.0 endpoint: core protocol plus creation, creation-with-upload,
creation-defer-length, termination, expiration and checksum (https://tus.io/protocols/resumable-upload).

Only the student who created an upload may touch it; the launch id travels in the
X-LTI-Launch header that tus-js-client sends with every request.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re

from flask import Blueprint, request
from werkzeug.http import http_date

from lti_tool.access.launches import current_launch, require_launch
from lti_tool.tus import uploads as service
from lti_tool.tus.body import body_reader
from lti_tool.tus.errors import TusError, UnsupportedVersion, WrongContentType
from lti_tool.tus.protocol import (CHECKSUM_ALGORITHMS, DEFER_LENGTH_YES, EXPOSED_HEADERS, EXTENSIONS, META_FILENAME,
                                   META_VIDEO_ID, OFFSET_OCTET_STREAM, TUS_CHECKSUM_ALGORITHM,
                                   TUS_EXTENSION, TUS_MAX_SIZE, TUS_RESUMABLE, TUS_VERSION,
                                   TUS_VERSION_HEADER, UPLOAD_CHECKSUM, UPLOAD_DEFER_LENGTH,
                                   UPLOAD_EXPIRES, UPLOAD_LENGTH, UPLOAD_METADATA, UPLOAD_OFFSET)
from lti_tool.uploads.limits import site_limits
from lti_tool.web.request_input import clean_filename, parse_id, string_problem
from lti_tool.web.urls import public_url

bp = Blueprint("tus", __name__, url_prefix="/tus")

_DIGITS = re.compile(r"\d{1,19}")
_META_KEY = re.compile(r"[^\s,]+")


def protocol_headers() -> dict[str, str]:
    """Return the headers every tus answer carries."""
    return {TUS_RESUMABLE: TUS_VERSION,
            "Access-Control-Expose-Headers": ", ".join(EXPOSED_HEADERS),
            "Cache-Control": "no-store"}


@bp.after_request
def add_protocol_headers(resp):
    """Name the protocol version on every answer and let browser scripts read our headers."""
    resp.headers.update(protocol_headers())
    return resp


@bp.before_request
def check_version():
    """Refuse requests for another protocol version with 412 (OPTIONS is discovery)."""
    if request.method != "OPTIONS" and request.headers.get(TUS_RESUMABLE) != TUS_VERSION:
        raise UnsupportedVersion(f"This server speaks tus {TUS_VERSION}; send "
                                 f"'{TUS_RESUMABLE}: {TUS_VERSION}'.")


@bp.route("/", methods=["OPTIONS"], provide_automatic_options=False)
@bp.route("/<upload_id>", methods=["OPTIONS"], provide_automatic_options=False)
def options(upload_id: str | None = None):
    """Advertise the version, extensions, maximum size and checksum algorithms."""
    return "", 204, {
        TUS_VERSION_HEADER: TUS_VERSION,
        TUS_EXTENSION: ",".join(EXTENSIONS),
        TUS_MAX_SIZE: str(site_limits().max_bytes),
        TUS_CHECKSUM_ALGORITHM: ",".join(CHECKSUM_ALGORITHMS),
    }


@bp.post("/")
@require_launch()
def create():
    """Create an upload for one of the student's pending videos (and take its first bytes)."""
    deferred = request.headers.get(UPLOAD_DEFER_LENGTH)
    if deferred is not None and (deferred != DEFER_LENGTH_YES or UPLOAD_LENGTH in request.headers):
        raise TusError(f"Send either Upload-Length or '{UPLOAD_DEFER_LENGTH}: "
                       f"{DEFER_LENGTH_YES}', not both.")
    length = None if deferred else _header_int(UPLOAD_LENGTH)
    metadata = parse_metadata(request.headers.get(UPLOAD_METADATA, ""))
    video_id = parse_id(metadata.get(META_VIDEO_ID) or "")
    if video_id is None:
        raise TusError(f"Upload-Metadata must name the '{META_VIDEO_ID}' this upload is for.")
    if META_FILENAME in metadata:
        metadata[META_FILENAME] = clean_filename(metadata[META_FILENAME])
    upload = service.open_upload(current_launch().user, video_id, length, metadata)
    headers = {"Location": public_url("tus.upload", upload_id=upload.id),
               UPLOAD_EXPIRES: http_date(upload.expires_at)}
    if request.mimetype == OFFSET_OCTET_STREAM:  # creation-with-upload
        headers[UPLOAD_OFFSET] = str(_write(upload, offset=0).offset)
    return "", 201, headers


@bp.route("/<upload_id>", methods=["HEAD"])
@require_launch()
def upload(upload_id: str):
    """Tell the client how many bytes the server holds (the offset to resume from)."""
    found = service.find_upload(current_launch().user, upload_id)
    headers = {UPLOAD_OFFSET: str(service.current_offset(found))}
    if found.length is None:  # creation-defer-length: said on every HEAD until it is known
        headers[UPLOAD_DEFER_LENGTH] = DEFER_LENGTH_YES
    else:
        headers[UPLOAD_LENGTH] = str(found.length)
    if found.metadata_:
        headers[UPLOAD_METADATA] = format_metadata(found.metadata_)
    if found.completed_at is None:
        headers[UPLOAD_EXPIRES] = http_date(found.expires_at)
    return "", 200, headers


@bp.patch("/<upload_id>")
@require_launch()
def patch(upload_id: str):
    """Append the body at Upload-Offset, streamed to disk piece by piece."""
    if request.mimetype != OFFSET_OCTET_STREAM:
        raise WrongContentType(f"A PATCH must have Content-Type: {OFFSET_OCTET_STREAM}.")
    offset = _header_int(UPLOAD_OFFSET)
    found = service.find_upload(current_launch().user, upload_id)
    progress = _write(found, offset)
    headers = {UPLOAD_OFFSET: str(progress.offset)}
    if progress.unfinished:
        headers[UPLOAD_EXPIRES] = http_date(progress.expires_at)
    return "", 204, headers


@bp.delete("/<upload_id>")
@require_launch()
def terminate(upload_id: str):
    """End an unfinished upload and free its space (termination)."""
    launch = current_launch()
    service.terminate(service.find_upload(launch.user, upload_id), launch.user)
    return "", 204


def _write(upload, offset: int) -> service.Progress:
    # Never request.data / get_data() / form here: they would buffer the whole body.
    declared = _header_int(UPLOAD_LENGTH) if UPLOAD_LENGTH in request.headers else None
    return service.write(upload, body_reader(request.environ, request.stream), offset,
                         request.content_length,
                         parse_checksum(request.headers.get(UPLOAD_CHECKSUM)), declared)


def _header_int(name: str) -> int:
    value = request.headers.get(name, "")
    if not _DIGITS.fullmatch(value):
        raise TusError(f"{name} must be a non-negative whole number of bytes.")
    return int(value)


def parse_metadata(header: str) -> dict[str, str]:
    """Decode Upload-Metadata: comma-separated `key base64value` pairs (value optional)."""
    result: dict[str, str] = {}
    if not header.strip():
        return result
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not _META_KEY.fullmatch(key) or len(parts) > 2 or key in result:
            raise TusError("Upload-Metadata is malformed.")
        try:
            value = base64.b64decode(parts[1], validate=True).decode("utf-8") \
                if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(f"Upload-Metadata value of '{key}' is not valid base64.") from None
        if string_problem(key) or string_problem(value):
            raise TusError(f"Upload-Metadata of '{key}' holds a NUL character.")
        result[key] = value
    return result


def format_metadata(metadata: dict[str, str]) -> str:
    """Encode metadata back into the Upload-Metadata form."""
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" if v else k
                    for k, v in metadata.items())


def parse_checksum(header: str | None) -> service.Checksum | None:
    """Decode Upload-Checksum (`sha1 <base64 digest>`); 400 for anything else."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusError(f"Checksum algorithm '{algorithm}' is not supported; use "
                       f"{', '.join(CHECKSUM_ALGORITHMS)}.")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise TusError(f"Upload-Checksum must carry a base64 {algorithm} digest.")
    return service.Checksum(algorithm, digest)
