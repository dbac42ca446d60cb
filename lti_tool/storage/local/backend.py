"""The local-disk backend, the embedded default: our tus endpoint in, signed range requests out.

Layout under LOCAL_STORAGE_DIR (ids are never file names; each maps to its sha256):
    uploads/<sha256(upload id)>          partial tus uploads (see lti_tool.tus.store)
    videos/<sha256(storage uid)>/video   the finished file
    videos/<sha256(storage uid)>/thumb.jpg, rendition.mp4 (lti_tool.processing), meta.json

This is the backend for one machine or a shared volume; in production at scale, bytes
should bypass the app (Cloudflare or S3 backends).
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from lti_tool.file_cache import StableFileCache
from lti_tool.models import new_token
from lti_tool.playback.grants import (GRANT_DOWNLOAD, GRANT_MEDIA, GRANT_THUMBNAIL, expiry_in,
                                      sign_grant)
from lti_tool.statuses import VideoStatus
from lti_tool.storage.base import (Capability, CaptionStore, ConnectionCheck,
                                   ConnectionChecks, Derived, Downloads,
                                   ExpiredUpload, ExpiringUploads, Health, HostedMedia,
                                   HostedUploads, MediaProcessing, Playback, PlaybackKind,
                                   RENDITION_MIME,
                                   StorageBackend, StorageError, StoredObject, UploadMethod,
                                   UploadNotFound, UploadRequest, UploadTicket, UploadTooLarge,
                                   VideoInfo)
from lti_tool.tus import uploads as tus_uploads
from lti_tool.tus.store import FileStore, safe_name
from lti_tool.uploads import video_checks
from lti_tool.uploads.limits import site_limits
from lti_tool.web.formatting import format_size
from lti_tool.web.urls import public_url

log = logging.getLogger(__name__)

UPLOADS_DIR = "uploads"
VIDEOS_DIR = "videos"
VIDEO_FILE = "video"
THUMB_FILE = Derived.THUMBNAIL.value
META_FILE = "meta.json"
THUMB_MIME = "image/jpeg"

# Captions are <language>.vtt beside the video; the tag is checked again here, as it names a file.
CAPTIONS_SUFFIX = ".vtt"
CAPTIONS_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")

META_CACHE_MAX = 4096


def _parse_meta(raw: bytes) -> dict:
    try:
        meta = json.loads(raw)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


# Per process (bench/README.md, round 5: every playback grant and every media request read
# and parsed the video's meta.json): each one while it stays the same file
# (lti_tool.file_cache). It is only ever replaced whole (_write_meta: os.replace), here or
# in a processing worker. Read-only: `_meta` gives callers that change it a fresh copy.
_META_CACHE = StableFileCache(_parse_meta, max_entries=META_CACHE_MAX)


@functools.lru_cache(maxsize=META_CACHE_MAX)
def _video_dir(videos: Path, storage_uid: str) -> Path:
    return videos / safe_name(storage_uid)


def _cached_meta(folder: Path) -> dict | None:
    """Return the folder's meta.json (not to be changed), or None when it has none."""
    try:
        return _META_CACHE.read(folder / META_FILE)
    except FileNotFoundError:  # as Path.exists() would say: not there
        return None
    except OSError:
        return {}


class LocalStorage(StorageBackend, HostedUploads, HostedMedia, CaptionStore, Downloads,
                   ExpiringUploads, MediaProcessing, ConnectionChecks):
    """Videos on this machine's disk, uploaded through our tus endpoint."""

    name = "local"
    capabilities = frozenset({Capability.TUS, Capability.SIGNED_PLAYBACK, Capability.THUMBNAILS,
                              Capability.DOWNLOAD, Capability.APP_HOSTED, Capability.CAPTIONS,
                              Capability.PROCESSING, Capability.CONNECTION_CHECK,
                              Capability.DEFERRED_LENGTH, Capability.SOUND_ONLY})

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.root = Path(config["LOCAL_STORAGE_DIR"])
        self._videos = self.root / VIDEOS_DIR
        self._store = FileStore(self.root / UPLOADS_DIR)

    # --- layout ---
    def _dir(self, storage_uid: str) -> Path:
        return _video_dir(self._videos, storage_uid)

    def _existing_dir(self, storage_uid: str) -> Path:
        folder = self._dir(storage_uid)
        if not (folder / META_FILE).exists():
            raise UploadNotFound("This video is not in the local storage.")
        return folder

    def _meta(self, folder: Path) -> dict:
        try:
            return json.loads((folder / META_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _write_meta(self, folder: Path, meta: dict) -> None:
        tmp = folder / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, folder / META_FILE)
        _META_CACHE.forget(folder / META_FILE)

    # --- the interface ---
    def create_upload(self, req: UploadRequest) -> UploadTicket:
        """Make the video's folder and point the browser at our tus endpoint."""
        limit = site_limits(self.config).max_bytes
        if req.size_bytes is not None and req.size_bytes > limit:
            raise UploadTooLarge(f"The video is larger than this site's limit of "
                                 f"{limit} bytes.")
        storage_uid = new_token()
        folder = self._dir(storage_uid)
        folder.mkdir(parents=True, exist_ok=False)
        now = datetime.now(timezone.utc)
        self._write_meta(folder, {"storage_uid": storage_uid, "created_at": now.isoformat(),
                                  "video_id": req.video_id, "filename": req.filename})
        chunk = int(self.config.get("UPLOAD_CHUNK_BYTES") or 0) or None
        return UploadTicket(
            method=UploadMethod.TUS, storage_uid=storage_uid,
            endpoint=public_url("tus.create"), chunk_size=chunk,
            expires_at=now + timedelta(hours=int(self.config["UPLOAD_EXPIRY_HOURS"])))

    def inspect(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> VideoInfo:
        """Check the finished file (signature, ffprobe) or report the upload's progress."""
        folder = self._existing_dir(storage_uid)
        path = folder / VIDEO_FILE
        if not path.exists():
            upload_id = (backend_data or {}).get(tus_uploads.UPLOAD_ID_KEY)
            received = self._store.offset(upload_id) if upload_id else None
            if received is None:
                return VideoInfo(status=VideoStatus.PENDING)
            return VideoInfo(status=VideoStatus.UPLOADING, size_bytes=received)
        meta = self._meta(folder)
        stat = path.stat()
        check = meta.get("check")
        if not check or check.get("stamp") != [stat.st_size, stat.st_mtime_ns]:
            check = self._check(path, meta, stat)
        thumb = folder / THUMB_FILE
        if check["ok"] and not thumb.exists():
            video_checks.make_thumbnail(path, thumb, check.get("duration_seconds"))
        if not check["ok"]:
            return VideoInfo(status=VideoStatus.ERROR, size_bytes=stat.st_size,
                             error_code=check["error_code"],
                             error_message=check["error_message"])
        return VideoInfo(status=VideoStatus.READY, size_bytes=stat.st_size,
                         duration_seconds=check.get("duration_seconds"),
                         width=check.get("width"), height=check.get("height"),
                         has_thumbnail=thumb.exists())

    def _check(self, path: Path, meta: dict, stat: os.stat_result) -> dict:
        result = video_checks.check_video(path)
        check = {"stamp": [stat.st_size, stat.st_mtime_ns], "ok": result.ok,
                 "container": result.container.name if result.container else None,
                 "mime_type": result.container.mime_type if result.container else None,
                 "duration_seconds": result.duration_seconds, "width": result.width,
                 "height": result.height, "probed": result.probed,
                 "error_code": result.error_code, "error_message": result.error_message}
        meta["check"] = check
        self._write_meta(path.parent, meta)
        return check

    def playback(self, storage_uid: str, *, viewer_id: int, video_id: int,
                 ttl_seconds: int, client_address: str | None = None,
                 rendition: bool = False) -> Playback:
        """Sign a media URL for this viewer and video, served with range requests."""
        folder = self._dir(storage_uid)
        meta = _cached_meta(folder)
        if meta is None:
            raise UploadNotFound("This video is not in the local storage.")
        if not (folder / VIDEO_FILE).exists():
            raise UploadNotFound("This video has not finished uploading.")
        expires = expiry_in(ttl_seconds)
        token = sign_grant(GRANT_MEDIA, video_id=video_id, viewer_id=viewer_id, expires=expires,
                           address=client_address)
        url = public_url("playback.media", video_id=video_id, token=token)
        if (folder / Derived.RENDITION).exists():
            mime = RENDITION_MIME
        else:  # the original's, by its first bytes: a kept .mp3 is audio/mpeg
            mime = self._mime_type(folder, meta)
        return Playback(kind=PlaybackKind.FILE, url=url, expires_at=expires,
                        thumbnail_url=self.thumbnail_url(storage_uid, viewer_id=viewer_id,
                                                         video_id=video_id,
                                                         ttl_seconds=ttl_seconds,
                                                         client_address=client_address),
                        mime_type=mime)

    def thumbnail_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                      ttl_seconds: int, client_address: str | None = None) -> str | None:
        """Sign a thumbnail URL, or None when no thumbnail was made."""
        if self.thumbnail_path(storage_uid) is None:
            return None
        token = sign_grant(GRANT_THUMBNAIL, video_id=video_id, viewer_id=viewer_id,
                           expires=expiry_in(ttl_seconds), address=client_address)
        return public_url("playback.thumbnail", video_id=video_id, token=token)

    def strip_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                  ttl_seconds: int, client_address: str | None = None) -> str | None:
        """Sign a hover-strip URL (a thumbnail grant), or None when no strip was made."""
        if self.strip_path(storage_uid) is None:
            return None
        token = sign_grant(GRANT_THUMBNAIL, video_id=video_id, viewer_id=viewer_id,
                           expires=expiry_in(ttl_seconds), address=client_address)
        return public_url("playback.strip", video_id=video_id, token=token)

    def download_url(self, storage_uid: str, *, viewer_id: int, video_id: int,
                     ttl_seconds: int, filename: str | None = None,
                     client_address: str | None = None) -> str:
        """Sign a URL that downloads the original file."""
        self.media_path(storage_uid)
        token = sign_grant(GRANT_DOWNLOAD, video_id=video_id, viewer_id=viewer_id,
                           expires=expiry_in(ttl_seconds), address=client_address)
        return public_url("playback.media", video_id=video_id, token=token)

    def received_bytes(self, storage_uid: str,
                       backend_data: Mapping[str, Any] | None = None) -> int | None:
        """Return the bytes our tus endpoint holds of the upload feeding this video."""
        return tus_uploads.received(backend_data)

    def finish_upload(self, storage_uid: str,
                      backend_data: Mapping[str, Any] | None = None) -> bool:
        """Move a complete tus upload into place (if a worker died before it did)."""
        return tus_uploads.finish(backend_data)

    def delete(self, storage_uid: str, backend_data: Mapping[str, Any] | None = None) -> None:
        """Remove the video's folder and any partial upload feeding it."""
        tus_uploads.discard(self._store, backend_data)
        shutil.rmtree(self._dir(storage_uid), ignore_errors=True)
        _META_CACHE.forget(self._dir(storage_uid) / META_FILE)

    def expire_uploads(self) -> list[ExpiredUpload]:
        """Remove tus uploads past their expiry (UPLOAD_EXPIRY_HOURS, sliding with each
        PATCH) and partial files nobody owns."""
        return tus_uploads.expire(self._store)

    def list_objects(self) -> Iterator[StoredObject]:
        """Yield every video folder, named by the uid kept in its meta.json."""
        videos = self.root / VIDEOS_DIR
        if not videos.is_dir():
            return
        for entry in os.scandir(videos):
            if not entry.is_dir():
                continue
            folder = Path(entry.path)
            meta = self._meta(folder)
            uid = meta.get("storage_uid")
            if not uid:
                continue
            video = folder / VIDEO_FILE
            created = meta.get("created_at")
            yield StoredObject(storage_uid=uid,
                               size_bytes=video.stat().st_size if video.exists() else None,
                               created_at=datetime.fromisoformat(created) if created else None)

    def health(self) -> Health:
        """Check the storage folder is writable and report the free space."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".health-{os.getpid()}-{time.monotonic_ns()}"
            probe.write_bytes(b"ok")
            probe.unlink()
            free = shutil.disk_usage(self.root).free
        except OSError as exc:
            return Health(ok=False, detail=f"{self.root} is not writable: {exc.strerror}")
        return Health(ok=True, detail=f"{format_size(free)} free in {self.root}")

    def check_connection(self, origin: str) -> list[ConnectionCheck]:
        """Check the folder exists, can be written and has room (the origin plays no part:
        the browser talks to the tool itself)."""
        from lti_tool.storage.local.checks import check_connection
        return check_connection(self.root, site_limits(self.config).max_bytes)

    # --- hosted by the app ---
    def tus_store(self) -> FileStore:
        return self._store

    def attach_upload(self, storage_uid: str, upload_id: str) -> None:
        """Move the finished tus upload into the video's folder."""
        folder = self._existing_dir(storage_uid)
        self._store.move_to(upload_id, folder / VIDEO_FILE)

    def media_path(self, storage_uid: str) -> Path:
        path = self._dir(storage_uid) / VIDEO_FILE
        if not path.exists():
            raise UploadNotFound("This video is not in the local storage.")
        return path

    def thumbnail_path(self, storage_uid: str) -> Path | None:
        path = self._dir(storage_uid) / THUMB_FILE
        return path if path.exists() else None

    def strip_path(self, storage_uid: str) -> Path | None:
        path = self._dir(storage_uid) / Derived.STRIP
        return path if path.exists() else None

    def rendition_path(self, storage_uid: str) -> Path | None:
        """Return the H.264 MP4 processing made for playback, or None (the original plays)."""
        path = self._dir(storage_uid) / Derived.RENDITION
        return path if path.exists() else None

    def media_mime_type(self, storage_uid: str) -> str:
        """Return the MIME type of the original's container (video/mp4 when unknown)."""
        folder = self._dir(storage_uid)
        return self._mime_type(folder, _cached_meta(folder) or {})

    def _mime_type(self, folder: Path, meta: dict) -> str:
        check = meta.get("check") or {}
        if check.get("mime_type"):
            return check["mime_type"]
        path = folder / VIDEO_FILE
        if not path.exists():
            raise UploadNotFound("This video is not in the local storage.")
        container = video_checks.sniff_container(video_checks.read_header(path))
        return container.mime_type if container else RENDITION_MIME

    # --- processing (Capability.PROCESSING): derived files beside the original ---
    def read_header(self, storage_uid: str, size: int) -> bytes:
        """Return the first bytes of the original file."""
        with open(self.media_path(storage_uid), "rb") as f:
            return f.read(size)

    def original_file(self, storage_uid: str, workdir: Path) -> Path:
        """Return the original itself: it is already on this disk."""
        return self.media_path(storage_uid)

    def store_derived(self, storage_uid: str, name: Derived, path: Path) -> None:
        """Move a derived file into the video's folder, atomically."""
        folder = self._existing_dir(storage_uid)
        tmp = folder / f"{name}.tmp"
        shutil.move(str(path), tmp)
        os.replace(tmp, folder / name)

    def has_derived(self, storage_uid: str, name: Derived) -> bool:
        return (self._dir(storage_uid) / name).exists()

    # --- captions (Capability.CAPTIONS): <language>.vtt beside the video ---
    def captions_path(self, storage_uid: str, language: str) -> Path:
        """Return where one language's WebVTT file lives (it may not exist yet)."""
        if not CAPTIONS_LANGUAGE.fullmatch(language or ""):
            raise StorageError("This is not a language tag.", code="bad_language",
                               http_status=400)
        return self._existing_dir(storage_uid) / f"{language}{CAPTIONS_SUFFIX}"

    def upload_captions(self, storage_uid: str, language: str, vtt: bytes) -> None:
        """Store (or replace) one language's WebVTT file, atomically."""
        path = self.captions_path(storage_uid, language)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(vtt)
        os.replace(tmp, path)

    def list_captions(self, storage_uid: str) -> list[dict]:
        """Return the languages that have a WebVTT file, all ready."""
        folder = self._existing_dir(storage_uid)
        return [{"language": path.stem, "label": None, "generated": False, "status": "ready"}
                for path in sorted(folder.glob(f"*{CAPTIONS_SUFFIX}"))
                if CAPTIONS_LANGUAGE.fullmatch(path.stem)]

    def delete_captions(self, storage_uid: str, language: str) -> None:
        """Remove one language's WebVTT file; removing it twice is fine."""
        self.captions_path(storage_uid, language).unlink(missing_ok=True)
