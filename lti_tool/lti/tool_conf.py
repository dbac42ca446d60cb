"""Registrations from our database for pylti1p3, and the platforms' public keys (cached).

Registrations are keyed by (issuer, client_id); deployments by deployment_id under them.
Lookups go through lti_tool.lti.registry, which keeps them per process.
"""
from __future__ import annotations

import logging
import threading
import typing as t
from datetime import timedelta

from flask import current_app
from pylti1p3.contrib.flask import FlaskRequest
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract

from lti_tool import outbound
from lti_tool.errors import LaunchError
from lti_tool.extensions import db
from lti_tool.lti import keys, registry
from lti_tool.lti.registry import CachedDeployment, CachedPlatform
from lti_tool.models import Platform, utcnow
from lti_tool.web.request_input import string_problem
from lti_tool.web.urls import public_url

log = logging.getLogger(__name__)

# An unknown kid triggers a refetch of the platform's JWKS, but not more often than this,
# so forged tokens with random kids cannot make us hammer the platform.
JWKS_MIN_REFETCH_SECONDS = 10
# The columns that keep a registration's issuer and client id.
MAX_ISSUER_CHARS = 512
MAX_CLIENT_ID_CHARS = 255


class NotRegistered(LaunchError):
    """The launch comes from an LMS registration the tool does not know."""

    http_status = 403
    code = "platform_not_registered"
    title = "This LMS is not registered with the tool"


def not_registered(issuer: str, client_id: str | None) -> NotRegistered:
    """Build the refusal for an unknown (issuer, client id), telling where to register."""
    who = f"issuer {issuer}" + (f", client id {client_id}" if client_id else "")
    return NotRegistered(
        f"This LMS ({who}) is not registered with the tool. An administrator can register it "
        f"at {public_url('lti.tool_configuration')}",
        hint="Use LTI Advantage dynamic registration with the registration URL shown there, "
             "or register it by hand with `flask --app wsgi platforms add`.")


def find_platform(issuer: str | None, client_id: str | None) -> CachedPlatform:
    """Return the active registration for (issuer, client_id), or raise a clear LaunchError.

    Without a client id (Moodle may omit it at login) the issuer must have one registration.
    """
    if not issuer:
        raise LaunchError("The LMS did not say who it is (no `iss` parameter or claim).")
    for name, value, limit in (("iss", issuer, MAX_ISSUER_CHARS),
                               ("client_id", client_id, MAX_CLIENT_ID_CHARS)):
        if value is not None and (not isinstance(value, str) or len(value) > limit
                                  or string_problem(value)):
            raise LaunchError(f"The LMS's `{name}` is not a text of at most {limit} characters "
                              "without NUL.", code="malformed_claim")
    found = registry.platforms_for(issuer, client_id)
    if not found:
        raise not_registered(issuer, client_id)
    if len(found) > 1:
        raise LaunchError(
            f"The LMS {issuer} has several registrations with this tool and did not send its "
            "client id, so the tool cannot tell which one is meant.",
            hint="Set the tool's login URL in the LMS to the per-registration login URL shown "
                 "by `flask --app wsgi platforms list`.")
    platform = found[0]
    if not platform.active:
        raise LaunchError(f"The registration of {issuer} (client id {platform.client_id}) has "
                          "been disabled by the tool's administrator.", http_status=403)
    return platform


def to_registration(platform: CachedPlatform) -> Registration:
    """Return pylti1p3's view of one registration, with the tool's current signing key."""
    _kid, private_pem = keys.signing_key()
    reg = (Registration().set_issuer(platform.issuer).set_client_id(platform.client_id)
           .set_auth_login_url(platform.auth_login_url)
           .set_auth_token_url(platform.auth_token_url)
           .set_key_set_url(platform.key_set_url)
           .set_tool_private_key(private_pem.decode()))
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    if platform.jwks_cache:
        reg.set_key_set(platform.jwks_cache)
    return reg


class DbToolConf(ToolConfAbstract[FlaskRequest]):
    """pylti1p3 tool configuration backed by the Platform and Deployment tables.

    `platform` pins the registration when the login came through a per-registration URL.
    """

    def __init__(self, platform: CachedPlatform | None = None):
        self.platform = platform

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> CachedPlatform:
        """Return the registration meant by (iss, client_id), honouring a pinned one."""
        if self.platform is None:
            return find_platform(iss, client_id)
        if iss != self.platform.issuer or (client_id and client_id != self.platform.client_id):
            raise LaunchError(
                f"This login URL belongs to the registration of {self.platform.issuer} "
                f"(client id {self.platform.client_id}), but the login came from {iss}"
                + (f" with client id {client_id}" if client_id else "") + ".",
                hint="Check the tool's login URL configured in the LMS.")
        return self.platform

    def find_registration_by_issuer(self, iss: str, *args, **kwargs) -> Registration:
        return to_registration(self.find_platform(iss, None))

    def find_registration_by_params(self, iss: str, client_id: str, *args,
                                    **kwargs) -> Registration:
        return to_registration(self.find_platform(iss, client_id))

    def find_deployment(self, iss: str, deployment_id: str) -> t.Optional[LtiDeployment]:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None,
                                  *args, **kwargs) -> t.Optional[LtiDeployment]:
        platform = self.find_platform(iss, client_id)
        row = find_deployment(platform, deployment_id)
        return LtiDeployment().set_deployment_id(row.deployment_id) if row else None

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs):
        return keys.public_jwks()


def find_deployment(platform: CachedPlatform, deployment_id: str) -> CachedDeployment | None:
    """Return the known deployment of a registration, or None."""
    return platform.deployment(deployment_id)


# ---- the platform's public keys ----
def _jwk_by_kid(jwks: dict | None, kid: str) -> dict | None:
    for jwk in (jwks or {}).get("keys", []):
        if isinstance(jwk, dict) and jwk.get("kid") == kid:
            return jwk
    return None


def fetch_platform_jwks(platform: Platform) -> dict:
    """Download the platform's JWKS, cache it on the registration (committed), return it.

    A launch asks for this before it is validated, so the call holds one of the slots for
    unauthenticated requests (lti_tool.outbound).
    """
    url = platform.key_set_url
    try:
        with outbound.unauthenticated_slot():
            resp = outbound.request("GET", url, headers={"Accept": "application/json"})
    except outbound.OutboundBusy as busy:
        raise LaunchError(f"{busy.message} (downloading the LMS's public keys)", code="busy",
                          http_status=503,
                          headers={"Retry-After": str(busy.retry_after)}) from None
    except outbound.OutboundError as exc:
        raise LaunchError(f"The tool could not download the LMS's public keys from {url}: "
                          f"{exc.message}",
                          hint="Check the registration's key set URL and that the tool can "
                               "reach the LMS.") from None
    if resp.status_code != 200:
        raise LaunchError(f"The tool could not download the LMS's public keys from {url} "
                          f"(HTTP {resp.status_code}).",
                          hint="Check the registration's key set URL and that the tool can "
                               "reach the LMS.")
    try:
        jwks = resp.json()
    except ValueError:
        raise LaunchError(f"The LMS's key set URL {url} did not answer with JSON.") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise LaunchError(f"The LMS's key set URL {url} did not answer with a JWKS "
                          "(an object with a `keys` list).")
    platform.jwks_cache = jwks
    platform.jwks_fetched_at = utcnow()
    db.session.commit()
    log.info("fetched JWKS of platform %s (%d keys)", platform.id, len(jwks["keys"]))
    return jwks


# One download of a platform's keys at a time per process: a class launching together when
# the cache has expired waits for one fetch instead of sending one each (and filling the
# slots for unauthenticated calls).
_FETCH_LOCKS: dict[int, threading.Lock] = {}
_FETCH_LOCKS_GUARD = threading.Lock()


def _fetch_lock(platform_id: int) -> threading.Lock:
    with _FETCH_LOCKS_GUARD:
        return _FETCH_LOCKS.setdefault(platform_id, threading.Lock())


def refetched_jwks(platform: CachedPlatform) -> tuple[dict, object]:
    """Download the platform's keys, unless another request just did; return them and when.

    Committing the new keys changes the registration, so every process drops its copy
    (lti_tool.lti.registry).
    """
    seen = platform.jwks_fetched_at  # what this request judged stale or lacking a key
    lock = _fetch_lock(platform.id)
    wait = float(current_app.config["OUTBOUND_TIMEOUT_SECONDS"]) + 1
    if not lock.acquire(timeout=wait):
        raise LaunchError("The tool is busy downloading the LMS's public keys; try again in a "
                          "few seconds.", code="busy", http_status=503,
                          headers={"Retry-After": "5"})
    try:
        row = db.session.get(Platform, platform.id, populate_existing=True)
        if row is None:
            raise not_registered(platform.issuer, platform.client_id)
        if row.jwks_fetched_at is not None and (seen is None or row.jwks_fetched_at > seen):
            return row.jwks_cache, row.jwks_fetched_at  # fetched since this one looked
        jwks = fetch_platform_jwks(row)
        return jwks, row.jwks_fetched_at
    finally:
        lock.release()


def platform_jwk(platform: CachedPlatform, kid: str) -> dict:
    """Return the platform's public JWK with this kid, from cache or (re)fetched.

    The cache lives LTI_PLATFORM_JWKS_TTL_SECONDS; an unknown kid forces a refetch, since
    platforms rotate keys (1EdTech Security Framework 1.0, section 6.3 and 6.4).
    """
    now = utcnow()
    ttl = timedelta(seconds=current_app.config["LTI_PLATFORM_JWKS_TTL_SECONDS"])
    fetched = platform.jwks_fetched_at
    fresh = fetched is not None and now - fetched < ttl
    if not fresh:
        jwks, fetched = refetched_jwks(platform)
    else:
        jwks = platform.jwks_cache
    jwk = _jwk_by_kid(jwks, kid)
    recently = (fetched is not None and
                now - fetched < timedelta(seconds=JWKS_MIN_REFETCH_SECONDS))
    if jwk is None and fresh and not recently:
        jwk = _jwk_by_kid(refetched_jwks(platform)[0], kid)
    if jwk is None:
        raise LaunchError(
            f"The launch was signed with key id {kid!r}, which is not in the LMS's public key "
            f"set at {platform.key_set_url}.",
            hint="The LMS may have rotated its keys or the registration points at another "
                 "site's key set URL.")
    return jwk
