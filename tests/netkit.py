"""Small servers on loopback for tests of the tool's outgoing calls.

`TcpServer` listens on a loopback address, counts the connections it accepts, reads each
request's head (kept in `heads`) and hands the connection to a `serve(conn, head)` function in
a thread, which writes the answer. The functions below answer as an ordinary server, a
redirect, a trickle (one byte a second, in the body or in the headers), or a large body.
Everything stays on 127.0.0.0/8 or ::1; nothing here reaches another address.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from typing import Callable

import pytest

HEAD_END = b"\r\n\r\n"
Serve = Callable[[socket.socket, bytes], None]  # writes the answer to a request (its head)


def read_request(conn: socket.socket) -> bytes:
    """Read one request's head and body (by Content-Length) and return the head."""
    conn.settimeout(10)
    data = b""
    while HEAD_END not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(HEAD_END)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


def response_bytes(status: int, body: bytes, headers: dict | None = None,
                   reason: str = "OK") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}",
             "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def answer(status: int = 200, body: bytes | str | dict = b"{}",
           headers: dict | None = None) -> Serve:
    """Serve one fixed answer (a dict is sent as JSON)."""
    if isinstance(body, dict):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    data = body.encode() if isinstance(body, str) else body

    def serve(conn: socket.socket, head: bytes) -> None:
        conn.sendall(response_bytes(status, data, headers))
    return serve


def route(paths: dict[str, Serve]) -> Serve:
    """Serve each path its own way (404 for others)."""
    def serve(conn: socket.socket, head: bytes) -> None:
        path = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 2 else ""
        paths.get(path.split("?", 1)[0], answer(404, b""))(conn, head)
    return serve


def redirect_to(location: str, status: int = 302) -> Serve:
    """Answer with a redirect."""
    return answer(status, b"", {"Location": location})


def trickle_body(seconds: float, every: float = 1.0) -> Serve:
    """Send the head at once, then one byte of the body every `every` seconds."""
    count = int(seconds / every)

    def serve(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % count)
        for _ in range(count):
            time.sleep(every)
            conn.sendall(b" ")
    return serve


def trickle_head(seconds: float, every: float = 1.0) -> Serve:
    """Send the status line and headers one byte every `every` seconds."""
    head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * int(seconds / every) + b"\r\n\r\n"

    def serve(conn: socket.socket, head: bytes) -> None:
        for byte in head[:int(seconds / every)]:
            conn.sendall(bytes([byte]))
            time.sleep(every)
    return serve


def endless_body(chunk: bytes = b"x" * 65536,
                 limit: int = 64 * 1024 * 1024) -> Serve:
    """Send a body without a length, fast, up to `limit` bytes (or until the client leaves)."""
    def serve(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\n\r\n")
        sent = 0
        while sent < limit:
            conn.sendall(chunk)
            sent += len(chunk)
    return serve


class TcpServer:
    """A listening socket on a loopback address that records what reaches it."""

    def __init__(self, serve: Serve | None = None,
                 host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.tls = tls
        self.server_names: list[str | None] = []  # SNI seen, with tls
        if tls is not None:
            tls.sni_callback = lambda sslsock, name, ctx: self.server_names.append(name)
        self.sock = socket.create_server((host, port), family=family)
        self.port = self.sock.getsockname()[1]
        self.serve = serve or answer()
        self.accepted = 0
        self.heads: list[bytes] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or self.host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            with conn:
                if self.tls is not None:
                    conn.settimeout(10)
                    conn = self.tls.wrap_socket(conn, server_side=True)
                head = read_request(conn)
                self.heads.append(head)
                self.serve(conn, head)
        except OSError:  # also ssl.SSLError: the client left or refused our certificate
            pass

    def close(self) -> None:
        self._closed = True
        self.sock.close()

    def __enter__(self) -> "TcpServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- a guard: tests connect to loopback only, and see every connection attempt ----
def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def connect_attempts(monkeypatch) -> list[tuple]:
    """Record every outgoing socket connect of the process; refuse any off loopback.

    So a test of the address policy proves no connection was even tried, and cannot send
    traffic to a private or public address even when the code under test is wrong.
    """
    attempts: list[tuple] = []

    class GuardedSocket(socket.socket):
        def connect(self, address):
            attempts.append(address)
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
                raise ConnectionRefusedError("tests connect to loopback only")
            return super().connect(address)

        def connect_ex(self, address):
            try:
                self.connect(address)
            except OSError as exc:
                return exc.errno or 111
            return 0

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    return attempts


def tls_context_for(hostname: str, tmp_path) -> tuple[ssl.SSLContext, str]:
    """Return a server TLS context with a self-signed certificate for `hostname`, and the
    certificate's path (for the client to trust)."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{hostname}.crt", tmp_path / f"{hostname}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx, str(cert_path)


class FakeDns:
    """Answers for some names: each lookup takes the next address, the last one repeats."""

    def __init__(self):
        self.answers: dict[str, list[str]] = {}
        self.lookups: dict[str, int] = {}

    def set(self, name: str, *addresses: str) -> None:
        self.answers[name] = list(addresses)

    def answer(self, host: str, port: int) -> list[tuple]:
        n = self.lookups.get(host, 0)
        self.lookups[host] = n + 1
        address = self.answers[host][min(n, len(self.answers[host]) - 1)]
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                     (address, port, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]


@pytest.fixture
def fake_dns(monkeypatch) -> FakeDns:
    """Resolve the names given to `fake_dns.set` as told; other names as usual."""
    dns = FakeDns()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in dns.answers:
            return dns.answer(host, port)
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dns
