"""Registering an LMS by hand (the `platforms add` command and the admin platforms page)."""
from __future__ import annotations

from typing import Iterable

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import Conflict, ToolError
from lti_tool.extensions import db
from lti_tool.models import Deployment, Platform, User
from lti_tool.statuses import DeploymentPolicy


def _http_url(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value.startswith(("http://", "https://")):
        raise ToolError(f"The {what} {value!r} is not an http(s) URL.", code="bad_url")
    return value


def add_platform(*, issuer: str, client_id: str, auth_login_url: str, auth_token_url: str,
                 key_set_url: str, deployment_ids: Iterable[str] = (), name: str = "",
                 audience: str | None = None, policy: str = DeploymentPolicy.REFUSE,
                 how: str = "cli", actor: User | None = None) -> Platform:
    """Register an LMS (audited; the caller commits); refuse a duplicate or a bad URL."""
    issuer = (issuer or "").strip()
    client_id = (client_id or "").strip()
    if not issuer or not client_id:
        raise ToolError("An issuer and a client id are both needed.", code="missing_field")
    issuer = issuer.rstrip("/") if issuer.count("/") > 2 else issuer
    if policy not in {p.value for p in DeploymentPolicy}:
        raise ToolError(f"The deployment policy must be one of: "
                        f"{', '.join(p.value for p in DeploymentPolicy)}.", code="bad_policy")
    if db.session.scalar(db.select(Platform).filter_by(issuer=issuer, client_id=client_id)):
        raise Conflict(f"{issuer} with client id {client_id} is already registered.",
                       code="already_registered")
    platform = Platform(issuer=issuer, client_id=client_id,
                        auth_login_url=_http_url(auth_login_url, "login URL"),
                        auth_token_url=_http_url(auth_token_url, "token URL"),
                        key_set_url=_http_url(key_set_url, "key set URL"), name=name or "",
                        auth_audience=audience or None, deployment_policy=policy)
    platform.deployments = [Deployment(deployment_id=d.strip())
                            for d in dict.fromkeys(deployment_ids) if d.strip()]
    db.session.add(platform)
    db.session.flush()
    audit.record(EventType.PLATFORM_REGISTERED, actor=actor,
                 platform_id=actor.platform_id if actor else platform.id, target=platform,
                 issuer=issuer, client_id=client_id, how=how)
    return platform
