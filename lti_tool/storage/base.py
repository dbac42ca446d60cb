"""The storage interface every backend implements, its data shapes, and its errors.

A backend only moves and describes bytes; deciding who may do what stays in the
blueprints (see warehouse's IFileStorage and tusd's store interfaces for the model).
Provider errors are translated here, at the boundary, into StorageError subclasses.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from lti_tool.errors import StorageError
from lti_tool.statuses import VideoStatus

if TYPE_CHECKING:  # the tus store is only needed by backends the app hosts
    from lti_tool.tus.store import FileStore


class Capability(StrEnum):
    """Optional things a backend can do; views check these, never the backend's class."""

    TUS = "tus"  # browser uploads with the tus protocol
    MULTIPART = "multipart"  # browser uploads presigned parts (S3)
    SIGNED_PLAYBACK = "signed_playback"
    THUMBNAILS = "thumbnails"
    CAPTIONS = "captions"  # keeps uploaded WebVTT captions
    CAPTION_GENERATION = "caption_generation"  # transcribes speech into captions itself
    WEBHOOKS = "webhooks"
    DOWNLOAD = "download"  # the original file can be handed to instructors
    # Bytes go in and out through this app: our own tus endpoint and signed media routes
    # (the local disk). Such a backend implements HostedUploads and HostedMedia below.
    APP_HOSTED = "app_hosted"
    # The tool probes, thumbnails and transcodes what this backend holds itself
    # (lti_tool.processing); a provider that processes videos (Stream) does not declare it.
    PROCESSING = "processing"
    # Checks its settings against the provider for real and says what is wrong in words an
    # admin can act on (the settings page's "Test connection"); see ConnectionChecks.
    CONNECTION_CHECK = "connection_check"
    # An upload may start before its size is known and learn it at its end (tus
    # creation-defer-length): the browser recorder sends its chunks while it records.
    DEFERRED_LENGTH = "deferred_length"
    # A multipart upload may start before its size is known (S3): its parts, every one but
    # the last at least 5 MiB, are signed one at a time with their sizes, each only once
    # the parts before it are stored, and the size is told at completion (DeferredParts).
    DEFERRED_PARTS = "deferred_parts"
    # Keeps and plays a submission with sound and no picture (our pipeline makes it an MP4
    # with sound only); Cloudflare Stream refuses one (ERR_NON_VIDEO), so it does not.
    SOUND_ONLY = "sound_only"


class BrowserDirective(StrEnum):
    """CSP directives under which a backend names the origins the browser must reach."""

    SCRIPT = "script-src"  # a provider's player SDK
    CONNECT = "connect-src"  # uploads (tus PATCH, presigned PUT) and fetches
    MEDIA = "media-src"  # <video src> of a playback URL
    IMG = "img-src"  # thumbnails and posters
    FRAME = "frame-src"  # a provider's player page


class UploadMethod(StrEnum):
    TUS = "tus"
    MULTIPART = "multipart"


class Derived(StrEnum):
    """Files processing makes beside an original (which is never changed)."""

    RENDITION = "rendition.mp4"  # H.264 + AAC MP4 every browser plays
    THUMBNAIL = "thumb.jpg"
    STRIP = "strip.jpg"  # a few frames side by side: the hover strip on the instructor's list


RENDITION_MIME = "video/mp4"

class PlaybackKind(StrEnum):
    FILE = "file"  # a plain video URL for <video src> (range requests work)
    IFRAME = "iframe"  # a provider's player page (Cloudflare Stream)
    HLS = "hls"


# --- errors -------------------------------------------------------------------------------

class UploadTooLarge(StorageError):
    http_status = 413
    code = "upload_too_large"
    title = "The video is too large"


class UploadNotFound(StorageError):
    http_status = 404
    code = "upload_not_found"
    title = "Upload not found"


class BackendUnavailable(StorageError):
    http_status = 503
    code = "storage_unavailable"
    title = "The video storage is unavailable"


class QuotaExceeded(StorageError):
    http_status = 507
    code = "storage_quota_exceeded"
    title = "The video storage is full"


class NotSupported(StorageError):
    http_status = 501
    code = "not_supported"
    title = "Not supported by this storage"


# --- data shapes ------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadRequest:
    """What the tool asks a backend for when a student starts an upload."""

    video_id: int
    owner_id: int  # our user id; the only user who may write to the upload
    filename: str
    size_bytes: int | None  # None: told at the upload's end (DEFERRED_LENGTH, DEFERRED_PARTS)
    content_type: str = "application/octet-stream"
    max_duration_seconds: int | None = None
    key_hint: str = ""  # e.g. "p1/c2/a3/s4/v5": a path-safe prefix for object stores


@dataclass
class UploadTicket:
    """What the browser needs to upload, and what we keep about the upload."""

    method: UploadMethod
    storage_uid: str  # the backend's id of the video, known from now on
    endpoint: str | None = None  # tus: the upload URL (or creation URL); multipart: None
    chunk_size: int | None = None  # bytes per PATCH / part the client should use
    headers: dict[str, str] = field(default_factory=dict)  # extra headers for the client
    backend_data: dict[str, Any] = field(default_factory=dict)  # stored on Video.backend_data
    expires_at: datetime | None = None


@dataclass
class VideoInfo:
    """What the backend knows about a stored video now."""

    status: VideoStatus
    size_bytes: int | None = None
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    has_thumbnail: bool = False
    error_code: str | None = None  # ours, from states or the provider's code
    error_message: str | None = None  # for the student, in plain words


@dataclass
class Playback:
    """How a viewer may play a video, until `expires_at`."""

    kind: PlaybackKind
    url: str
    expires_at: datetime
    thumbnail_url: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class StoredObject:
    """One thing the backend holds, for orphan detection."""

    storage_uid: str
    size_bytes: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"  # works, but not as well as it could (e.g. no webhook: polling)


@dataclass(frozen=True)
class ConnectionCheck:
    """One thing "Test connection" checked, and what the admin should know or do."""

    name: str  # what was checked, e.g. "Bucket exists"
    status: CheckStatus
    message: str  # plain words; on failure, what to change where

    @property
    def ok(self) -> bool:
        return self.status != CheckStatus.FAILED


@dataclass(frozen=True)
class PartUrl:
    """A presigned URL for one part of a multipart upload."""

    part_number: int
    url: str


@dataclass(frozen=True)
class ExpiredUpload:
    """An unfinished upload a backend gave up on and freed (lti_tool.storage.jobs)."""

    storage_uid: str
    backend_data: Mapping[str, Any] | None = None


class StorageBackend(abc.ABC):
    """One place videos live: the core every backend implements.

    What only some backends can do is in the capability interfaces below (as tusd splits
    its store into a core and optional interfaces): a backend subclasses the ones it
    implements and names them in `capabilities`; callers check `supports()` first.
    Subclasses: LocalStorage, CloudflareStorage, S3Storage.
    """

    name: str = ""
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, config: Mapping[str, Any]):
        self.config = config

    def supports(self, capability: Capability) -> bool:
        """Tell whether this backend declares a capability."""
        return capability in self.capabilities

    def browser_origins(self) -> dict[BrowserDirective, list[str]]:
        """Return the origins the tool's pages must let the browser reach, by CSP directive.

        The Content-Security-Policy (lti_tool/web/csp.py) allows exactly these beside
        'self'; a backend whose bytes pass through the app needs none.
        """
        return {}

    @abc.abstractmethod
    def create_upload(self, req: UploadRequest) -> UploadTicket:
        """Reserve space for an upload and return how the browser should send it.

        Raises UploadTooLarge when `req.size_bytes` exceeds the site's largest upload
        (lti_tool.uploads.limits.site_limits of the backend's settings).
        """

    def received_bytes(self, storage_uid: str,
                       backend_data: Mapping[str, Any] | None = None) -> int | None:
        """Return how many bytes of an unfinished upload the storage holds (None: unknown)."""
        return None

    def finish_upload(self, storage_uid: str,
                      backend_data: Mapping[str, Any] | None = None) -> bool:
        """Finish an upload the browser says it sent; tell whether every byte is there.

        Backends that receive uploads themselves (a provider's tus server, a bucket) learn
        the rest from `inspect`; the app's own tus endpoint moves the file into place.
        """
        return True

    @abc.abstractmethod
    def inspect(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> VideoInfo:
        """Return the video's state now (confirms an upload finished, reads processing).

        Raises UploadNotFound when the backend holds nothing under `storage_uid`.
        """

    @abc.abstractmethod
    def playback(self, storage_uid: str, *, viewer_id: int, video_id: int,
                 ttl_seconds: int, client_address: str | None = None,
                 rendition: bool = False) -> Playback:
        """Return a short-lived playback URL for this viewer and video.

        The URL is a bearer link until it expires. With `client_address` (the
        PLAYBACK_BIND_CLIENT_ADDRESS setting) a backend that can binds it to that address.
        `rendition`: processing made a playback rendition (Derived.RENDITION), to play
        instead of the original (Capability.PROCESSING backends).
        """

    def thumbnail_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                      ttl_seconds: int, client_address: str | None = None) -> str | None:
        """Return a short-lived thumbnail URL, or None when there is none."""
        return None

    def strip_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                  ttl_seconds: int, client_address: str | None = None) -> str | None:
        """Return a short-lived URL of the hover strip processing made (Derived.STRIP), or
        None when this backend has none (callers check Video.has_strip first)."""
        return None

    @abc.abstractmethod
    def delete(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> None:
        """Delete the video, any unfinished upload of it and everything derived from it;
        deleting twice is fine."""

    @abc.abstractmethod
    def list_objects(self) -> Iterator[StoredObject]:
        """Yield everything this backend holds for the tool (orphan detection)."""

    @abc.abstractmethod
    def health(self) -> Health:
        """Check the backend can be reached and written to."""


# --- capability interfaces -----------------------------------------------------------------

class HostedUploads(abc.ABC):
    """Capability.APP_HOSTED: the app's own tus endpoint receives the bytes (lti_tool/tus)."""

    @abc.abstractmethod
    def tus_store(self) -> "FileStore":
        """Return the store the app's tus endpoint writes partial uploads to."""

    @abc.abstractmethod
    def attach_upload(self, storage_uid: str, upload_id: str) -> None:
        """Move a finished tus upload into place as the video `storage_uid`."""


class HostedMedia(abc.ABC):
    """Capability.APP_HOSTED: the app serves the files with signed range requests."""

    @abc.abstractmethod
    def media_path(self, storage_uid: str) -> Path:
        """Return the path of the video file the app serves (raises UploadNotFound)."""

    @abc.abstractmethod
    def thumbnail_path(self, storage_uid: str) -> Path | None:
        """Return the path of the video's thumbnail, or None when there is none."""

    def strip_path(self, storage_uid: str) -> Path | None:
        """Return the path of the hover strip (Derived.STRIP), or None when there is none."""
        return None

    def rendition_path(self, storage_uid: str) -> Path | None:
        """Return the path of the playback rendition, or None when the original plays."""
        return None

    @abc.abstractmethod
    def media_mime_type(self, storage_uid: str) -> str:
        """Return the MIME type to serve the video file with."""

    @abc.abstractmethod
    def captions_path(self, storage_uid: str, language: str) -> Path:
        """Return the path of one language's WebVTT file (it may not exist yet)."""


class MediaProcessing(abc.ABC):
    """Capability.PROCESSING: the tool's worker reads the original and stores what it
    derives (lti_tool.processing); the original itself is never changed."""

    @abc.abstractmethod
    def read_header(self, storage_uid: str, size: int) -> bytes:
        """Return the first `size` bytes of the original (to refuse a non-video at once)."""

    @abc.abstractmethod
    def original_file(self, storage_uid: str, workdir: Path) -> Path:
        """Return a local path of the original: the file itself, or a copy streamed into
        `workdir` (which the caller removes)."""

    @abc.abstractmethod
    def store_derived(self, storage_uid: str, name: Derived, path: Path) -> None:
        """Keep the file at `path` as the video's derived file `name` (replacing it)."""

    @abc.abstractmethod
    def has_derived(self, storage_uid: str, name: Derived) -> bool:
        """Tell whether the video has the derived file `name`."""


class MultipartUploads(abc.ABC):
    """Capability.MULTIPART: the browser uploads presigned parts straight to a bucket."""

    @abc.abstractmethod
    def sign_parts(self, storage_uid: str, backend_data: Mapping[str, Any],
                   part_numbers: list[int]) -> list[PartUrl]:
        """Return presigned URLs for these parts of the upload."""

    @abc.abstractmethod
    def list_parts(self, storage_uid: str, backend_data: Mapping[str, Any]) -> list[dict]:
        """Return the parts the bucket holds: part_number, etag, size."""

    @abc.abstractmethod
    def complete_multipart(self, storage_uid: str, backend_data: Mapping[str, Any],
                           parts: list[dict]) -> None:
        """Join the parts into the object once every byte arrived."""

    @abc.abstractmethod
    def abort_multipart(self, storage_uid: str, backend_data: Mapping[str, Any]) -> None:
        """Abort the upload and free its parts; already gone is fine."""


class DeferredParts(abc.ABC):
    """Capability.DEFERRED_PARTS: a multipart upload of unknown size, told at its end."""

    @abc.abstractmethod
    def sign_next_part(self, storage_uid: str, backend_data: Mapping[str, Any],
                       part_number: int, size: int, limit: int) -> PartUrl:
        """Sign one part of `size` bytes once the parts before it are stored, refusing
        (UploadTooLarge) when they and it would pass `limit` bytes."""

    @abc.abstractmethod
    def complete_deferred(self, storage_uid: str, backend_data: Mapping[str, Any],
                          size: int, parts: list[dict]) -> dict[str, Any]:
        """Join the parts once they hold exactly `size` bytes; return the backend_data
        to keep (now with its size)."""


class ExpiringUploads(abc.ABC):
    """Unfinished uploads that the tool itself must give up on after a while (one job)."""

    @abc.abstractmethod
    def expire_uploads(self, older_than: timedelta) -> list[ExpiredUpload]:
        """Free the space of unfinished uploads past their time; return what was freed."""


class CaptionStore(abc.ABC):
    """Capability.CAPTIONS: keeps WebVTT captions beside a video."""

    @abc.abstractmethod
    def upload_captions(self, storage_uid: str, language: str, vtt: bytes) -> None:
        """Store (or replace) one language's captions."""

    @abc.abstractmethod
    def list_captions(self, storage_uid: str) -> list[dict]:
        """Return the video's captions: language, label, generated, status."""

    @abc.abstractmethod
    def delete_captions(self, storage_uid: str, language: str) -> None:
        """Remove one language's captions; removing twice is fine."""


class CaptionGeneration(abc.ABC):
    """Capability.CAPTION_GENERATION: transcribes speech into captions itself."""

    @abc.abstractmethod
    def generate_captions(self, storage_uid: str, language: str) -> None:
        """Start generating captions in `language`."""


class Downloads(abc.ABC):
    """Capability.DOWNLOAD: hands the original file to graders."""

    @abc.abstractmethod
    def download_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                     ttl_seconds: int, filename: str | None = None,
                     client_address: str | None = None) -> str:
        """Return a short-lived URL to the original file."""


class ConnectionChecks(abc.ABC):
    """Capability.CONNECTION_CHECK: checks the backend's settings against the provider."""

    @abc.abstractmethod
    def check_connection(self, origin: str) -> list[ConnectionCheck]:
        """Check credentials, the place videos go and what browsers need from `origin` (the
        tool's own origin); return every check made, in order, passed or not.

        A check that cannot run because an earlier one failed is left out, not failed, so
        the admin reads the first thing to fix. Never raises for the provider's answers.
        """


# Which interface each declared capability promises (checked by the storage tests).
INTERFACES: dict[Capability, tuple[type, ...]] = {
    Capability.APP_HOSTED: (HostedUploads, HostedMedia),
    Capability.MULTIPART: (MultipartUploads,),
    Capability.PROCESSING: (MediaProcessing,),
    Capability.CAPTIONS: (CaptionStore,),
    Capability.CAPTION_GENERATION: (CaptionGeneration,),
    Capability.DOWNLOAD: (Downloads,),
    Capability.CONNECTION_CHECK: (ConnectionChecks,),
}
