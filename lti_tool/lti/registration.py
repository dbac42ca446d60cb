"""LTI Dynamic Registration 1.0: fetch the platform's configuration, register, store the result.

Spec sections: 3.3 (registration initiation: openid_configuration, registration_token),
3.4 and 3.5.1 (platform configuration; the issuer must be on the configuration URL's host),
3.5.2 (client registration request), 3.6 (response with client_id and deployment_id),
4 (tool configuration, incl. Moodle's requirement that `domain` carries host and port).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import url_for

from .. import audit
from ..audit import EventType
from ..errors import LaunchError
from ..extensions import db
from ..models import Deployment, Platform, new_token
from ..states import DeploymentPolicy
from . import claims as c
from .urls import base_url, tool_url

log = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 15
TOOL_NAME = "Video Assignments"
TOOL_DESCRIPTION = ("Students hand in videos (up to several GB) as assignment submissions; "
                    "instructors watch, comment on and grade them.")
REQUESTED_CLAIMS = ["iss", "sub", "name", "given_name", "family_name", "email"]
REQUIRED_PLATFORM_FIELDS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                            "registration_endpoint")
# Placements: ContentArea (Moodle's activity chooser), Canvas's assignment/link selection.
DEEP_LINK_PLACEMENTS = ["ContentArea", "assignment_selection", "link_selection"]


class RegistrationError(LaunchError):
    """Dynamic registration failed; nothing was stored."""

    code = "registration_failed"
    title = "The tool could not be registered"


class PlatformAnswerError(RegistrationError):
    """The platform answered the registration with an error or something unusable."""

    http_status = 502


@dataclass
class RegistrationResult:
    """What the admin is told after a successful registration."""

    platform: Platform
    deployment_id: str | None
    product_family: str | None
    updated: bool


def _check_url(value: str | None, what: str) -> str:
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistrationError(
            f"The {what} {value!r} is not an http(s) URL." if value else
            f"The registration request has no {what}.",
            hint="Paste the tool's registration URL into the LMS's dynamic registration "
                 "(\"LTI Advantage\") field; the LMS opens it with the parameters it needs.")
    return value


def _bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _call(method: str, url: str, what: str, **kw) -> dict:
    """Make one request to the platform and return its JSON object, or raise clearly."""
    try:
        resp = requests.request(method, url, timeout=HTTP_TIMEOUT_SECONDS, **kw)
    except requests.Timeout:
        raise PlatformAnswerError(f"The LMS did not answer the {what} at {url} within "
                                  f"{HTTP_TIMEOUT_SECONDS} seconds.") from None
    except requests.RequestException as exc:
        raise PlatformAnswerError(f"The tool could not reach the {what} at {url} "
                                  f"({exc.__class__.__name__}).") from None
    if resp.status_code >= 400:
        detail = resp.text.strip()[:300]
        raise PlatformAnswerError(
            f"The LMS refused the {what} at {url} with HTTP {resp.status_code}"
            + (f": {detail}" if detail else "."),
            hint="A registration link is valid once and for a short time: start the "
                 "registration again from the LMS.")
    try:
        body = resp.json()
    except ValueError:
        raise PlatformAnswerError(f"The LMS's {what} at {url} did not answer with JSON.") \
            from None
    if not isinstance(body, dict):
        raise PlatformAnswerError(f"The LMS's {what} at {url} did not answer with a JSON "
                                  "object.")
    return body


def fetch_platform_configuration(config_url: str, token: str | None) -> dict:
    """Fetch and check the platform's OpenID configuration (3.4, 3.5.1)."""
    config = _call("GET", config_url, "OpenID configuration",
                   headers={"Accept": "application/json", **_bearer(token)})
    missing = [f for f in REQUIRED_PLATFORM_FIELDS if not config.get(f)]
    if missing:
        raise PlatformAnswerError(f"The LMS's OpenID configuration lacks {', '.join(missing)}.")
    issuer_host = urlsplit(str(config["issuer"])).hostname
    if issuer_host != urlsplit(config_url).hostname:
        raise PlatformAnswerError(
            f"The LMS's issuer {config['issuer']} is not on the host of its configuration URL "
            f"{config_url}; the tool refuses it (Dynamic Registration 3.5.1).")
    algs = config.get("id_token_signing_alg_values_supported")
    if algs is not None and "RS256" not in algs:
        raise PlatformAnswerError("The LMS does not sign with RS256, which LTI 1.3 requires.")
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri",
                  "registration_endpoint"):
        _check_url(config[field], f"LMS's {field}")
    return config


def client_registration(login_url: str) -> dict:
    """Return the tool's client registration request body (3.5.2 and 4)."""
    launch_url = tool_url("lti.launch")
    message = {"target_link_uri": launch_url}
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": login_url,
        "redirect_uris": [launch_url],
        "client_name": TOOL_NAME,
        "jwks_uri": tool_url("lti.jwks"),
        "logo_uri": base_url() + url_for("static", filename="img/lti-logo.svg"),
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(c.TOOL_SCOPES),
        c.TOOL_CONFIGURATION: {
            # Moodle compares host AND port with target_link_uri's.
            "domain": urlsplit(launch_url).netloc,
            "target_link_uri": launch_url,
            "claims": REQUESTED_CLAIMS,
            "description": TOOL_DESCRIPTION,
            "messages": [
                {"type": c.RESOURCE_LINK_REQUEST, **message},
                {"type": c.DEEP_LINKING_REQUEST, **message, "label": "Add a video assignment",
                 "placements": DEEP_LINK_PLACEMENTS},
            ],
            "https://canvas.instructure.com/lti/privacy_level": "public",
        },
    }


def register_with_platform(config_url: str | None, token: str | None) -> RegistrationResult:
    """Run the whole registration; store the Platform and Deployment only when it succeeded."""
    config_url = _check_url(config_url, "openid_configuration parameter")
    config = fetch_platform_configuration(config_url, token)
    login_key = new_token()
    request_body = client_registration(tool_url("lti.login_for_registration",
                                                login_key=login_key))
    answer = _call("POST", config["registration_endpoint"], "client registration",
                   json=request_body, headers={"Accept": "application/json", **_bearer(token)})
    client_id = answer.get("client_id")
    if not client_id or not isinstance(client_id, str):
        raise PlatformAnswerError("The LMS accepted the registration but sent no client_id.")
    tool_conf = answer.get(c.TOOL_CONFIGURATION) or {}
    deployment_id = tool_conf.get("deployment_id") if isinstance(tool_conf, dict) else None
    platform_conf = config.get(c.PLATFORM_CONFIGURATION) or {}
    family = platform_conf.get("product_family_code") if isinstance(platform_conf, dict) else None
    return _store(config, answer, client_id, str(deployment_id) if deployment_id else None,
                  family, login_key)


def _store(config: dict, answer: dict, client_id: str, deployment_id: str | None,
           family: str | None, login_key: str) -> RegistrationResult:
    issuer = str(config["issuer"])
    platform = db.session.scalar(db.select(Platform).filter_by(issuer=issuer,
                                                               client_id=client_id))
    updated = platform is not None
    if platform is None:
        platform = Platform(issuer=issuer, client_id=client_id, login_key=login_key,
                            deployment_policy=DeploymentPolicy.ALLOW)
        db.session.add(platform)
    host = urlsplit(issuer).hostname or issuer
    platform.name = f"{family.title()} at {host}" if family else host
    # The LMS now calls the login URL we just registered.
    platform.login_key = login_key
    platform.auth_login_url = config["authorization_endpoint"]
    platform.auth_token_url = config["token_endpoint"]
    platform.key_set_url = config["jwks_uri"]
    platform.auth_audience = config.get("authorization_server") or None
    platform.product_family = (family or "")[:64] or None
    platform.active = True
    platform.jwks_cache = None
    platform.jwks_fetched_at = None
    platform.registration_data = {"openid_configuration": config, "registration": answer}
    db.session.flush()
    if deployment_id and not db.session.scalar(db.select(Deployment).filter_by(
            platform_id=platform.id, deployment_id=deployment_id)):
        db.session.add(Deployment(platform_id=platform.id, deployment_id=deployment_id))
    audit.record(EventType.PLATFORM_REGISTERED, platform_id=platform.id, target=platform,
                 issuer=issuer, client_id=client_id, deployment_id=deployment_id,
                 how="dynamic", updated=updated)
    db.session.commit()
    log.info("registered platform %s (%s, client %s)", platform.id, issuer, client_id)
    return RegistrationResult(platform, deployment_id, family, updated)
