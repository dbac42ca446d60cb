"""S3 and S3-compatible storage (AWS S3, Cloudflare R2, MinIO) with boto3.

The browser uploads a multipart upload with part URLs presigned here (multipart.py serves
them); nothing but JSON passes through the tool. Playback is a short-lived CloudFront
signed URL when CloudFront is configured, else an S3 presigned GET (range requests work).
Limits: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import quote, urlsplit

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from lti_tool import outbound
from lti_tool.errors import StorageError
from lti_tool.settings import read_setting
from lti_tool.statuses import VideoStatus
from lti_tool.storage.base import (RENDITION_MIME, BackendUnavailable, BrowserDirective,
                                   Capability, ConnectionCheck, ConnectionChecks,
                                   DeferredParts, Derived, Downloads, ExpiredUpload, ExpiringUploads, Health,
                                   MediaProcessing, MultipartUploads, PartUrl, Playback,
                                   PlaybackKind, StorageBackend, StoredObject,
                                   UploadMethod, UploadNotFound, UploadRequest, UploadTicket,
                                   UploadTooLarge, VideoInfo)
from lti_tool.storage.messages import MSG_BUSY, MSG_MISCONFIGURED, MSG_REFUSED, MSG_UPLOAD_GONE
from lti_tool.uploads.limits import site_limits
from lti_tool.web.formatting import format_size
from lti_tool.web.request_input import clean_filename

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_PARTS = 10_000
MIN_PART = 5 * MIB  # every part but the last
MAX_PART = 5 * 1024 * MIB
DEFAULT_PART = 8 * MIB
MAX_OBJECT = 5 * 1024 * 1024 * MIB  # 5 TiB
SIGN_BATCH_LIMIT = 100  # part URLs per request to /sign
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60  # per socket read: CompleteMultipartUpload may think for long
ETAG_HEADER = "ETag"
# Processing's files sit beside their video: <key>.derived/rendition.mp4, .../thumb.jpg.
DERIVED_SUFFIX = ".derived/"
ORIGINAL_FILE = "original"  # the worker's local copy, in its temporary folder
THUMB_MIME = "image/jpeg"
# In backend_data: the upload's size is told at completion (Capability.DEFERRED_PARTS).
DEFERRED_KEY = "deferred"
# A key presigned (never fetched) to learn the origin of this bucket's presigned URLs.
ORIGIN_PROBE_KEY = "origin-probe"

# S3 error codes, grouped by what they mean for us.
GONE_CODES = frozenset({"NoSuchUpload"})
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
SETUP_CODES = frozenset({"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId",
                         "SignatureDoesNotMatch", "AllAccessDisabled", "InvalidBucketName",
                         "PermanentRedirect", "AuthorizationHeaderMalformed", "403"})
BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
                        "503", "500"})
INCOMPLETE_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})

MSG_INCOMPLETE = ("Some parts of the video did not arrive. Keep this page open and resume "
                  "the upload to send them.")


def part_size_for(size_bytes: int) -> int:
    """Return the part size for a file: 8 MiB, or larger so 10,000 parts hold it (whole MiB)."""
    needed = math.ceil(max(size_bytes, 1) / MAX_PARTS)
    return max(DEFAULT_PART, math.ceil(needed / MIB) * MIB)


def part_count_for(size_bytes: int, part_size: int) -> int:
    """Return how many parts a file of this size has."""
    return max(1, math.ceil(size_bytes / part_size))


class S3Storage(StorageBackend, MultipartUploads, DeferredParts, Downloads, ExpiringUploads,
                MediaProcessing, ConnectionChecks):
    """Videos held in an S3 bucket under S3_KEY_PREFIX, uploaded by the browser in parts.

    What processing derives from a video (rendition, thumbnail) is kept beside it, under
    `<key>.derived/` (DERIVED_SUFFIX); the original object is never rewritten.
    """

    name = "s3"
    capabilities = frozenset({Capability.MULTIPART, Capability.SIGNED_PLAYBACK,
                              Capability.DOWNLOAD, Capability.PROCESSING,
                              Capability.THUMBNAILS, Capability.CONNECTION_CHECK,
                              Capability.DEFERRED_PARTS, Capability.SOUND_ONLY})

    def setting(self, name: str, default: Any = None) -> Any:
        """Return one of this backend's settings (admin override, else environment)."""
        return read_setting(self.config, name, default)

    @property
    def bucket(self) -> str:
        bucket = self.setting("S3_BUCKET", "")
        if not bucket:
            log.error("STORAGE_BACKEND is s3 but S3_BUCKET is not set")
            raise BackendUnavailable(MSG_MISCONFIGURED)
        return bucket

    @property
    def prefix(self) -> str:
        prefix = (self.setting("S3_KEY_PREFIX", "") or "").lstrip("/")
        return prefix if not prefix or prefix.endswith("/") else prefix + "/"

    def client(self, max_attempts: int | None = None):
        """Return a boto3 S3 client for the current settings (built once per setting set);
        `max_attempts` overrides S3_MAX_ATTEMPTS (1: no retries, to diagnose)."""
        return _client(self.setting("S3_REGION", "") or None,
                       self.setting("S3_ENDPOINT_URL", "") or None,
                       self.setting("S3_ACCESS_KEY_ID", "") or None,
                       self.setting("S3_SECRET_ACCESS_KEY", "") or None,
                       max_attempts or int(self.setting("S3_MAX_ATTEMPTS", 3)),
                       outbound.policy_from(self.config))

    def browser_origins(self) -> dict[BrowserDirective, list[str]]:
        """Return the origin of the presigned URLs (parts, playback), and CloudFront's."""
        try:
            with translate_errors("presign a URL for the page's CSP"):
                probe = self.client().generate_presigned_url(
                    "get_object", ExpiresIn=60,
                    Params={"Bucket": self.bucket, "Key": self.prefix + ORIGIN_PROBE_KEY})
        except StorageError:
            return {}  # nothing can be uploaded or played until S3 is set up anyway
        parts = urlsplit(probe)
        bucket_origin = f"{parts.scheme}://{parts.netloc}"
        origins = {BrowserDirective.CONNECT: [bucket_origin],
                   BrowserDirective.MEDIA: [bucket_origin],
                   BrowserDirective.IMG: [bucket_origin]}  # thumbnails
        if self._cloudfront_signer() is not None:
            origins[BrowserDirective.MEDIA].append(self._cloudfront_base())
        return origins

    # --- upload ------------------------------------------------------------------------

    def create_upload(self, req: UploadRequest) -> UploadTicket:
        """Start a multipart upload and tell the browser the part size to use (for a size
        told at the end, DEFERRED_PARTS, the least size of every part but the last)."""
        if req.size_bytes is None:
            return self._create_deferred(req)
        limit = min(site_limits(self.config).max_bytes, MAX_OBJECT)
        if req.size_bytes <= 0:
            raise StorageError("The file is empty. Please choose the video file itself.",
                               code="empty_file", http_status=400)
        if req.size_bytes > limit:
            raise UploadTooLarge(f"The video is larger than the {format_size(limit)} "
                                 "this site accepts.")
        key = self.object_key(req)
        part_size = part_size_for(req.size_bytes)
        created = self._create_multipart(req, key)
        hours = int(self.setting("S3_ABORT_MULTIPART_AFTER_HOURS", 48))
        log.info("s3 multipart upload created video=%s key=%s size=%s part=%s", req.video_id,
                 key, req.size_bytes, part_size)
        return UploadTicket(
            method=UploadMethod.MULTIPART, storage_uid=key, chunk_size=part_size,
            backend_data={"upload_id": created["UploadId"], "key": key,
                          "size": req.size_bytes, "part_size": part_size,
                          "part_count": part_count_for(req.size_bytes, part_size)},
            expires_at=datetime.now(timezone.utc) + timedelta(hours=hours))

    def _create_multipart(self, req: UploadRequest, key: str) -> dict:
        with translate_errors("create upload"):
            return self.client().create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=req.content_type or
                "application/octet-stream",
                Metadata={"lti-video-id": str(req.video_id), "lti-owner-id": str(req.owner_id)})

    def _create_deferred(self, req: UploadRequest) -> UploadTicket:
        """Start a multipart upload whose size is told at completion (a recording)."""
        key = self.object_key(req)
        created = self._create_multipart(req, key)
        hours = int(self.setting("S3_ABORT_MULTIPART_AFTER_HOURS", 48))
        log.info("s3 multipart upload created video=%s key=%s size=deferred", req.video_id,
                 key)
        return UploadTicket(
            method=UploadMethod.MULTIPART, storage_uid=key, chunk_size=MIN_PART,
            backend_data={"upload_id": created["UploadId"], "key": key, "size": None,
                          "part_size": None, "part_count": None, DEFERRED_KEY: True},
            expires_at=datetime.now(timezone.utc) + timedelta(hours=hours))

    def sign_next_part(self, storage_uid: str, backend_data: Mapping[str, Any],
                       part_number: int, size: int, limit: int) -> PartUrl:
        """Sign one part of a size-less upload once the parts before it are stored; the
        parts held besides it and it may not pass `limit` (the assignment's) bytes."""
        if not _is_whole(part_number) or not 1 <= part_number <= MAX_PARTS:
            raise StorageError(f"Part numbers run from 1 to {MAX_PARTS}.", code="bad_parts",
                               http_status=400)
        if not _is_whole(size) or not 1 <= size <= MAX_PART:
            raise StorageError(f"A part holds between 1 byte and {format_size(MAX_PART)}.",
                               code="bad_parts", http_status=400)
        held = {p["part_number"]: int(p["size"])
                for p in self.list_parts(storage_uid, backend_data)}
        if any(n not in held for n in range(1, part_number)):
            raise StorageError("Send the parts in order: an earlier part has not arrived.",
                               code="parts_out_of_order", http_status=409)
        limit = min(limit, MAX_OBJECT)
        if sum(b for n, b in held.items() if n != part_number) + size > limit:
            raise UploadTooLarge(f"The recording is larger than the {format_size(limit)} "
                                 "this assignment accepts.")
        ttl = int(self.setting("S3_PART_URL_TTL_SECONDS", 3600))
        with translate_errors("sign parts"):
            return PartUrl(part_number, self.client().generate_presigned_url(
                "upload_part", ExpiresIn=ttl, HttpMethod="PUT",
                Params={"Bucket": self.bucket, "Key": storage_uid,
                        "UploadId": backend_data["upload_id"], "PartNumber": part_number,
                        "ContentLength": size}))

    def complete_deferred(self, storage_uid: str, backend_data: Mapping[str, Any],
                          size: int, parts: list[dict]) -> dict[str, Any]:
        """Join the parts once they hold exactly `size` bytes; return the data to keep."""
        data = dict(backend_data, size=size)
        self.complete_multipart(storage_uid, data, parts)
        return data

    def object_key(self, req: UploadRequest) -> str:
        """Return a fresh, unguessable key under the prefix for this upload."""
        hint = "/".join(_safe_segment(s) for s in req.key_hint.split("/") if _safe_segment(s))
        ext = os.path.splitext(req.filename or "")[1].lower()
        ext = ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ""
        name = f"{req.video_id}-{secrets.token_hex(8)}{ext}"
        return f"{self.prefix}{hint + '/' if hint else ''}{name}"

    def sign_parts(self, storage_uid: str, backend_data: Mapping[str, Any],
                   part_numbers: list[int]) -> list[PartUrl]:
        """Return presigned PUT URLs for these parts of the upload (no network call)."""
        if backend_data.get("size") is None:
            raise StorageError("This upload's size is told at its end: sign its parts one "
                               "at a time with their sizes.", code="bad_parts",
                               http_status=400)
        count = int(backend_data.get("part_count") or MAX_PARTS)
        numbers = sorted(set(part_numbers))
        if not numbers or len(numbers) > SIGN_BATCH_LIMIT:
            raise StorageError(f"Ask for between 1 and {SIGN_BATCH_LIMIT} parts at a time.",
                               code="bad_parts", http_status=400)
        if any(not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= count
               for n in numbers):
            raise StorageError(f"Part numbers run from 1 to {count} for this file.",
                               code="bad_parts", http_status=400)
        ttl = int(self.setting("S3_PART_URL_TTL_SECONDS", 3600))
        client = self.client()
        # Content-Length is signed in: each URL takes exactly its part's bytes, no more.
        with translate_errors("sign parts"):
            return [PartUrl(n, client.generate_presigned_url(
                "upload_part", ExpiresIn=ttl, HttpMethod="PUT",
                Params={"Bucket": self.bucket, "Key": storage_uid,
                        "UploadId": backend_data["upload_id"], "PartNumber": n,
                        "ContentLength": _part_length(backend_data, n)}))
                for n in numbers]

    def list_parts(self, storage_uid: str, backend_data: Mapping[str, Any]) -> list[dict]:
        """Return the parts S3 holds: part_number, etag, size (to resume after a reload)."""
        client = self.client()
        parts: list[dict] = []
        marker = 0
        with translate_errors("list parts"):
            while True:
                page = client.list_parts(Bucket=self.bucket, Key=storage_uid,
                                         UploadId=backend_data["upload_id"],
                                         PartNumberMarker=marker, MaxParts=1000)
                parts.extend({"part_number": p["PartNumber"], "etag": p["ETag"],
                              "size": p["Size"]} for p in page.get("Parts", []))
                if not page.get("IsTruncated"):
                    return parts
                marker = int(page["NextPartNumberMarker"])

    def complete_multipart(self, storage_uid: str, backend_data: Mapping[str, Any],
                           parts: list[dict]) -> None:
        """Join the parts into the object, after checking every byte arrived.

        S3's own list of parts is the truth; ETags the browser read are checked against it,
        so a part replaced behind the browser's back is noticed.
        """
        held = self.list_parts(storage_uid, backend_data)
        expected = int(backend_data["size"])
        numbers = [p["part_number"] for p in held]
        if numbers != list(range(1, len(held) + 1)) or sum(p["size"] for p in held) != expected:
            log.info("s3 complete refused key=%s: %d parts, %d of %d bytes", storage_uid,
                     len(held), sum(p["size"] for p in held), expected)
            raise StorageError(MSG_INCOMPLETE, code="upload_incomplete", http_status=409)
        claimed = {int(p.get("part_number", 0)): _unquote(str(p.get("etag", "")))
                   for p in parts or [] if isinstance(p, dict)}
        for part in held:
            etag = claimed.get(part["part_number"])
            if etag and etag != _unquote(part["etag"]):
                raise StorageError("A part of the video changed during the upload. Please "
                                   "start the upload again.", code="etag_mismatch",
                                   http_status=409)
        with translate_errors("complete upload"):
            self.client().complete_multipart_upload(
                Bucket=self.bucket, Key=storage_uid, UploadId=backend_data["upload_id"],
                MultipartUpload={"Parts": [{"PartNumber": p["part_number"], "ETag": p["etag"]}
                                           for p in held]})
        log.info("s3 multipart upload completed key=%s parts=%d", storage_uid, len(held))

    def abort_multipart(self, storage_uid: str, backend_data: Mapping[str, Any]) -> None:
        """Abort the upload and free its parts; already gone is fine."""
        try:
            with translate_errors("abort upload"):
                self.client().abort_multipart_upload(Bucket=self.bucket, Key=storage_uid,
                                                     UploadId=backend_data["upload_id"])
        except UploadNotFound:
            pass

    # --- state and playback ------------------------------------------------------------

    def inspect(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> VideoInfo:
        """Return READY with the size once the object exists, UPLOADING while parts arrive."""
        head = self._head(storage_uid)
        if head is not None:
            return VideoInfo(status=VideoStatus.READY, size_bytes=head["ContentLength"])
        if backend_data and backend_data.get("upload_id"):
            parts = self.list_parts(storage_uid, backend_data)  # raises when the upload is gone
            return VideoInfo(status=VideoStatus.UPLOADING,
                             size_bytes=sum(p["size"] for p in parts))
        raise UploadNotFound("This video is no longer in storage.")

    def _head(self, key: str) -> dict | None:
        try:
            with translate_errors("inspect"):
                return self.client().head_object(Bucket=self.bucket, Key=key)
        except UploadNotFound:
            return None

    def _signed_get(self, key: str, expires_at: datetime, ttl_seconds: int,
                    client_address: str | None) -> str:
        """Return a short-lived URL of one object: CloudFront-signed when configured, else
        S3-presigned.

        Only a CloudFront URL can be bound to `client_address` (a custom policy with an
        IpAddress condition); an S3 presigned URL cannot be, and stays a bearer link.
        """
        signer = self._cloudfront_signer()
        if signer is not None:
            resource = f"{self._cloudfront_base()}/{quote(key)}"
            if client_address:
                prefix = 128 if ":" in client_address else 32
                policy = signer.build_policy(resource, expires_at,
                                             ip_address=f"{client_address}/{prefix}")
                url = signer.generate_presigned_url(resource, policy=policy)
            else:
                url = signer.generate_presigned_url(resource, date_less_than=expires_at)
        else:
            with translate_errors("sign playback"):
                url = self.client().generate_presigned_url(
                    "get_object", ExpiresIn=ttl_seconds,
                    Params={"Bucket": self.bucket, "Key": key})
        return url

    def playback(self, storage_uid: str, *, viewer_id: int, video_id: int,
                 ttl_seconds: int, client_address: str | None = None,
                 rendition: bool = False) -> Playback:
        """Return a short-lived URL of the rendition processing made, else of the original
        (signed here: no call to S3)."""
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=ttl_seconds)
        key = derived_key(storage_uid, Derived.RENDITION) if rendition else storage_uid
        url = self._signed_get(key, expires_at, ttl_seconds, client_address)
        return Playback(kind=PlaybackKind.FILE, url=url, expires_at=expires_at,
                        mime_type=RENDITION_MIME if rendition else None)

    def thumbnail_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                      ttl_seconds: int, client_address: str | None = None) -> str | None:
        """Sign the thumbnail processing made (callers check Video.has_thumbnail first)."""
        key = derived_key(storage_uid, Derived.THUMBNAIL)
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=ttl_seconds)
        return self._signed_get(key, expires_at, ttl_seconds, client_address)

    def strip_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                  ttl_seconds: int, client_address: str | None = None) -> str | None:
        """Sign the hover strip processing made (callers check Video.has_strip first)."""
        key = derived_key(storage_uid, Derived.STRIP)
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=ttl_seconds)
        return self._signed_get(key, expires_at, ttl_seconds, client_address)

    # --- processing (Capability.PROCESSING): the worker streams the object ------------------

    def read_header(self, storage_uid: str, size: int) -> bytes:
        """Return the first bytes of the object (one ranged GET)."""
        with translate_errors("read the start of a video"):
            answer = self.client().get_object(Bucket=self.bucket, Key=storage_uid,
                                              Range=f"bytes=0-{max(0, size - 1)}")
            return answer["Body"].read()

    def original_file(self, storage_uid: str, workdir: Path) -> Path:
        """Stream the object into `workdir` (boto3's ranged, parallel download)."""
        path = workdir / ORIGINAL_FILE
        with translate_errors("download a video for processing"):
            self.client().download_file(self.bucket, storage_uid, str(path))
        return path

    def store_derived(self, storage_uid: str, name: Derived, path: Path) -> None:
        """Upload a derived file beside the object (multipart above 8 MiB)."""
        content_type = RENDITION_MIME if name == Derived.RENDITION else THUMB_MIME
        with translate_errors("store a processed file"):
            self.client().upload_file(str(path), self.bucket, derived_key(storage_uid, name),
                                      ExtraArgs={"ContentType": content_type})

    def has_derived(self, storage_uid: str, name: Derived) -> bool:
        return self._head(derived_key(storage_uid, name)) is not None

    def download_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                     ttl_seconds: int, filename: str | None = None,
                     client_address: str | None = None) -> str:
        """Return a short-lived S3 URL that downloads the original under its own name."""
        params = {"Bucket": self.bucket, "Key": storage_uid}
        if filename:
            params["ResponseContentDisposition"] = _attachment(filename)
        with translate_errors("sign download"):
            return self.client().generate_presigned_url("get_object", Params=params,
                                                        ExpiresIn=ttl_seconds)

    def _cloudfront_base(self) -> str:
        domain = self.setting("CLOUDFRONT_DOMAIN").strip().rstrip("/")
        return domain if domain.startswith("https://") else f"https://{domain}"

    def _cloudfront_signer(self) -> CloudFrontSigner | None:
        domain = self.setting("CLOUDFRONT_DOMAIN", "")
        key_id = self.setting("CLOUDFRONT_KEY_PAIR_ID", "")
        pem = self.setting("CLOUDFRONT_PRIVATE_KEY_PEM", "")
        if not (domain and key_id and pem):
            return None
        try:
            key = _cloudfront_key(pem)
        except ValueError as exc:
            log.error("CloudFront private key unusable (%s); using S3 presigned URLs", exc)
            return None
        # CloudFront verifies RSA-SHA1 signatures on signed URLs.
        return CloudFrontSigner(key_id, lambda message: key.sign(
            message, padding.PKCS1v15(), hashes.SHA1()))

    # --- management --------------------------------------------------------------------

    def delete(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> None:
        """Delete the object, and abort its upload if it never completed."""
        with translate_errors("delete"):
            self.client().delete_object(Bucket=self.bucket, Key=storage_uid)
            for name in Derived:
                self.client().delete_object(Bucket=self.bucket,
                                            Key=derived_key(storage_uid, name))
        if backend_data and backend_data.get("upload_id"):
            self.abort_multipart(storage_uid, backend_data)
        log.info("s3 object deleted key=%s", storage_uid)

    def list_objects(self) -> Iterator[StoredObject]:
        """Yield every object under the prefix."""
        paginator = self.client().get_paginator("list_objects_v2")
        with translate_errors("list objects"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    if DERIVED_SUFFIX in obj["Key"]:
                        continue  # belongs to its video (deleted with it)
                    yield StoredObject(storage_uid=obj["Key"], size_bytes=obj["Size"],
                                       created_at=obj.get("LastModified"))

    def received_bytes(self, storage_uid: str,
                       backend_data: Mapping[str, Any] | None = None) -> int | None:
        """Return the bytes of the parts the bucket holds (a resumed upload keeps them)."""
        if not backend_data or not backend_data.get("upload_id"):
            return None
        return sum(int(p["size"]) for p in self.list_parts(storage_uid, backend_data))

    def expire_uploads(self) -> list[ExpiredUpload]:
        """Abort multipart uploads under the prefix started more than
        S3_ABORT_MULTIPART_AFTER_HOURS ago; return them."""
        if not self.setting("S3_BUCKET", ""):
            return []
        hours = int(self.setting("S3_ABORT_MULTIPART_AFTER_HOURS", 48))
        expired = []
        for key, upload_id in list(self.stale_uploads(timedelta(hours=hours))):
            self.abort_multipart(key, {"upload_id": upload_id})
            expired.append(ExpiredUpload(key, {"upload_id": upload_id}))
        if expired:
            log.info("aborted %d stale S3 multipart uploads", len(expired))
        return expired

    def stale_uploads(self, older_than: timedelta) -> Iterator[tuple[str, str]]:
        """Yield (key, upload_id) of multipart uploads under the prefix started too long ago."""
        cutoff = datetime.now(timezone.utc) - older_than
        paginator = self.client().get_paginator("list_multipart_uploads")
        with translate_errors("list uploads"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        yield upload["Key"], upload["UploadId"]

    def cors_problems(self, origin: str) -> list[str]:
        """Return what the bucket's CORS lacks for browser uploads from `origin`."""
        with translate_errors("read CORS"):
            try:
                rules = self.client().get_bucket_cors(Bucket=self.bucket).get("CORSRules", [])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchCORSConfiguration":
                    raise
                rules = []
        for rule in rules:
            origins = rule.get("AllowedOrigins", [])
            if not any(o == "*" or o == origin or _wildcard_match(o, origin) for o in origins):
                continue
            problems = []
            methods = {m.upper() for m in rule.get("AllowedMethods", [])}
            for method in ("PUT", "GET"):
                if method not in methods:
                    problems.append(f"AllowedMethods lacks {method}")
            headers = [h.lower() for h in rule.get("AllowedHeaders", [])]
            if "*" not in headers and "content-type" not in headers:
                problems.append('AllowedHeaders should be ["*"] (browsers send Content-Type)')
            if ETAG_HEADER.lower() not in [h.lower() for h in rule.get("ExposeHeaders", [])]:
                problems.append("ExposeHeaders lacks ETag (the browser must read each part's "
                                "ETag)")
            return problems
        return [f"no CORS rule allows the origin {origin}"]

    def check_connection(self, origin: str) -> list[ConnectionCheck]:
        """Check credentials, the bucket, writing under the prefix and CORS (checks.py)."""
        from lti_tool.storage.s3.checks import check_connection
        return check_connection(self, origin)

    def health(self) -> Health:
        """Check the bucket can be listed under the prefix with these credentials."""
        try:
            with translate_errors("health"):
                self.client().list_objects_v2(Bucket=self.bucket, Prefix=self.prefix,
                                              MaxKeys=1)
        except StorageError as exc:
            return Health(False, exc.message)
        via = "CloudFront signed URLs" if self._cloudfront_signer() else "S3 presigned URLs"
        return Health(True, f"bucket {self.bucket} reachable; playback via {via}")


@contextlib.contextmanager
def translate_errors(action: str):
    """Turn boto errors into ours at the boundary, logging the provider's words for admins."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in GONE_CODES:
            raise UploadNotFound(MSG_UPLOAD_GONE) from None
        if code in NOT_FOUND_CODES or status == 404 and code not in SETUP_CODES:
            raise UploadNotFound("This video is no longer in storage.") from None
        if code in SETUP_CODES or status == 403:
            log.error("S3 refused %s: %s %s (check S3_BUCKET, credentials, IAM policy)",
                      action, code, error.get("Message", ""))
            raise BackendUnavailable(MSG_MISCONFIGURED) from None
        if code in BUSY_CODES or status >= 500:
            log.error("S3 failed to %s: %s", action, code)
            raise BackendUnavailable(MSG_BUSY) from None
        if code in INCOMPLETE_CODES:
            raise StorageError(MSG_INCOMPLETE, code="upload_incomplete", http_status=409) \
                from None
        log.error("S3 refused %s: %s %s", action, code, error.get("Message", ""))
        raise StorageError(MSG_REFUSED, code="storage_refused", hint=code) from None
    except Boto3Error as exc:  # a managed transfer (download_file, upload_file) failed
        log.error("S3 transfer failed to %s: %s", action, exc)
        raise BackendUnavailable(MSG_BUSY) from None
    except BotoCoreError as exc:
        log.error("S3 unreachable to %s: %s", action, type(exc).__name__)
        if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
            raise BackendUnavailable(MSG_MISCONFIGURED) from None
        raise BackendUnavailable(MSG_BUSY) from None


@functools.lru_cache(maxsize=8)
def _client(region: str | None, endpoint: str | None, key_id: str | None,
            secret: str | None, max_attempts: int, policy: outbound.AddressPolicy):
    if endpoint:
        check_endpoint(endpoint, policy)
    # botocore retries throttling, 5xx and network errors with backoff, `max_attempts` in all.
    # It has no total deadline: each attempt is bounded by the connect timeout and by the
    # read timeout of each socket read (docs/architecture.md).
    config = BotoConfig(signature_version="s3v4", connect_timeout=CONNECT_TIMEOUT_SECONDS,
                        read_timeout=READ_TIMEOUT_SECONDS,
                        retries={"total_max_attempts": max_attempts, "mode": "standard"},
                        s3={"addressing_style": "path" if endpoint else "auto"})
    return boto3.client("s3", region_name=region, endpoint_url=endpoint,
                        aws_access_key_id=key_id, aws_secret_access_key=secret, config=config)


def check_endpoint(endpoint: str, policy: outbound.AddressPolicy) -> None:
    """Refuse an S3_ENDPOINT_URL whose host resolves to an address the policy forbids.

    boto3 opens its own connections, so they are not pinned: the check runs when the client
    is built (the endpoint is an administrator's setting, not a caller's URL).
    """
    parts = urlsplit(endpoint)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        log.error("S3_ENDPOINT_URL %r is not an http(s) URL", endpoint)
        raise BackendUnavailable(MSG_MISCONFIGURED)
    try:
        policy.resolve(parts.hostname, port)
    except outbound.OutboundRefused as exc:
        log.error("S3_ENDPOINT_URL refused: %s Allow its network with "
                  "OUTBOUND_ALLOWED_NETWORKS (or OUTBOUND_ALLOW_LOOPBACK for a local MinIO).",
                  exc.message)
        raise BackendUnavailable(MSG_MISCONFIGURED) from None
    except outbound.OutboundError as exc:
        log.error("S3_ENDPOINT_URL unusable: %s", exc.message)
        raise BackendUnavailable(MSG_BUSY) from None


@functools.lru_cache(maxsize=2)
def _cloudfront_key(setting: str):
    text = setting.strip()
    if not text.startswith("-----BEGIN"):
        if not os.path.isfile(text):
            raise ValueError("CLOUDFRONT_PRIVATE_KEY_PEM is neither a PEM nor a readable file")
        with open(text, "rb") as handle:
            text = handle.read().decode()
    return load_pem_private_key(text.replace("\\n", "\n").encode(), password=None)


def derived_key(storage_uid: str, name: Derived) -> str:
    """Return the key of a file processing derived from the object `storage_uid`."""
    return f"{storage_uid}{DERIVED_SUFFIX}{name}"


def _part_length(backend_data: Mapping[str, Any], number: int) -> int:
    """Return the size of part `number` of this upload (the last one holds the rest)."""
    size, part = int(backend_data["size"]), int(backend_data["part_size"])
    return min(part, size - (number - 1) * part)


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _safe_segment(segment: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "", segment)[:64].strip(".")


def _unquote(etag: str) -> str:
    return etag.strip().strip('"')


def _attachment(filename: str) -> str:
    """Return a Content-Disposition for downloading under the student's file name."""
    filename = clean_filename(filename)
    ascii_name = re.sub(r'[^A-Za-z0-9 ._()-]', "_", filename)[:150] or "video"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename[:150])}"


def _wildcard_match(pattern: str, origin: str) -> bool:
    if "*" not in pattern:
        return False
    regex = "^" + re.escape(pattern).replace(r"\*", ".*") + "$"
    return re.match(regex, origin) is not None
