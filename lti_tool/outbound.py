"""Every HTTP request the tool makes goes through here: address policy, deadline, size cap.

An LMS registers itself by giving the tool URLs, so every outgoing call may aim at a place an
attacker chose. This module is the one way the tool calls out with `requests`:

- the host is resolved once; if ANY of its addresses is loopback, private, link-local,
  multicast, reserved or unspecified (also inside IPv4-mapped, 6to4 and NAT64 IPv6 forms),
  the call is refused before a connection is made, unless OUTBOUND_ALLOW_LOOPBACK (127.0.0.0/8
  and ::1) or OUTBOUND_ALLOWED_NETWORKS allow it;
- the socket connects to the address that was checked (DNS rebinding cannot switch it), while
  Host, SNI and the certificate check keep the host name;
- redirects are never followed (a 3xx is an OutboundRedirect);
- each call has a total deadline (connect, TLS, headers and body together: a watchdog shuts
  the socket down when it passes) and a maximum response size;
- proxies from the environment are ignored, so no CONNECT tunnel is used;
- calls made for unauthenticated requests share a small per-process bound
  (OUTBOUND_UNAUTHENTICATED_CONCURRENCY): past it, OutboundBusy at once, never a queue.

Errors are our own (OutboundError and subclasses); their messages name the host, never the
remote body. Why not a library: docs/architecture.md.
"""
from __future__ import annotations

import email.utils
import ipaddress
import logging
import os
import random
import re
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

import requests
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import PoolManager

log = logging.getLogger(__name__)

MIB = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_MAX_RESPONSE_BYTES = 1 * MIB
DEFAULT_UNAUTHENTICATED_CONCURRENCY = 4
READ_CHUNK_BYTES = 64 * 1024
# Told to a caller turned away by the unauthenticated bound.
BUSY_RETRY_AFTER_SECONDS = 10
SETTINGS_HINT = ("An administrator of the tool can allow an intranet address with "
                 "OUTBOUND_ALLOWED_NETWORKS (see docs/lms-setup.md).")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the last 32 bits are an IPv4.
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_EXT_KEY = "lti_tool.outbound"


# ---- errors ----
class OutboundError(Exception):
    """An outgoing call failed; the message names the host, never what the remote sent."""

    retryable = True

    def __init__(self, message: str, *, host: str | None = None):
        super().__init__(message)
        self.message = message
        self.host = host


class OutboundRefused(OutboundError):
    """The address policy forbids this host (or a proxy was asked for)."""

    retryable = False


class OutboundTimeout(OutboundError):
    """The call did not finish within its total deadline."""


class OutboundTooLarge(OutboundError):
    """The answer was larger than the call's maximum size."""

    retryable = False


class OutboundRedirect(OutboundError):
    """The server answered with a redirect, which the tool never follows."""

    retryable = False

    def __init__(self, message: str, *, host: str | None = None, status: int = 0):
        super().__init__(message, host=host)
        self.status = status


class OutboundBusy(OutboundError):
    """Too many calls for unauthenticated requests are in flight in this process."""

    retry_after = BUSY_RETRY_AFTER_SECONDS


# ---- the address policy ----
def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    """Return what makes an address internal ("loopback", "private", ...), or None."""
    checks = (("loopback", address.is_loopback), ("unspecified", address.is_unspecified),
              ("link-local", address.is_link_local), ("multicast", address.is_multicast),
              ("private", address.is_private), ("reserved", address.is_reserved),
              ("site-local", getattr(address, "is_site_local", False)),
              ("non-public", not address.is_global))
    return next((name for name, hit in checks if hit), None)


class AddressPolicy:
    """Which addresses the tool may connect to: public ones, plus what the settings allow."""

    def __init__(self, allow_loopback: bool = False, allowed_networks: tuple[IPNetwork, ...] = ()):
        self.allow_loopback = allow_loopback
        self.allowed_networks = tuple(allowed_networks)

    def __repr__(self) -> str:
        return (f"<AddressPolicy loopback={self.allow_loopback} "
                f"allowed={[str(n) for n in self.allowed_networks]}>")

    def _allowed(self, address: IPAddress) -> bool:
        if self.allow_loopback and any(address in net for net in LOOPBACK_NETWORKS):
            return True
        return any(address in net for net in self.allowed_networks)

    def refusal(self, address: IPAddress) -> str | None:
        """Return why the tool must not connect to this address, or None when it may."""
        inner = _embedded_ipv4(address)
        target = inner or address
        if self._allowed(target) or self._allowed(address):
            return None
        return _kind(target) if inner is not None else _kind(address)

    def resolve(self, host: str, port: int) -> list[tuple]:
        """Resolve host once and return its addresses; refuse if any one is forbidden."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise OutboundError(f"The name {host} could not be resolved.", host=host) from None
        checked, seen = [], set()
        for family, type_, proto, _canon, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            why = self.refusal(address)
            if why:
                log.warning("outbound call to %s refused: it resolves to %s, a %s address "
                            "(OUTBOUND_ALLOW_LOOPBACK / OUTBOUND_ALLOWED_NETWORKS allow some)",
                            host, address, why)
                raise OutboundRefused(
                    f"The tool does not connect to {host}: it is a {why} address, not a "
                    "public one.", host=host)
            if (family, sockaddr) not in seen:
                seen.add((family, sockaddr))
                checked.append((family, type_, proto, sockaddr))
        if not checked:
            raise OutboundError(f"The name {host} has no address.", host=host)
        return checked


def parse_networks(value: str | list | tuple | None) -> tuple[IPNetwork, ...]:
    """Parse OUTBOUND_ALLOWED_NETWORKS (comma-separated CIDRs, or a list); raise ValueError."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    networks = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"OUTBOUND_ALLOWED_NETWORKS: {text!r} is not an IP network "
                             "(write CIDRs such as 10.20.0.0/16, comma-separated).") from None
    return tuple(networks)


@lru_cache(maxsize=32)
def _policy(allow_loopback: bool, networks: str) -> AddressPolicy:
    return AddressPolicy(allow_loopback, parse_networks(networks))


def policy_from(config: Mapping[str, Any]) -> AddressPolicy:
    """Return the address policy the settings describe."""
    networks = config.get("OUTBOUND_ALLOWED_NETWORKS") or ""
    if not isinstance(networks, str):
        networks = ",".join(str(n) for n in networks)
    return _policy(bool(config.get("OUTBOUND_ALLOW_LOOPBACK")), networks)


# ---- the deadline watchdog ----
class _Deadline:
    """One call's total deadline: when it passes, the call's sockets are shut down."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: dict[int, socket.socket] = {}
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        """Shut this socket down when the deadline passes (a duplicate fd, so TLS is fine)."""
        with self._lock:
            if sock.fileno() < 0 or id(sock) in self._watched:
                return
            handle = socket.fromfd(sock.fileno(), sock.family, sock.type)
            self._watched[id(sock)] = handle
            if self.expired:
                _shutdown(handle)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for handle in self._watched.values():
                _shutdown(handle)

    def __enter__(self) -> "_Deadline":
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _current.deadline = None
        with self._lock:
            for handle in self._watched.values():
                handle.close()
            self._watched.clear()


def _shutdown(handle: socket.socket) -> None:
    try:
        handle.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


_current = threading.local()


def _current_deadline() -> _Deadline | None:
    return getattr(_current, "deadline", None)


# ---- connections pinned to checked addresses ----
class _PinnedConnectionMixin:
    """Connect to an address the policy checked, resolved once, within the deadline."""

    def __init__(self, *args, address_policy: AddressPolicy, **kwargs):
        self._address_policy = address_policy
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        addresses = self._address_policy.resolve(self._dns_host, self.port)
        deadline = _current_deadline()
        error: OSError | None = None
        for family, type_, proto, sockaddr in addresses:
            timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
            if deadline is not None:
                left = deadline.remaining()
                if left <= 0:
                    break
                timeout = min(timeout, left) if timeout is not None else left
            sock = socket.socket(family, type_, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            if deadline is not None:
                deadline.watch(sock)
            return sock
        if isinstance(error, socket.timeout) or error is None:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.")
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    def request(self, *args, **kwargs):
        deadline = _current_deadline()
        if deadline is not None and self.sock is not None:  # a kept-alive connection
            deadline.watch(self.sock)
        return super().request(*args, **kwargs)


class PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    """An HTTP connection to a checked address."""


class PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    """An HTTPS connection to a checked address; SNI and certificate check use the name."""


class _PinnedPoolManager(PoolManager):
    def __init__(self, policy: AddressPolicy, **kwargs):
        self.address_policy = policy
        super().__init__(**kwargs)

    def _new_pool(self, scheme, host, port, request_context=None):
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
        pool.conn_kw["address_policy"] = self.address_policy
        return pool


class PinnedAdapter(HTTPAdapter):
    """A transport adapter whose connections go only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, **kwargs):
        self.address_policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _PinnedPoolManager(self.address_policy, num_pools=connections,
                                              maxsize=maxsize, block=block, **pool_kwargs)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise OutboundRefused("The tool makes no outgoing call through a proxy.")


# ---- the session ----
class OutboundSession(requests.Session):
    """A requests session that obeys the address policy, deadlines and size caps.

    `request` takes `timeout` as the call's TOTAL deadline in seconds and `max_bytes` as the
    largest answer it accepts; the body is read in full before it returns.
    """

    def __init__(self, policy: AddressPolicy, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES):
        super().__init__()
        self.trust_env = False  # no proxies (CONNECT tunnels) or .netrc from the environment
        self.max_redirects = 0
        # trust_env off would drop a site's own CA bundle too; keep that one.
        self.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
        self.default_timeout = float(timeout)
        self.default_max_bytes = int(max_bytes)
        adapter = PinnedAdapter(policy)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def get_redirect_target(self, resp: requests.Response) -> None:
        """Follow no redirect (requests would read a redirect's whole body, uncapped)."""
        return None

    def request(self, method: str, url: str, *args, timeout: float | None = None,
                max_bytes: int | None = None, **kwargs) -> requests.Response:
        """Send one request and read its answer within the deadline and the size cap."""
        seconds = self.default_timeout if timeout is None else float(timeout)
        limit = self.default_max_bytes if max_bytes is None else int(max_bytes)
        host = urlsplit(url).hostname or url
        kwargs.update(allow_redirects=False, stream=True, proxies={})
        with _Deadline(seconds) as deadline:
            try:
                resp = super().request(method, url, *args, timeout=(seconds, seconds), **kwargs)
                try:
                    _refuse_redirect(resp, host)
                    resp._content = _read_capped(resp, limit, host)  # noqa: SLF001  (see below)
                finally:
                    resp.close()  # releases the connection (back to the pool once read)
            except OutboundError:
                raise
            except requests.Timeout:
                raise _timed_out(host, seconds) from None
            except (requests.RequestException, OSError) as exc:
                if deadline.expired:
                    raise _timed_out(host, seconds) from None
                raise OutboundError(f"The tool could not reach {host} ({type(exc).__name__}).",
                                    host=host) from None
            if deadline.expired:  # the watchdog cut a body that had no length
                raise _timed_out(host, seconds)
        # requests keeps a read body in `_content`; filling it lets callers use .json(),
        # .text and .content as usual on a body we read ourselves under the cap.
        resp._content_consumed = True  # noqa: SLF001
        return resp


def _timed_out(host: str, seconds: float) -> OutboundTimeout:
    return OutboundTimeout(f"{host} did not answer within {seconds:g} seconds.", host=host)


def _refuse_redirect(resp: requests.Response, host: str) -> None:
    if 300 <= resp.status_code < 400:
        raise OutboundRedirect(f"{host} answered with a redirect (HTTP {resp.status_code}); "
                               "the tool follows no redirects.", host=host,
                               status=resp.status_code)


def _read_capped(resp: requests.Response, limit: int, host: str) -> bytes:
    """Read the whole body, refusing it as soon as it passes `limit` bytes (decoded)."""
    too_large = OutboundTooLarge(f"{host} answered with more than {limit} bytes.", host=host)
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    for chunk in resp.iter_content(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


# ---- the app's calls ----
def session(config: Mapping[str, Any], *, timeout: float | None = None,
            max_bytes: int | None = None) -> OutboundSession:
    """Return a session for these settings (for clients that keep one, like Cloudflare's)."""
    return OutboundSession(
        policy_from(config),
        timeout=timeout if timeout is not None else config.get("OUTBOUND_TIMEOUT_SECONDS",
                                                               DEFAULT_TIMEOUT_SECONDS),
        max_bytes=max_bytes if max_bytes is not None else config.get(
            "OUTBOUND_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES))


def request(method: str, url: str, *, timeout: float | None = None,
            max_bytes: int | None = None, **kwargs) -> requests.Response:
    """Make one outgoing call under the app's policy; `timeout` is the total deadline."""
    with session(current_app.config, timeout=timeout, max_bytes=max_bytes) as once:
        return once.request(method, url, **kwargs)


@contextmanager
def unauthenticated_slot() -> Iterator[None]:
    """Hold one of this process's slots for calls made for an unauthenticated request."""
    slots: threading.BoundedSemaphore = current_app.extensions[_EXT_KEY]
    if not slots.acquire(blocking=False):
        log.warning("outbound calls for unauthenticated requests are at their bound "
                    "(OUTBOUND_UNAUTHENTICATED_CONCURRENCY=%s): request turned away",
                    current_app.config.get("OUTBOUND_UNAUTHENTICATED_CONCURRENCY"))
        raise OutboundBusy("The tool is busy with other LMS requests; try again in a few "
                           "seconds.")
    try:
        yield
    finally:
        slots.release()


def init_app(app: Flask) -> None:
    """Check the outbound settings at start-up and make this app's unauthenticated bound."""
    policy_from(app.config)  # a bad OUTBOUND_ALLOWED_NETWORKS stops the start, clearly
    bound = int(app.config.get("OUTBOUND_UNAUTHENTICATED_CONCURRENCY",
                               DEFAULT_UNAUTHENTICATED_CONCURRENCY))
    if bound < 1:
        raise ValueError("OUTBOUND_UNAUTHENTICATED_CONCURRENCY must be 1 or more.")
    app.extensions[_EXT_KEY] = threading.BoundedSemaphore(bound)


# ---- answers ----
_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a Retry-After header asks to wait (RFC 9110 10.2.3), or None.

    It is delta-seconds (ASCII digits only) or an HTTP date; anything else — other digits,
    signs, NaN, a date that cannot be read — is no answer rather than an error.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def backoff_delay(attempt: int, base_seconds: float, max_seconds: float) -> float:
    """Return how long to wait before retry number `attempt` (0 for the first retry):
    exponential from `base_seconds`, capped at `max_seconds`, with jitter over the upper
    half so that clients that failed together do not retry together."""
    ceiling = min(max_seconds, base_seconds * 2 ** max(0, attempt))
    return random.uniform(ceiling / 2, ceiling)
