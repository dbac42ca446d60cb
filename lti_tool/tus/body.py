"""Read a PATCH body into our own buffer: straight from gunicorn's socket when it is safe,
else from any WSGI input stream.

Under gunicorn, `wsgi.input` copies each piece of a Content-Length body through several
BytesIO buffers (Body -> LengthReader -> SocketUnreader); py-spy put those copies at about
a third of the worker's CPU during an upload (bench/README.md). For that one case we read
the socket ourselves: first the bytes gunicorn already read ahead, then `recv_into` our
buffer, keeping gunicorn's count of what is left so keep-alive and the next request on the
connection work as before. Chunked bodies, other servers and the test client go through
the stream.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

# Fills a writable buffer with the next bytes of the body; returns how many (0 at the end).
ReadInto = Callable[[memoryview], int]

GUNICORN_SOCKET = "gunicorn.socket"
WSGI_INPUT = "wsgi.input"


# The pipe between socket and file: as large as an unprivileged process may make it.
PIPE_BYTES = 1024 * 1024
_SPLICE = getattr(os, "splice", None)  # Linux, Python 3.10+
_SPLICE_REFUSED = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF)


class ClientGone(ConnectionError):
    """The client closed the connection before the whole body arrived."""


@dataclass
class AppendResult:
    """What one append wrote, and why it stopped."""

    written: int
    disconnected: bool = False  # the client went away mid-body; written bytes are kept
    overflow: bool = False  # the body carried more than the allowed number of bytes
    digest: bytes | None = None


def write_all(fd: int, data) -> None:
    """Write all of `data` at the file's position (os.write may take only part)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def body_reader(environ: dict, stream) -> ReadInto:
    """Return a readinto for the request body: gunicorn's socket directly, or `stream`."""
    direct = GunicornSocketBody.take_over(environ)
    return direct.readinto if direct is not None else stream_reader(stream)


def stream_reader(stream) -> ReadInto:
    """Adapt a binary stream (readinto or read) to a ReadInto."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return lambda view: readinto(view) or 0

    def read_into(view: memoryview) -> int:
        data = stream.read(len(view))
        view[:len(data)] = data
        return len(data)
    return read_into


class GunicornSocketBody:
    """A Content-Length body read from gunicorn's client socket, bypassing its buffers."""

    def __init__(self, body, reader, unreader, sock):
        self.body, self.reader, self.sock = body, reader, sock
        # Bytes the Body already holds were counted off by the reader; bytes the unreader
        # read ahead were not, and past the body's end they belong to the next request.
        held = body.buf.getvalue()
        body.buf.seek(0)
        body.buf.truncate()
        ahead = unreader.take_buffered()
        mine = min(len(ahead), reader.length)
        if mine < len(ahead):
            unreader.unread(ahead[mine:])
        reader.length -= mine
        self.pending = memoryview(held + ahead[:mine])

    @classmethod
    def take_over(cls, environ: dict) -> GunicornSocketBody | None:
        """Return a direct reader if this is gunicorn's Content-Length body, else None."""
        sock = environ.get(GUNICORN_SOCKET)
        if sock is None or isinstance(sock, ssl.SSLSocket):  # TLS: gunicorn decrypts
            return None
        try:
            from gunicorn.http.body import Body, LengthReader
            from gunicorn.http.unreader import SocketUnreader
        except ImportError:
            return None
        body = environ.get(WSGI_INPUT)
        reader = getattr(body, "reader", None)
        unreader = getattr(reader, "unreader", None)
        if not (type(body) is Body and type(reader) is LengthReader
                and type(unreader) is SocketUnreader and unreader.sock is sock
                and hasattr(unreader, "take_buffered") and hasattr(body, "failed")
                and hasattr(sock, "recv_into")):
            return None
        return cls(body, reader, unreader, sock)

    def readinto(self, view: memoryview) -> int:
        """Fill `view` with the next body bytes; 0 once the body is complete."""
        if self.pending:
            n = min(len(view), len(self.pending))
            view[:n] = self.pending[:n]
            self.pending = self.pending[n:]
            return n
        want = min(len(view), self.reader.length)
        if want <= 0:
            return 0
        try:
            # MSG_WAITALL: one call per buffer, not one per segment the client sent (a
            # Node client writes 64 KiB pieces); it returns less only at EOF or on error.
            n = self.sock.recv_into(view, want, socket.MSG_WAITALL)
        except OSError:
            self.body.failed = True  # where the next request starts is unknown now
            raise
        if n == 0:
            self.body.failed = True
            raise ClientGone(f"the client closed the connection with {self.reader.length} "
                             f"bytes of the body unsent")
        self.reader.length -= n
        return n

    @property
    def can_splice(self) -> bool:
        """True when `copy_to` may splice: a plain blocking socket on Linux (TLS needs us)."""
        return (_SPLICE is not None and type(self.sock) is socket.socket
                and self.sock.gettimeout() is None)

    def copy_to(self, fd: int, limit: int, result: AppendResult) -> bool:
        """Move up to `limit` body bytes to file `fd`'s position with splice(2), counting
        them in `result`; return False if the kernel refused to splice.

        Bytes gunicorn already read are written first. On a refusal the bytes already
        taken from the socket are written normally: the caller reads the rest through
        `readinto`. Errors writing the file propagate.
        """
        if self.pending:
            head = self.pending[:limit]
            self.pending = self.pending[len(head):]
            write_all(fd, head)
            result.written += len(head)
        read_end, write_end = os.pipe()
        try:
            try:
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:  # over the system's pipe-max-size: keep the default
                pass
            spliced = self._splice_loop(fd, limit, result, read_end, write_end)
        finally:
            os.close(read_end)
            os.close(write_end)
        result.overflow = (spliced and not result.disconnected and result.written == limit
                           and (bool(self.pending) or self.reader.length > 0))
        return spliced

    def _splice_loop(self, fd: int, limit: int, result: AppendResult,
                     read_end: int, write_end: int) -> bool:
        sock_fd = self.sock.fileno()
        while result.written < limit and self.reader.length > 0:
            want = min(PIPE_BYTES, limit - result.written, self.reader.length)
            try:
                moved = _SPLICE(sock_fd, write_end, want)
            except OSError as exc:
                if exc.errno in _SPLICE_REFUSED:
                    return False
                self._ended(result, exc)
                return True
            if moved == 0:
                self._ended(result, "the client closed the connection")
                return True
            self.reader.length -= moved
            while moved:  # the pipe holds `moved` bytes now: every one goes to the file
                try:
                    n = _SPLICE(read_end, fd, moved)
                except OSError as exc:
                    if exc.errno not in _SPLICE_REFUSED:
                        raise
                    while moved:  # write what the pipe holds the ordinary way
                        data = os.read(read_end, moved)
                        write_all(fd, data)
                        result.written += len(data)
                        moved -= len(data)
                    return False
                moved -= n
                result.written += n
        return True

    def _ended(self, result: AppendResult, why) -> None:
        log.info("upload body ended early after %d bytes: %s", result.written, why)
        self.body.failed = True  # where the next request starts is unknown now
        result.disconnected = True
