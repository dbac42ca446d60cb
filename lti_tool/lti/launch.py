"""Validate an LTI 1.3 launch (1EdTech Security Framework 1.0, 5.1.3; LTI 1.3 core 5).

pylti1p3's MessageLaunch does the parsing and the per-message checks; we override what it
does too loosely for a multi-process tool inside iframes: the audience and azp are checked,
only RS256 is accepted, exp/iat get a small configured leeway, keys come from our JWKS cache
(refetched on an unknown kid), state is single use and kept in Redis or our database, nonces
are refused when seen twice (across processes), and deployments follow the registration's
policy. The registration and its deployments come from this process's copy
(lti_tool.lti.registry).
Every refusal is a LaunchError with a message an LMS administrator can act on.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

import jwt
from flask import current_app, request, url_for
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskRequest
from pylti1p3.exception import LtiException
from pylti1p3.message_validators import get_validators

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.database import get_or_create
from lti_tool.errors import LaunchError
from lti_tool.lti import claims as c
from lti_tool.lti.claim_checks import check_claim_shapes
from lti_tool.lti.launch_store import (UnusedLaunchData, add_once, get_short_lived, seen,
                                       take_short_lived)
from lti_tool.lti.login import NEW_WINDOW_PARAM, state_cookie_name, state_key
from lti_tool.lti.registry import CachedDeployment, CachedPlatform
from lti_tool.lti.tool_conf import DbToolConf, find_deployment, platform_jwk
from lti_tool.models import Deployment, new_token
from lti_tool.statuses import DeploymentPolicy
from lti_tool.web.urls import origin_of, own_origin

log = logging.getLogger(__name__)

ALGORITHM = "RS256"  # Security Framework 5.1.3 item 6 / 5.4: RSA with SHA-256
NONCE_TTL_SECONDS = 24 * 3600
# Fields the Platform Storage page posts back after reading the platform's storage frame.
STORAGE_STATE_FIELD = "lti_storage_state"
STORAGE_NONCE_FIELD = "lti_storage_nonce"


class StateNotBound(LaunchError):
    """The state cookie is missing (cookies blocked in the iframe) and no platform storage."""

    http_status = 401
    code = "state_not_bound"
    title = "Your browser blocked this tool's cookies"

    def __init__(self, message: str, new_window_url: str | None, **kw):
        super().__init__(message, **kw)
        self.new_window_url = new_window_url


@dataclass
class NeedsPlatformStorage(Exception):
    """Read state and nonce back from the platform's storage frame before going on."""

    state: str
    nonce: str
    storage_target: str
    platform_origin: str


def nonce_key(platform_id: int, nonce: str) -> str:
    """Return the key that marks a platform's nonce as used."""
    return f"nonce:{platform_id}:{hashlib.sha256(nonce.encode()).hexdigest()}"


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class ToolMessageLaunch(FlaskMessageLaunch):
    """One launch being validated; after validate(), `claims`, `platform`, `deployment` hold."""

    def __init__(self):
        super().__init__(FlaskRequest(), DbToolConf(),
                         launch_data_storage=UnusedLaunchData())
        self.platform: CachedPlatform | None = None
        self.deployment: CachedDeployment | None = None
        self.client_id: str | None = None
        self.claims: dict = {}
        self._state_record: dict | None = None

    # ---- the order of checks ----
    def validate(self) -> "ToolMessageLaunch":
        """Run every check, then use up the state and nonce; raise LaunchError on the first failure."""
        self._validated = True
        try:
            self.validate_jwt_format()
        except LtiException:
            raise LaunchError("The LMS did not send a valid id_token (a signed JWT) with the "
                              "launch.") from None
        if not all(isinstance(self._jwt.get(part), dict) for part in ("header", "body")):
            raise LaunchError("The LMS's id_token is not a JWT whose header and body are JSON "
                              "objects.")
        self.validate_registration()
        self.validate_jwt_signature()
        check_claim_shapes(self.claims)
        self.validate_state()
        self.validate_message()
        self.validate_deployment()
        self.validate_nonce()
        # The id our LaunchRecord will get (which keeps the claims: pylti1p3's cache is unused).
        self.set_launch_id(new_token())
        return self

    # ---- registration: iss, aud, azp (Security Framework 5.1.3 items 2-5) ----
    def validate_registration(self) -> "ToolMessageLaunch":
        body = self._jwt.get("body", {})
        issuer = body.get("iss")
        aud = body.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        if not issuer or not isinstance(issuer, str):
            raise LaunchError("The launch token has no issuer (`iss` claim).")
        if not audiences or not all(isinstance(a, str) for a in audiences):
            raise LaunchError("The launch token has no audience (`aud` claim); it must be the "
                               "client id the LMS gave this tool.")
        azp = body.get("azp")
        if azp is not None and azp not in audiences:
            raise LaunchError(f"The launch token's authorized party (azp {azp!r}) is not one "
                               "of its audiences.")
        if azp is None and len(audiences) > 1:
            raise LaunchError("The launch token names several audiences but no authorized "
                               "party (azp), so the tool cannot tell which client id is meant.")
        self.client_id = azp or audiences[0]
        self.platform = self._tool_config.find_platform(issuer, self.client_id)
        self._registration = None  # pylti1p3's registration is not needed past this point
        return self

    # ---- signature, exp, iat (5.1.3 items 1, 6-8) ----
    def validate_jwt_signature(self) -> "ToolMessageLaunch":
        header = self._jwt.get("header", {})
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise LaunchError(f"The launch token is signed with algorithm {alg!r}; the tool "
                               f"accepts only {ALGORITHM} (1EdTech Security Framework 5.1.3).")
        kid = header.get("kid")
        if not kid or not isinstance(kid, str):
            raise LaunchError("The launch token's header has no key id (kid), so the tool "
                               "cannot pick the LMS key to check it with.")
        jwk = platform_jwk(self.platform, kid)
        if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM:
            raise LaunchError(f"The LMS's key {kid!r} is not an RSA key for {ALGORITHM}.")
        try:
            key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
            self.claims = jwt.decode(
                self._get_id_token(), key, algorithms=[ALGORITHM], audience=self.client_id,
                issuer=self.platform.issuer,
                leeway=current_app.config["LTI_JWT_LEEWAY_SECONDS"],
                options={"require": ["exp", "iat", "iss", "aud", "nonce"]})
        except jwt.ExpiredSignatureError:
            raise LaunchError("The launch token has expired. Open the activity again from the "
                               "course page.", hint="If this keeps happening, check that the "
                               "clocks of the LMS and the tool's server are right.") from None
        except jwt.ImmatureSignatureError:
            raise LaunchError("The launch token was issued in the future (iat). The clocks of "
                               "the LMS and the tool's server disagree.") from None
        except jwt.InvalidAudienceError:
            raise LaunchError(f"The launch token is not meant for client id "
                               f"{self.client_id}.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise LaunchError(f"The launch token lacks the required `{exc.claim}` "
                               "claim.") from None
        except jwt.InvalidSignatureError:
            raise LaunchError(f"The launch token's signature does not match the LMS's key "
                               f"{kid!r}.") from None
        except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
            raise LaunchError(f"The launch token could not be verified "
                               f"({exc.__class__.__name__}).") from None
        self._jwt["body"] = self.claims
        return self

    # ---- state: single use, bound to this browser (5.1.1.2, Platform Storage) ----
    def validate_state(self) -> "ToolMessageLaunch":
        state = self._get_request_param("state")
        if not state:
            raise LaunchError("The launch has no `state`: it did not start with a login "
                               "through this tool.")
        record = get_short_lived(state_key(state))
        if record is None:
            nonce = self.claims.get("nonce")
            if isinstance(nonce, str) and seen(nonce_key(self.platform.id, nonce)):
                raise LaunchError("This launch was already used once; a launch cannot be "
                                   "replayed. Open the activity again from the course page.")
            raise LaunchError("The login for this launch was not found: it has expired or "
                               "never started here. Open the activity again from the course "
                               "page.")
        if record["platform_id"] != self.platform.id:
            raise LaunchError("This launch answers a login that started for another LMS "
                               "registration.")
        self._state_record = record
        if _same(request.cookies.get(state_cookie_name(state)), state):
            return self
        if self._storage_proves_state(state, record):
            return self
        if record.get("storage_target"):
            raise NeedsPlatformStorage(state, record["nonce"], record["storage_target"],
                                       origin_of(self.platform.auth_login_url))
        login = dict(record.get("login") or {}, **{NEW_WINDOW_PARAM: "1"})
        raise StateNotBound(
            "The tool could not confirm that this launch comes from the browser that started "
            "it: the browser did not send back the tool's cookie, probably because it blocks "
            "cookies inside the course page.",
            new_window_url=url_for("lti.login", **login) if login.get("iss") else None)

    def _storage_proves_state(self, state: str, record: dict) -> bool:
        """Tell whether our own page read this state and nonce from the platform's storage.

        Only a same-origin post counts: a cross-site page could post these fields itself.
        """
        posted_state = request.form.get(STORAGE_STATE_FIELD)
        if posted_state is None:
            return False
        if request.headers.get("Origin") != own_origin():
            log.warning("platform storage re-post from foreign origin %r",
                        request.headers.get("Origin"))
            return False
        return (_same(posted_state, state)
                and _same(request.form.get(STORAGE_NONCE_FIELD), record["nonce"]))

    # ---- message: version, type, required claims (LTI 1.3 core 5.3) ----
    def validate_message(self) -> "ToolMessageLaunch":
        body = self.claims
        version = body.get(c.VERSION)
        if version != c.LTI_VERSION_1_3:
            raise LaunchError(f"The launch says LTI version {version!r}; this tool speaks LTI "
                               f"{c.LTI_VERSION_1_3}.")
        message_type = body.get(c.MESSAGE_TYPE)
        if message_type not in c.SUPPORTED_MESSAGE_TYPES:
            raise LaunchError(f"This tool does not handle LTI messages of type "
                               f"{message_type!r}; it handles "
                               f"{', '.join(c.SUPPORTED_MESSAGE_TYPES)}.")
        for validator in get_validators():
            if validator.can_validate(body):
                try:
                    validator.validate(body)
                except LtiException as exc:
                    raise LaunchError(f"The launch message is incomplete: {exc}.") from None
        if message_type == c.DEEP_LINKING_REQUEST and not (
                body.get(c.DL_SETTINGS) or {}).get("deep_link_return_url"):
            raise LaunchError("The deep linking request has no deep_link_return_url.")
        return self

    # ---- deployment: known, or recorded under policy 'allow' (LTI 1.3 core 3.1.3) ----
    def validate_deployment(self) -> "ToolMessageLaunch":
        deployment_id = self.claims.get(c.DEPLOYMENT_ID)
        if not deployment_id or not isinstance(deployment_id, str):
            raise LaunchError("The launch has no deployment id claim.")
        platform = self.platform
        self.deployment = find_deployment(platform, deployment_id)
        if self.deployment is not None:
            return self
        if platform.deployment_policy != DeploymentPolicy.ALLOW:
            raise LaunchError(
                f"Deployment id {deployment_id!r} of this LMS (issuer {platform.issuer}, client "
                f"id {platform.client_id}) is not known to the tool, and the registration "
                "refuses new deployments.",
                code="deployment_not_allowed", http_status=403,
                hint=f"An administrator can allow it with `flask --app wsgi platforms "
                     f"deployments add {platform.id} {deployment_id}`, or accept every new "
                     f"deployment of this registration with `flask --app wsgi platforms "
                     f"policy {platform.id} allow`.")
        # A class launching from a new deployment (a course copy) records it once.
        row, created = get_or_create(
            Deployment, {"platform_id": platform.id, "deployment_id": deployment_id},
            {"auto_added": True})
        if created:
            audit.record(EventType.DEPLOYMENT_ADDED, platform_id=platform.id,
                         target=row, deployment_id=deployment_id)
        self.deployment = CachedDeployment(row.id, row.deployment_id)
        return self

    # ---- use up the state and the nonce (5.1.3 item 9) ----
    def validate_nonce(self) -> "ToolMessageLaunch":
        nonce = self.claims.get("nonce")
        if not _same(nonce, self._state_record["nonce"]):
            raise LaunchError("The launch token's nonce does not match the login that started "
                               "it.")
        # Taking the state is atomic: of two launches racing with it, one gets it. A replay
        # afterwards is told apart from an unknown login by its used nonce (validate_state).
        if take_short_lived(state_key(self._get_request_param("state"))) is None:
            raise LaunchError("This launch was already used once; a launch cannot be "
                               "replayed.")
        if not add_once(nonce_key(self.platform.id, nonce), NONCE_TTL_SECONDS):
            raise LaunchError("This launch's nonce was already used; a launch cannot be "
                               "replayed.")
        return self
