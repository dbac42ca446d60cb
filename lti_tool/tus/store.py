"""Partial tus uploads on disk: create, measure, append under a lock, remove.

The store only moves bytes; the handler speaks the protocol (see tusd's FileStore).
The offset is the file's size on disk, never a counter, so bytes written before a
dropped connection or a killed worker are kept and the client resumes from there.
Ids are never used as file names: each maps to the sha256 of the id.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import mmap
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from lti_tool.tus.body import AppendResult, GunicornSocketBody, ReadInto, write_all
from lti_tool.tus.errors import UploadLocked

log = logging.getLogger(__name__)

# Write the request body in pieces this big: 64 KiB pieces cost 2.5x the CPU (UPLOAD_NOTES).
READ_CHUNK_BYTES = 1024 * 1024


def safe_name(identifier: str) -> str:
    """Return a file name derived from an id, safe whatever the id contains."""
    return hashlib.sha256(identifier.encode("utf-8")).hexdigest()


class FileStore:
    """A directory of partial uploads, one file per upload id."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def path(self, upload_id: str) -> Path:
        """Return the on-disk path of an upload (sha256 of its id, under the directory)."""
        return self.directory / safe_name(upload_id)

    def create(self, upload_id: str) -> None:
        """Create the empty file for a new upload."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)

    def offset(self, upload_id: str) -> int | None:
        """Return how many bytes are on disk, or None when the file is missing."""
        try:
            return os.stat(self.path(upload_id)).st_size
        except FileNotFoundError:
            return None

    @contextmanager
    def locked(self, upload_id: str) -> Iterator[int]:
        """Open the upload for appending under an exclusive lock; refuse if already locked.

        flock works across processes (gunicorn workers) and across threads that open
        the file separately, so two PATCHes of one upload never interleave.
        """
        # Not O_APPEND: splice(2) refuses files opened for appending. Writes go to the end
        # all the same: the position starts there and writing moves it.
        fd = os.open(self.path(upload_id), os.O_WRONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise UploadLocked("Another request is writing to this upload right now. "
                                       "Wait for it to finish, then resume.") from None
                raise
            os.lseek(fd, 0, os.SEEK_END)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def append(fd: int, readinto: ReadInto, max_bytes: int, hasher=None,
               piece: int = READ_CHUNK_BYTES) -> AppendResult:
        """Copy at most `max_bytes` from `readinto` to `fd` through one buffer of `piece` bytes.

        A body read straight from gunicorn's socket is spliced into the file instead, unless
        it must be hashed (the checksum extension) or the kernel refuses (body.py). The
        buffer is an anonymous mapping made for this call and unmapped after it, so memory
        stays bounded and freed pieces never pile up in the allocator's arenas.
        """
        result = AppendResult(written=0)
        direct = getattr(readinto, "__self__", None)
        if hasher is None and isinstance(direct, GunicornSocketBody) and direct.can_splice:
            if direct.copy_to(fd, max_bytes, result):
                return result
            log.info("splice refused here; reading the rest of the body instead")
        size = max(1, min(piece, max_bytes - result.written))
        with _scratch(size) as view:
            ended = False
            while result.written < max_bytes and not ended:
                want = min(size, max_bytes - result.written)
                filled = 0
                while filled < want:
                    try:
                        n = readinto(view[filled:want])
                    except Exception as exc:  # the client went away: keep what arrived
                        log.info("upload body ended early after %d bytes: %s",
                                 result.written + filled, exc.__class__.__name__)
                        result.disconnected = ended = True
                        break
                    if not n:
                        ended = True
                        break
                    filled += n
                if filled:
                    write_all(fd, view[:filled])
                    if hasher is not None:
                        hasher.update(view[:filled])
                    result.written += filled
            if not ended:
                try:
                    result.overflow = bool(readinto(view[:1]))
                except Exception:
                    result.overflow = False
        if hasher is not None:
            result.digest = hasher.digest()
        return result

    @staticmethod
    def truncate(fd: int, size: int) -> None:
        """Cut the upload back to `size` bytes (a PATCH whose checksum failed)."""
        os.ftruncate(fd, size)

    def remove(self, upload_id: str) -> None:
        """Delete an upload's file; removing twice is fine."""
        try:
            self.path(upload_id).unlink()
        except FileNotFoundError:
            pass

    def move_to(self, upload_id: str, dest: Path) -> None:
        """Move a finished upload into place atomically (same file system)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(upload_id), dest)

    def names(self) -> Iterator[tuple[str, float]]:
        """Yield (file name, modification time) of every partial upload on disk."""
        if not self.directory.is_dir():
            return
        for entry in os.scandir(self.directory):
            if entry.is_file():
                yield entry.name, entry.stat().st_mtime


@contextmanager
def _scratch(size: int) -> Iterator[memoryview]:
    """Lend a zeroed buffer of `size` bytes from its own anonymous mapping."""
    buf = mmap.mmap(-1, size)
    view = memoryview(buf)
    try:
        yield view
    finally:
        try:
            view.release()
            buf.close()
        except BufferError:  # a slice still referenced somewhere: unmapped when collected
            pass
