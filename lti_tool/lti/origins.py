"""The browser origins that belong to an LMS registration, and checks of URLs against them.

An origin is `scheme://host[:port]` (RFC 6454), written as a CSP source expression; a
wildcard `https://*.example.com` stands for every host below that domain over https (and
matches nothing else, as in CSP). Two things use them: the deep-linking return URL must be
on one (Deep Linking 2.0, 4.4: the tool auto-posts its response there, so a `javascript:`
or foreign URL would run script or leak the JWT), and the CSP's frame-ancestors and
form-action list them (lti_tool/csp.py).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lti_tool.errors import LaunchError
from lti_tool.models import Platform

HTTPS = "https"
HTTP = "http"
DEFAULT_PORTS = {HTTPS: 443, HTTP: 80}
WILDCARD_PREFIX = "https://*."
LOOPBACK_NAMES = frozenset({"localhost"})
# DNS names as CSP host-sources allow them: letters, digits, hyphens, dot-separated.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
MAX_RETURN_URL_LENGTH = 2048
SHOWN_URL_LENGTH = 120
ORIGINS_COMMAND = "flask --app wsgi platforms origins add"


@dataclass(frozen=True)
class HostedVendor:
    """An LMS sold as a service whose schools' pages live on per-school hosts of one domain."""

    name: str
    product_families: frozenset[str]  # product_family_code values (lowercase)
    issuers: frozenset[str]  # issuers shared by every school of the service
    origins: tuple[str, ...]  # wildcards covering the schools' hosts


# The one table of vendor wildcards: a registration of such a vendor frames the tool and
# receives deep links from its schools' own hosts, not from its issuer's host.
HOSTED_VENDORS: tuple[HostedVendor, ...] = (
    HostedVendor("canvas", frozenset({"canvas"}),
                 frozenset({"https://canvas.instructure.com", "https://canvas.beta.instructure.com",
                            "https://canvas.test.instructure.com"}),
                 ("https://*.instructure.com",)),
    HostedVendor("blackboard", frozenset({"blackboard", "blackboardlearn"}),
                 frozenset({"https://blackboard.com"}),
                 ("https://*.blackboard.com",)),
    HostedVendor("brightspace", frozenset({"brightspace", "desire2learn", "d2l"}),
                 frozenset(),
                 ("https://*.brightspace.com", "https://*.desire2learn.com")),
)


def _host(raw: str | None) -> str | None:
    """Return a host as a CSP host-source writes it (lowercase; IPv6 in brackets), or None."""
    if not raw:
        return None
    host = raw.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host if host.isascii() and _HOSTNAME.match(host) else None
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def normalize_origin(url: str | None) -> str | None:
    """Return the http(s) origin of a URL (no default port), or None when it has none."""
    if not isinstance(url, str) or not url or any(c.isspace() or ord(c) < 0x20 for c in url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or "@" in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = _host(parts.hostname)
    if host is None:
        return None
    suffix = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def normalize_pattern(value: str | None) -> str | None:
    """Return an origin or an `https://*.domain` wildcard in canonical form, or None."""
    value = (value or "").strip()
    if value.lower().startswith(WILDCARD_PREFIX):
        domain = _host(value[len(WILDCARD_PREFIX):].rstrip("/"))
        # At least two labels below the wildcard: never https://*.com.
        if domain is None or domain.startswith("[") or "." not in domain:
            return None
        return WILDCARD_PREFIX + domain
    origin = normalize_origin(value)
    if origin is None or urlsplit(value).path not in ("", "/"):
        return None
    return origin


def origin_matches(origin: str, pattern: str) -> bool:
    """Tell whether an origin is `pattern`, or a host below a wildcard's domain over https."""
    if pattern.startswith(WILDCARD_PREFIX):
        prefix = f"{HTTPS}://"
        host = origin[len(prefix):] if origin.startswith(prefix) else ""
        return ":" not in host and host.endswith("." + pattern[len(WILDCARD_PREFIX):])
    return origin == pattern


def vendor_origins(platform: Platform) -> tuple[str, ...]:
    """Return the hosted-vendor wildcards that belong to this registration, if any."""
    family = (platform.product_family or "").strip().lower()
    issuer = normalize_origin(platform.issuer)
    origins: tuple[str, ...] = ()
    for vendor in HOSTED_VENDORS:
        if family in vendor.product_families or issuer in vendor.issuers:
            origins += vendor.origins
    return origins


def _registration_endpoint(platform: Platform) -> str | None:
    config = (platform.registration_data or {}).get("openid_configuration")
    return config.get("registration_endpoint") if isinstance(config, dict) else None


def origin_inputs(platform: Platform) -> tuple:
    """Return what platform_origins reads of a registration (a key to remember it by)."""
    extras = platform.extra_origins or []
    return (platform.issuer, platform.auth_login_url, platform.auth_token_url,
            platform.key_set_url, _registration_endpoint(platform),
            tuple(e for e in extras if isinstance(e, str)), platform.product_family)


def platform_origins(platform: Platform) -> list[str]:
    """Return every origin that belongs to a registration: its URLs, extras, vendor wildcards."""
    urls = (platform.issuer, platform.auth_login_url, platform.auth_token_url,
            platform.key_set_url, _registration_endpoint(platform))
    found = [normalize_origin(url) for url in urls]
    found += [normalize_pattern(extra) for extra in (platform.extra_origins or [])
              if isinstance(extra, str)]
    found += vendor_origins(platform)
    return list(dict.fromkeys(o for o in found if o))


def is_loopback_host(host: str | None) -> bool:
    """Tell whether a host name or address is this machine (127.0.0.0/8, ::1, localhost)."""
    if not host:
        return False
    host = host.lower().strip("[]").rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReturnUrlRefused(LaunchError):
    """The platform's deep_link_return_url is not a safe address of that platform."""

    code = "deep_link_return_url_refused"
    title = "The LMS's return address was refused"


def _has_valid_port(parts) -> bool:
    try:
        parts.port  # noqa: B018  (urllib checks the port when it is read)
    except ValueError:
        return False
    return True


def _shown(url: object) -> str:
    text = repr(url)
    return text if len(text) <= SHOWN_URL_LENGTH else text[:SHOWN_URL_LENGTH] + "…'"


def check_return_url(url: object, platform: Platform, *, allow_loopback: bool) -> str:
    """Return the deep-linking return URL when it is safe to post to, else raise ReturnUrlRefused.

    Safe: https (http only to a loopback host when `allow_loopback`), no user name, no
    spaces, control characters or backslashes (browsers and parsers read those differently),
    and an origin that belongs to the registration (platform_origins).
    """
    where = f"LMS registration {platform.id} (issuer {platform.issuer})"
    plain_hint = ("Ask the LMS administrator to check the tool's deep linking settings: the "
                  "tool sends new activities back only to https addresses of the LMS.")
    if not isinstance(url, str) or not url:
        raise ReturnUrlRefused(f"The {where} sent no address to send the new activity back to "
                               "(deep_link_return_url).", hint=plain_hint)
    if (len(url) > MAX_RETURN_URL_LENGTH or "\\" in url
            or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url)):
        raise ReturnUrlRefused(f"The return address {_shown(url)} sent by the {where} contains "
                               "spaces, control characters or backslashes, or is too long; the "
                               "tool does not send the new activity there.", hint=plain_hint)
    parts = urlsplit(url)
    if not parts.hostname or not _has_valid_port(parts):
        raise ReturnUrlRefused(f"The return address {_shown(url)} sent by the {where} is not a "
                               "web address; the tool does not send the new activity there.",
                               hint=plain_hint)
    if "@" in parts.netloc:
        raise ReturnUrlRefused(f"The return address {_shown(url)} sent by the {where} carries a "
                               "user name or password; the tool does not send the new activity "
                               "there.", hint=plain_hint)
    loopback_http = (parts.scheme == HTTP and allow_loopback
                     and is_loopback_host(parts.hostname))
    if parts.scheme != HTTPS and not loopback_http:
        raise ReturnUrlRefused(f"The return address {_shown(url)} sent by the {where} is not an "
                               "https address; the tool does not send the new activity there.",
                               hint=plain_hint)
    origin = normalize_origin(url)
    if origin is None:
        raise ReturnUrlRefused(f"The return address {_shown(url)} sent by the {where} has a host "
                               "name the tool cannot accept.", hint=plain_hint)
    if not any(origin_matches(origin, pattern) for pattern in platform_origins(platform)):
        raise ReturnUrlRefused(
            f"The return address {_shown(url)} sent by the {where} is not on an address of that "
            f"LMS ({origin} is not among its registered origins), so the tool does not send the "
            "new activity there.",
            hint=f"If this address really belongs to the LMS, a tool administrator can allow "
                 f"it with `{ORIGINS_COMMAND} {platform.id} {origin}`.")
    return url
