"""Reading a PATCH body: straight from gunicorn's socket (parsed by gunicorn's own parser),
keeping its keep-alive accounting; spliced into the file where the kernel allows; pieces of
the configured size otherwise; never the whole body.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import http.client
import io
import os
import socket
import ssl
import threading
import time

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from lti_tool.tus import body as tus_body, store as tus_store
from lti_tool.tus.body import ClientGone, GunicornSocketBody, body_reader, stream_reader
from lti_tool.tus.protocol import OFFSET_OCTET_STREAM, UPLOAD_OFFSET
from tests.test_tus import student_tus  # noqa: F401  (fixture)
from tests.test_tus_live import _start, _stored_file, gunicorn  # noqa: F401  (fixture)
from tests.uploading import room, sha256_of, tus_headers  # noqa: F401

MIB = 1024 * 1024


def _request(body: bytes, path: str = "/tus/x") -> bytes:
    return (f"PATCH {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)


def _parse(client: socket.socket, server: socket.socket, wire: bytes):
    """Send `wire`, let gunicorn parse the first request; return (parser, request, environ)."""
    threading.Thread(target=client.sendall, args=(wire,), daemon=True).start()
    parser = RequestParser(Config(), server, ("127.0.0.1", 1))
    req = next(parser)
    return parser, req, {"wsgi.input": req.body, "gunicorn.socket": server}


def _read_all(readinto, piece: int = 1000) -> bytes:
    out, buf = bytearray(), bytearray(piece)
    view = memoryview(buf)
    while n := readinto(view):
        out += view[:n]
    return bytes(out)


def test_takes_over_gunicorn_body_and_leaves_the_next_request_intact():
    body = os.urandom(300_000)
    client, server = socket.socketpair()
    with client, server:
        # The first recv holds headers, the start of the body, and (later) a pipelined request.
        parser, req, environ = _parse(client, server, _request(body)
                                      + b"HEAD /tus/y HTTP/1.1\r\nHost: t\r\n\r\n")
        direct = GunicornSocketBody.take_over(environ)
        assert direct is not None
        assert _read_all(direct.readinto) == body
        assert req.body.reader.length == 0 and req.body.read() == b""
        following = next(parser)
        assert (following.method, following.path) == ("HEAD", "/tus/y")


def test_bytes_gunicorn_already_buffered_come_first():
    body = os.urandom(50_000)
    client, server = socket.socketpair()
    with client, server:
        parser, req, environ = _parse(client, server, _request(body))
        assert req.body.read(10) == body[:10]  # gunicorn's own reader went first
        direct = GunicornSocketBody.take_over(environ)
        assert _read_all(direct.readinto, piece=777) == body[10:]


def test_a_client_gone_mid_body_raises_and_marks_the_connection_unusable():
    client, server = socket.socketpair()
    with server:
        parser, req, environ = _parse(client, server,
                                      b"PATCH /tus/x HTTP/1.1\r\nHost: t\r\n"
                                      b"Content-Length: 100000\r\n\r\n" + b"a" * 1000)
        time.sleep(0.1)
        client.close()
        direct = GunicornSocketBody.take_over(environ)
        view = memoryview(bytearray(4096))
        assert direct.readinto(view) == 1000
        with pytest.raises(ClientGone):
            direct.readinto(view)
        assert req.body.failed is True


def test_other_servers_and_chunked_bodies_use_the_stream():
    client, server = socket.socketpair()
    with client, server:
        _, req, environ = _parse(client, server, b"PATCH /tus/x HTTP/1.1\r\nHost: t\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        assert GunicornSocketBody.take_over(environ) is None
        assert _read_all(body_reader(environ, req.body)) == b"hello"
    assert GunicornSocketBody.take_over({"wsgi.input": io.BytesIO(b"x")}) is None


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected TCP pair on loopback (client, server), as gunicorn's sockets are."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


def _open(tmp_path, name="f") -> int:
    return os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT)


def test_splice_moves_the_body_into_the_file_and_leaves_the_next_request_intact(tmp_path):
    body = os.urandom(3 * MIB + 17)
    client, server = _tcp_pair()
    with client, server:
        parser, req, environ = _parse(client, server, _request(body)
                                      + b"HEAD /tus/y HTTP/1.1\r\nHost: t\r\n\r\n")
        direct = GunicornSocketBody.take_over(environ)
        assert direct.can_splice
        fd = _open(tmp_path)
        try:
            os.write(fd, b"earlier")  # the upload so far: the body goes after it
            copied = tus_store.AppendResult(written=0)
            spliced = direct.copy_to(fd, len(body), copied)
        finally:
            os.close(fd)
        assert (spliced, copied.written, copied.disconnected, copied.overflow) == (
            True, len(body), False, False)
        assert (tmp_path / "f").read_bytes() == b"earlier" + body
        assert req.body.reader.length == 0
        following = next(parser)
        assert (following.method, following.path) == ("HEAD", "/tus/y")


def test_splice_writes_what_gunicorn_already_read_first(tmp_path):
    body = os.urandom(200_000)
    client, server = _tcp_pair()
    with client, server:
        _, req, environ = _parse(client, server, _request(body))
        assert req.body.read(10) == body[:10]
        direct = GunicornSocketBody.take_over(environ)
        fd = _open(tmp_path)
        try:
            copied = tus_store.AppendResult(written=0)
            assert direct.copy_to(fd, len(body) - 10, copied)
        finally:
            os.close(fd)
    assert copied.written == len(body) - 10
    assert (tmp_path / "f").read_bytes() == body[10:]


def test_splice_keeps_what_arrived_when_the_client_goes(tmp_path):
    client, server = _tcp_pair()
    with server:
        _, req, environ = _parse(client, server, b"PATCH /tus/x HTTP/1.1\r\nHost: t\r\n"
                                 b"Content-Length: 5000000\r\n\r\n" + b"a" * 300_000)
        time.sleep(0.2)
        client.close()
        direct = GunicornSocketBody.take_over(environ)
        fd = _open(tmp_path)
        try:
            copied = tus_store.AppendResult(written=0)
            assert direct.copy_to(fd, 5_000_000, copied)
        finally:
            os.close(fd)
        assert copied.disconnected and copied.written == 300_000
        assert req.body.failed is True
    assert (tmp_path / "f").read_bytes() == b"a" * 300_000


@pytest.mark.parametrize("refuse", ["socket", "file"])
def test_when_the_kernel_refuses_to_splice_the_store_reads_instead(tmp_path, monkeypatch,
                                                                   refuse):
    """Refused at the socket (nothing taken) or at the file (bytes already in the pipe):
    either way every byte lands once, in order."""
    real = os.splice
    calls, sockets = [], []

    def splice(src, dst, count, offset_src=None, offset_dst=None, flags=0):
        calls.append(src)
        if (refuse == "socket") == (src in sockets):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(src, dst, count, offset_src, offset_dst, flags)

    monkeypatch.setattr(tus_body, "_SPLICE", splice)
    body = os.urandom(2 * MIB + 5)
    client, server = _tcp_pair()
    sockets.append(server.fileno())
    with client, server:
        _, req, environ = _parse(client, server, _request(body))
        direct = GunicornSocketBody.take_over(environ)
        fd = _open(tmp_path)
        try:
            result = tus_store.FileStore.append(fd, direct.readinto, len(body))
        finally:
            os.close(fd)
    assert calls, "splice was never tried"
    assert result.written == len(body) and not result.disconnected and not result.overflow
    assert (tmp_path / "f").read_bytes() == body


def test_the_store_splices_a_direct_body_but_hashes_through_its_buffer(tmp_path, monkeypatch):
    spliced = []
    real_copy = GunicornSocketBody.copy_to

    def spy(self, fd, limit, result):
        spliced.append(limit)
        return real_copy(self, fd, limit, result)

    monkeypatch.setattr(GunicornSocketBody, "copy_to", spy)
    body = os.urandom(MIB + 3)
    for name, hasher in (("plain", None), ("hashed", hashlib.sha1())):
        client, server = _tcp_pair()
        with client, server:
            _, _, environ = _parse(client, server, _request(body))
            direct = GunicornSocketBody.take_over(environ)
            fd = _open(tmp_path, name)
            try:
                result = tus_store.FileStore.append(fd, direct.readinto, len(body), hasher)
            finally:
                os.close(fd)
        assert result.written == len(body) and (tmp_path / name).read_bytes() == body
    assert spliced == [len(body)]  # the plain one only
    assert result.digest == hashlib.sha1(body).digest()


def test_no_splice_on_sockets_with_a_timeout_or_tls():
    client, server = _tcp_pair()
    with client, server:
        _, _, environ = _parse(client, server, _request(b"x" * 10))
        direct = GunicornSocketBody.take_over(environ)
        assert direct.can_splice
        server.settimeout(5)  # non-blocking underneath: splice would not wait for data
        assert not direct.can_splice

    # Under gunicorn with a certificate the socket is TLS: its bytes on the wire are
    # ciphertext, and SSLSocket.recv_into takes no flags. Neither direct path may apply.
    client, server = _tcp_pair()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).wrap_socket(
        socket.socket(), server_side=True, do_handshake_on_connect=False)
    with client, server, tls:
        _, req, environ = _parse(client, server, _request(b"x" * 10))
        req.body.reader.unreader.sock = environ["gunicorn.socket"] = tls
        assert GunicornSocketBody.take_over(environ) is None


def test_stream_reader_adapts_read_only_streams():
    class ReadOnly:
        def __init__(self):
            self.data = io.BytesIO(b"abcdefgh")

        def read(self, n):
            return self.data.read(n)

    assert _read_all(stream_reader(ReadOnly()), piece=3) == b"abcdefgh"


def test_store_reads_in_pieces_of_the_configured_size(tmp_path, monkeypatch):
    asked = []
    source = io.BytesIO(os.urandom(5 * MIB + 3))

    def readinto(view):
        asked.append(len(view))
        return source.readinto(view)

    monkeypatch.setattr(tus_store, "READ_CHUNK_BYTES", 2 * MIB)
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    try:
        result = tus_store.FileStore.append(fd, readinto, 5 * MIB + 3,
                                            piece=tus_store.READ_CHUNK_BYTES)
    finally:
        os.close(fd)
    assert result.written == 5 * MIB + 3 and not result.overflow
    assert max(asked) == 2 * MIB and asked[:3] == [2 * MIB, 2 * MIB, MIB + 3]
    assert (tmp_path / "f").read_bytes() == source.getvalue()


def test_a_patch_never_buffers_the_body(app, student_tus, monkeypatch):  # noqa: F811
    import flask

    def refuse(*args, **kwargs):
        raise AssertionError("the PATCH body was buffered whole")

    ticket = student_tus.start(size=3 * MIB)
    location = student_tus.create(ticket["video_id"], 3 * MIB).headers["Location"]
    monkeypatch.setattr(flask.Request, "get_data", refuse)
    resp = student_tus.patch(location, os.urandom(3 * MIB), 0)
    assert resp.status_code == 204 and resp.headers[UPLOAD_OFFSET] == str(3 * MIB)


def test_keep_alive_patches_under_gunicorn_are_byte_exact(app, room, gunicorn):  # noqa: F811
    """Two PATCHes and a pipelined HEAD on one connection, through the direct reader."""
    launch = room.launch(room.student)
    data = os.urandom(3 * MIB + 12345)
    server = gunicorn()
    ticket = _start(f"http://127.0.0.1:{server.port}", launch.id, len(data))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    meta = "video_id " + base64.b64encode(str(ticket["video_id"]).encode()).decode()
    conn.request("POST", "/tus/", headers=tus_headers(launch, **{
        "Upload-Length": str(len(data)), "Upload-Metadata": meta}))
    created = conn.getresponse()
    created.read()
    path = "/tus/" + created.getheader("Location").rsplit("/", 1)[1]
    cut = MIB + 7
    # The first PATCH and a HEAD in one write: the HEAD must not be taken for body bytes.
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    fields = "".join(f"{k}: {v}\r\n" for k, v in tus_headers(launch, **{
        "Content-Type": OFFSET_OCTET_STREAM, UPLOAD_OFFSET: "0"}).items())
    raw.sendall(f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {cut}\r\n{fields}\r\n"
                .encode() + data[:cut] + f"HEAD {path} HTTP/1.1\r\nHost: x\r\n{fields}\r\n"
                .encode())
    replies = b""
    while replies.count(b"\r\n\r\n") < 2:
        chunk = raw.recv(65536)
        assert chunk, replies
        replies += chunk
    raw.close()
    patched, headed = replies.split(b"\r\n\r\n")[:2]
    assert patched.startswith(b"HTTP/1.1 204") and headed.startswith(b"HTTP/1.1 200"), replies
    assert f"Upload-Offset: {cut}".encode() in headed
    # The rest over a keep-alive connection, in two PATCHes.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for start, end in ((cut, 2 * MIB), (2 * MIB, len(data))):
        conn.request("PATCH", path, body=data[start:end], headers=tus_headers(launch, **{
            "Content-Type": OFFSET_OCTET_STREAM, UPLOAD_OFFSET: str(start)}))
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 204 and int(resp.getheader(UPLOAD_OFFSET)) == end
    conn.close()
    assert sha256_of(_stored_file(app, ticket["video_id"])) == hashlib.sha256(data).hexdigest()
