"""LTI Dynamic Registration 1.0: fetch the platform's configuration, register, store the result.

Spec sections: 3.3 (registration initiation: openid_configuration, registration_token),
3.4 and 3.5.1 (platform configuration; the issuer must be on the configuration URL's origin),
3.5.2 (client registration request), 3.6 (response with client_id and deployment_id),
4 (tool configuration, incl. Moodle's requirement that `domain` carries host and port).

Registration only ever ADDS a registration: an existing (issuer, client_id) is never changed
here (an administrator does that with `flask --app wsgi platforms update`). Every call goes
through lti_tool.outbound (address policy, no redirects, total deadline, size cap), under the
per-process bound for unauthenticated requests; no remote body reaches the page.
"""
from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import SplitResult, urlsplit

from flask import current_app, url_for
from sqlalchemy.exc import IntegrityError

from lti_tool import audit, outbound
from lti_tool.audit import EventType
from lti_tool.errors import LaunchError
from lti_tool.extensions import db
from lti_tool.lti import claims as c, registration_links
from lti_tool.models import Deployment, Platform, RegistrationLink, new_token
from lti_tool.statuses import DeploymentPolicy, RegistrationMode
from lti_tool.web.urls import base_url, public_url

log = logging.getLogger(__name__)

TOOL_NAME = "Video Assignments"
TOOL_DESCRIPTION = ("Students hand in videos (up to several GB) as assignment submissions; "
                    "instructors watch, comment on and grade them.")
REQUESTED_CLAIMS = ["iss", "sub", "name", "given_name", "family_name", "email"]
REQUIRED_PLATFORM_FIELDS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                            "registration_endpoint")
PLATFORM_URL_FIELDS = ("authorization_endpoint", "token_endpoint", "jwks_uri",
                       "registration_endpoint")
# Placements: ContentArea (Moodle's activity chooser), Canvas's assignment/link selection.
DEEP_LINK_PLACEMENTS = ["ContentArea", "assignment_selection", "link_selection"]
DEFAULT_PORTS = {"http": 80, "https": 443}
# Column sizes of Platform and Deployment.
MAX_URL_CHARS = 1024
MAX_ISSUER_CHARS = 512
MAX_ID_CHARS = 255
LOOPBACK_NAMES = ("localhost",)
START_AGAIN_HINT = ("A registration link is valid once and for a short time: start the "
                    "registration again from the LMS.")
PASTE_URL_HINT = ("Paste the tool's registration URL into the LMS's dynamic registration "
                  "(\"LTI Advantage\") field; the LMS opens it with the parameters it needs.")
UPDATE_HINT = ("To change an existing registration, an administrator of the tool runs "
               "`flask --app wsgi platforms update PLATFORM_ID --login-url ... --token-url ... "
               "--jwks-url ...` (ids from `flask --app wsgi platforms list`). To register "
               "anew, delete the old tool in the LMS first: the LMS then gives a new client id.")


class RegistrationError(LaunchError):
    """Dynamic registration failed; nothing was stored."""

    code = "registration_failed"
    title = "The tool could not be registered"


class PlatformAnswerError(RegistrationError):
    """The platform answered the registration with an error or something unusable."""

    http_status = 502


class AlreadyRegistered(RegistrationError):
    """The LMS answered with a client id the tool already has: registration changes nothing."""

    http_status = 409
    code = "already_registered"

    def __init__(self, message: str, *, issuer: str, client_id: str, **kw):
        super().__init__(message, **kw)
        self.issuer = issuer
        self.client_id = client_id


@dataclass
class RegistrationResult:
    """What the admin is told after a successful registration."""

    platform: Platform
    deployment_id: str | None
    product_family: str | None


def registration_mode(config: Mapping[str, Any] | None = None) -> RegistrationMode:
    """Return who may register (LTI_REGISTRATION), refusing an unknown value clearly."""
    config = current_app.config if config is None else config
    value = config.get("LTI_REGISTRATION") or RegistrationMode.OPEN
    try:
        return RegistrationMode(value)
    except ValueError:
        raise ValueError(f"LTI_REGISTRATION must be one of "
                         f"{', '.join(m.value for m in RegistrationMode)}, not {value!r}.") \
            from None


# ---- URLs: scheme, origin ----
def _is_loopback_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, effective port) of a checked URL; host compared lower-case."""
    parts = urlsplit(url)
    return (parts.scheme.lower(), (parts.hostname or "").lower(),
            parts.port or DEFAULT_PORTS[parts.scheme.lower()])


def _shown(url: str) -> str:
    """Return a URL's origin for a message (never a remote document's text)."""
    scheme, host, port = _origin(url)
    default = DEFAULT_PORTS[scheme] == port
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if default else f":{port}")


def _split(value) -> SplitResult | None:
    """Return a URL's parts, or None when it is no string or its port is not a number."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (reading it checks it)
    except ValueError:
        return None
    return parts


def _checked_url(value, label: str, *, error: type[RegistrationError] = PlatformAnswerError,
                 hint: str | None = None) -> str:
    """Return value if it is an https URL (http only to loopback when that is allowed)."""
    parts = _split(value)
    if parts is None or parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise error(f"{label} is not an http(s) URL.", hint=hint)
    if len(value) > MAX_URL_CHARS:
        raise error(f"{label} is longer than {MAX_URL_CHARS} characters.", hint=hint)
    if parts.username is not None or parts.password is not None:
        raise error(f"{label} carries a user name or password.", hint=hint)
    if parts.scheme.lower() != "https" and not (
            current_app.config.get("OUTBOUND_ALLOW_LOOPBACK")
            and _is_loopback_host(parts.hostname)):
        raise error(f"{label} ({_shown(value)}) does not use https, which LTI 1.3 requires.",
                    hint=hint)
    return value


def _configuration_url(value: str | None) -> str:
    """Check the openid_configuration parameter (3.3)."""
    if not value:
        raise RegistrationError("The registration request has no openid_configuration "
                                "parameter.", hint=PASTE_URL_HINT)
    return _checked_url(value, "The openid_configuration parameter", error=RegistrationError,
                        hint=PASTE_URL_HINT)


# ---- calls to the platform ----
def _bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _call(method: str, url: str, what: str, **kw) -> dict:
    """Make one request to the platform and return its JSON object, or raise clearly."""
    where = _shown(url)
    try:
        resp = outbound.request(method, url, timeout=_deadline(), **kw)
    except outbound.OutboundRefused:
        raise RegistrationError(
            f"The tool does not connect to the {what} at {where}: it is not a public "
            "address.", code="address_refused", http_status=400,
            hint=outbound.SETTINGS_HINT) from None
    except outbound.OutboundTimeout:
        raise PlatformAnswerError(f"The LMS did not answer the {what} at {where} within "
                                  f"{_deadline():g} seconds.") from None
    except outbound.OutboundRedirect as err:
        raise PlatformAnswerError(
            f"The LMS answered the {what} at {where} with a redirect (HTTP {err.status}); "
            "the tool follows no redirect during registration.",
            hint="Give the LMS's own URL (https, its final address).") from None
    except outbound.OutboundTooLarge:
        raise PlatformAnswerError(f"The LMS's answer to the {what} at {where} is too "
                                  "large.") from None
    except outbound.OutboundError:
        raise PlatformAnswerError(f"The tool could not reach the {what} at {where}.") from None
    if resp.status_code >= 400:
        raise PlatformAnswerError(
            f"The LMS refused the {what} at {where} with HTTP {resp.status_code}.",
            hint=START_AGAIN_HINT)
    try:
        body = resp.json()
    except ValueError:
        raise PlatformAnswerError(f"The LMS's {what} at {where} did not answer with JSON.") \
            from None
    if not isinstance(body, dict):
        raise PlatformAnswerError(f"The LMS's {what} at {where} did not answer with a JSON "
                                  "object.")
    return body


def _deadline() -> float:
    return float(current_app.config.get("OUTBOUND_TIMEOUT_SECONDS",
                                        outbound.DEFAULT_TIMEOUT_SECONDS))


def fetch_platform_configuration(config_url: str, token: str | None) -> dict:
    """Fetch and check the platform's OpenID configuration (3.4, 3.5.1)."""
    config = _call("GET", config_url, "OpenID configuration",
                   headers={"Accept": "application/json", **_bearer(token)})
    missing = [f for f in REQUIRED_PLATFORM_FIELDS if not config.get(f)]
    if missing:
        raise PlatformAnswerError(f"The LMS's OpenID configuration lacks {', '.join(missing)}.")
    issuer = _checked_url(config["issuer"], "The LMS's issuer")
    if len(issuer) > MAX_ISSUER_CHARS:
        raise PlatformAnswerError(f"The LMS's issuer is longer than {MAX_ISSUER_CHARS} "
                                  "characters.")
    if _origin(issuer) != _origin(config_url):
        raise PlatformAnswerError(
            f"The LMS's issuer {_shown(issuer)} is not on the host of its configuration URL "
            f"{_shown(config_url)} (scheme, host and port must match); the tool refuses it "
            "(Dynamic Registration 3.5.1).")
    algs = config.get("id_token_signing_alg_values_supported")
    if algs is not None and (not isinstance(algs, list) or "RS256" not in algs):
        raise PlatformAnswerError("The LMS does not sign with RS256, which LTI 1.3 requires.")
    for field in PLATFORM_URL_FIELDS:
        _checked_url(config[field], f"The LMS's {field}")
    if _origin(config["registration_endpoint"]) != _origin(config_url):
        raise PlatformAnswerError(
            f"The LMS's registration_endpoint {_shown(config['registration_endpoint'])} is not "
            f"on the origin of its configuration URL {_shown(config_url)}; the tool refuses it.")
    return config


def client_registration(login_url: str) -> dict:
    """Return the tool's client registration request body (3.5.2 and 4)."""
    launch_url = public_url("lti.launch")
    message = {"target_link_uri": launch_url}
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": login_url,
        "redirect_uris": [launch_url],
        "client_name": TOOL_NAME,
        "jwks_uri": public_url("lti.jwks"),
        "logo_uri": base_url() + url_for("static", filename="img/lti-logo.svg"),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(c.TOOL_SCOPES),
        c.TOOL_CONFIGURATION: {
            # Moodle compares host AND port with target_link_uri's.
            "domain": urlsplit(launch_url).netloc,
            "target_link_uri": launch_url,
            "claims": REQUESTED_CLAIMS,
            # Canvas fills it with the assignment's due date on each launch.
            "custom_parameters": {c.CUSTOM_LMS_DUE_AT: c.CANVAS_DUE_AT_VARIABLE},
            "description": TOOL_DESCRIPTION,
            "messages": [
                {"type": c.RESOURCE_LINK_REQUEST, **message},
                {"type": c.DEEP_LINKING_REQUEST, **message, "label": "Add a video assignment",
                 "placements": DEEP_LINK_PLACEMENTS},
                {"type": c.DATA_PRIVACY_REQUEST, **message,
                 "label": "Your data in Video Assignments"},
                # Opening one student's submission from the LMS gradebook (LTI Submission
                # Review 1.0); the tool answers it at the launch URL.
                {"type": c.SUBMISSION_REVIEW_REQUEST, **message},
            ],
            "https://canvas.instructure.com/lti/privacy_level": "public",
        },
    }


def register_with_platform(config_url: str | None, token: str | None,
                           link_token: str | None = None) -> RegistrationResult:
    """Run the whole registration; store a NEW Platform and Deployment only when it succeeded.

    With LTI_REGISTRATION=link a valid one-time link is required; a link given in open mode
    is checked and used up just the same. The link is checked before any outgoing call.
    """
    link = registration_links.usable_link(link_token) if link_token else None
    if link is None and registration_mode() == RegistrationMode.LINK:
        raise registration_links.RegistrationLinkRefused(
            "This tool registers an LMS only through a one-time registration link.",
            code="registration_link_required", hint=registration_links.NEW_LINK_HINT +
            " Paste the URL it prints into the LMS's dynamic registration field.")
    config_url = _configuration_url(config_url)
    try:
        with outbound.unauthenticated_slot():
            return _register(config_url, token, link)
    except outbound.OutboundBusy as busy:
        raise RegistrationError(busy.message, code="busy", http_status=503,
                                headers={"Retry-After": str(busy.retry_after)}) from None
    except AlreadyRegistered as err:
        db.session.rollback()
        audit.record(EventType.REGISTRATION_REFUSED, commit=True, issuer=err.issuer,
                     client_id=err.client_id, reason=err.code)
        raise


def _register(config_url: str, token: str | None,
              link: RegistrationLink | None) -> RegistrationResult:
    config = fetch_platform_configuration(config_url, token)
    login_key = new_token()
    request_body = client_registration(public_url("lti.login_for_registration",
                                                login_key=login_key))
    answer = _call("POST", config["registration_endpoint"], "client registration",
                   json=request_body, headers={"Accept": "application/json", **_bearer(token)})
    client_id = answer.get("client_id")
    if not client_id or not isinstance(client_id, str):
        raise PlatformAnswerError("The LMS accepted the registration but sent no client_id.")
    if len(client_id) > MAX_ID_CHARS:
        raise PlatformAnswerError(f"The LMS's client_id is longer than {MAX_ID_CHARS} "
                                  "characters.")
    tool_conf = answer.get(c.TOOL_CONFIGURATION) or {}
    deployment_id = tool_conf.get("deployment_id") if isinstance(tool_conf, dict) else None
    if deployment_id is not None and (not isinstance(deployment_id, (str, int))
                                      or len(str(deployment_id)) > MAX_ID_CHARS):
        raise PlatformAnswerError("The LMS's deployment_id is not a short string.")
    platform_conf = config.get(c.PLATFORM_CONFIGURATION) or {}
    family = platform_conf.get("product_family_code") if isinstance(platform_conf, dict) else None
    family = family if isinstance(family, str) else None
    return _store(config, answer, client_id, str(deployment_id) if deployment_id else None,
                  family, login_key, link)


def _already_registered(issuer: str, client_id: str) -> AlreadyRegistered:
    log.warning("dynamic registration refused: %s with client id %s is already registered",
                issuer, client_id)
    return AlreadyRegistered(
        f"The LMS {_shown(issuer)} is already registered with the tool under client id "
        f"{client_id}. Dynamic registration never changes an existing registration.",
        hint=UPDATE_HINT, issuer=issuer, client_id=client_id)


def _store(config: dict, answer: dict, client_id: str, deployment_id: str | None,
           family: str | None, login_key: str,
           link: RegistrationLink | None) -> RegistrationResult:
    issuer = str(config["issuer"])
    if db.session.scalar(db.select(Platform.id).filter_by(issuer=issuer, client_id=client_id)):
        raise _already_registered(issuer, client_id)
    host = urlsplit(issuer).hostname or issuer
    platform = Platform(
        issuer=issuer, client_id=client_id, login_key=login_key,
        deployment_policy=DeploymentPolicy.ALLOW,
        name=f"{family.title()} at {host}"[:255] if family else host,
        auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"], key_set_url=config["jwks_uri"],
        auth_audience=_audience(config.get("authorization_server")),
        product_family=(family or "")[:64] or None, active=True,
        registration_data={"openid_configuration": config, "registration": answer})
    db.session.add(platform)
    try:
        db.session.flush()  # a registration racing with this one for the same client id
    except IntegrityError:
        db.session.rollback()
        raise _already_registered(issuer, client_id) from None
    if deployment_id:
        db.session.add(Deployment(platform_id=platform.id, deployment_id=deployment_id))
    if link is not None:
        registration_links.claim_link(link, platform)
    audit.record(EventType.PLATFORM_REGISTERED, platform_id=platform.id, target=platform,
                 issuer=issuer, client_id=client_id, deployment_id=deployment_id,
                 how="dynamic", link_id=link.id if link is not None else None,
                 mode=registration_mode().value)
    db.session.commit()
    log.info("registered platform %s (%s, client %s)", platform.id, issuer, client_id)
    return RegistrationResult(platform, deployment_id, family)


def _audience(value) -> str | None:
    return value[:1024] if isinstance(value, str) and value else None
