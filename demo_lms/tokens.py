"""JWTs from the tool (client assertions, deep-linking responses) and the access tokens we grant.

The tool's signature is always checked against its JWKS fetched over HTTP from the
registered `jwks_uri`, as Moodle does (1EdTech Security Framework 1.0, sections 4.1 and 6).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt
from flask import current_app
from sqlalchemy.exc import IntegrityError

from lti_tool import outbound
from lti_tool.extensions import db
from lti_tool.models import utcnow

from .control import control
from .errors import BearerError, InsufficientScope, InvalidClient, OAuthError
from .models import DemoAccessToken, DemoTool, DemoUsedNonce
from .vocab import CLIENT_ASSERTION_TYPE, GRANT_TYPE_CLIENT_CREDENTIALS, SIGNING_ALG

log = logging.getLogger(__name__)

JWKS_TIMEOUT_SECONDS = 5
LEEWAY_SECONDS = 10
# An assertion that claims to live longer than this is refused: its jti would be kept as long.
MAX_ASSERTION_LIFETIME_SECONDS = 3600
BEARER_PREFIX = "Bearer "


@dataclass(frozen=True)
class GrantedToken:
    """An access token as the token endpoint answers it."""

    access_token: str
    expires_in: int
    scopes: list[str]

    def as_json(self) -> dict:
        return {"access_token": self.access_token, "token_type": "Bearer",
                "expires_in": self.expires_in, "scope": " ".join(self.scopes)}


def tool_by_client_id(client_id: str | None) -> DemoTool | None:
    """Return the registered tool with this client id, or None."""
    if not client_id:
        return None
    return db.session.scalar(db.select(DemoTool).filter_by(client_id=client_id))


def fetch_tool_jwks(tool: DemoTool) -> jwt.PyJWKSet:
    """Download the tool's public keys from its registered jwks_uri."""
    try:
        resp = outbound.request("GET", tool.jwks_uri, timeout=JWKS_TIMEOUT_SECONDS,
                                headers={"Accept": "application/json"})
        if resp.status_code != 200:
            raise ValueError(f"HTTP {resp.status_code}")
        return jwt.PyJWKSet.from_dict(resp.json())
    except (outbound.OutboundError, ValueError, jwt.PyJWKSetError) as exc:
        log.warning("demo LMS: cannot read the key set of %s at %s: %s",
                    tool.client_id, tool.jwks_uri, exc)
        raise InvalidClient(f"The tool's key set at {tool.jwks_uri} could not be read.") from None


def verify_tool_jwt(token: str, tool: DemoTool, audience: str, require: list[str]) -> dict:
    """Check a JWT the tool signed (iss = client_id, aud, exp, iat) and return its claims."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidClient("The JWT cannot be decoded.") from None
    if header.get("alg") != SIGNING_ALG:
        raise InvalidClient(f"The JWT must be signed with {SIGNING_ALG}.")
    key = _pick_key(fetch_tool_jwks(tool), header.get("kid"))
    try:
        return jwt.decode(token, key.key, algorithms=[SIGNING_ALG], audience=audience,
                          issuer=tool.client_id, leeway=LEEWAY_SECONDS,
                          options={"require": ["exp", "iat", "iss", "aud", *require]})
    except jwt.PyJWTError as exc:
        raise InvalidClient(f"The JWT was refused: {exc}.") from None


def _pick_key(jwks: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK:
    if kid is None:
        if len(jwks.keys) == 1:
            return jwks.keys[0]
        raise InvalidClient("The JWT has no 'kid' header and the tool publishes several keys.")
    for key in jwks.keys:
        if key.key_id == kid:
            return key
    raise InvalidClient(f"No key with kid {kid!r} in the tool's key set.")


def remember_once(kind: str, client_id: str, value: str, expires_at_epoch: int) -> None:
    """Record a jti or nonce as used; refuse it if it was used before."""
    now = utcnow()
    db.session.execute(db.delete(DemoUsedNonce).where(DemoUsedNonce.expires_at < now))
    expires = now + timedelta(seconds=max(0, expires_at_epoch - int(now.timestamp())) +
                              LEEWAY_SECONDS)
    db.session.add(DemoUsedNonce(value=f"{kind}:{client_id}:{value}"[:255], expires_at=expires))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InvalidClient(f"This {kind} was already used: a JWT is good for one request.") \
            from None


def grant_token(form: dict, token_url: str) -> GrantedToken:
    """Check a client_credentials request with a JWT client assertion and grant a token."""
    if form.get("grant_type") != GRANT_TYPE_CLIENT_CREDENTIALS:
        raise OAuthError("grant_type must be client_credentials.", code="unsupported_grant_type")
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise OAuthError(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}.")
    assertion = form.get("client_assertion") or ""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidClient("client_assertion is not a JWT.") from None
    tool = tool_by_client_id(unverified.get("iss") if isinstance(unverified, dict) else None)
    if tool is None:
        raise InvalidClient("Unknown client: no tool is registered with this client_id.")
    claims = verify_tool_jwt(assertion, tool, audience=token_url, require=["sub", "jti"])
    if claims["sub"] != tool.client_id:
        raise InvalidClient("The assertion's sub must be the client_id.")
    if claims["exp"] - int(utcnow().timestamp()) > MAX_ASSERTION_LIFETIME_SECONDS:
        raise InvalidClient("The assertion lives too long; keep exp within an hour.")
    requested = (form.get("scope") or "").split()
    granted = [s for s in control(current_app).restrict_scopes(tool.allowed_scopes)
               if s in requested]
    if not granted:
        raise OAuthError("None of the requested scopes is allowed for this tool.",
                         code="invalid_scope")
    remember_once("jti", tool.client_id, str(claims["jti"]), int(claims["exp"]))
    return _store_token(tool, granted)


def _store_token(tool: DemoTool, scopes: list[str]) -> GrantedToken:
    ttl = control(current_app).token_ttl()
    token = secrets.token_urlsafe(32)
    db.session.add(DemoAccessToken(token_hash=_hash(token), tool_id=tool.id, scopes=scopes,
                                   expires_at=utcnow() + timedelta(seconds=ttl)))
    db.session.commit()
    return GrantedToken(token, ttl, scopes)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate_bearer(authorization: str | None, any_of: list[str]) -> DemoAccessToken:
    """Return the live access token in `authorization` if it carries one of `any_of` scopes."""
    if not authorization or not authorization.startswith(BEARER_PREFIX):
        raise BearerError("A Bearer access token is required.")
    token = db.session.get(DemoAccessToken, _hash(authorization[len(BEARER_PREFIX):].strip()))
    if token is None:
        raise BearerError("The access token is not valid.")
    if token.expires_at <= utcnow():
        raise BearerError("The access token has expired.")
    if not set(any_of) & set(token.scopes):
        raise InsufficientScope("The access token lacks the scope this service needs.")
    return token
