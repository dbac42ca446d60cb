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

import logging
import socket
from typing import Callable

log = logging.getLogger(__name__)

# Fills a writable buffer with the next bytes of the body; returns how many (0 at the end).
ReadInto = Callable[[memoryview], int]

GUNICORN_SOCKET = "gunicorn.socket"
WSGI_INPUT = "wsgi.input"


class ClientGone(ConnectionError):
    """The client closed the connection before the whole body arrived."""


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
        if sock is None:
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
