"""Registrations (platform, its deployments, its cached JWKS) kept per process, with invalidation.

Every login and launch needs the registration it comes from; reading it from the database
each time cost three statements per launch. Here it is read once per process and kept as a
frozen snapshot (never an ORM object: those belong to one session and one thread).

Invalidation (lti_tool.process_cache): a committed change to a Platform or Deployment row
drops this process's copies at once, and every other process's within a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Deployment, Platform
from lti_tool.process_cache import ProcessCache

# Unknown issuers are never kept (anyone can send those); an open registration may have many
# tenants, so the cache starts again past DEFAULT_MAX_ENTRIES lookups.
CACHE = ProcessCache("registrations", (Platform, Deployment))


@dataclass(frozen=True, eq=False)
class CachedDeployment:
    """A known deployment: its row id and the platform's deployment id."""

    id: int
    deployment_id: str


@dataclass(frozen=True, eq=False)
class CachedPlatform:
    """A read-only copy of one Platform row and the ids of its deployments."""

    id: int
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str | None
    product_family: str | None
    login_key: str
    deployment_policy: str
    active: bool
    jwks_cache: dict | None
    jwks_fetched_at: datetime | None
    registration_data: dict | None
    extra_origins: list | None
    deployments: Mapping[str, CachedDeployment] = field(default_factory=dict)

    def deployment(self, deployment_id: str) -> CachedDeployment | None:
        """Return the known deployment with this id, or None."""
        return self.deployments.get(deployment_id)


_COLUMNS = [f for f in CachedPlatform.__dataclass_fields__ if f != "deployments"]


def _snapshots(platforms: list[Platform]) -> tuple[CachedPlatform, ...]:
    ids = [p.id for p in platforms]
    deployments: dict[int, dict[str, CachedDeployment]] = {i: {} for i in ids}
    if ids:
        for row_id, platform_id, deployment_id in db.session.execute(
                select(Deployment.id, Deployment.platform_id, Deployment.deployment_id)
                .where(Deployment.platform_id.in_(ids))):
            deployments[platform_id][deployment_id] = CachedDeployment(row_id, deployment_id)
    return tuple(CachedPlatform(**{c: getattr(p, c) for c in _COLUMNS},
                                deployments=deployments[p.id]) for p in platforms)


def _lookup(key: tuple, query) -> tuple[CachedPlatform, ...]:
    """Return what `query()` selects, from this process's copy when it has one."""
    return CACHE.get(key, lambda: _snapshots(list(db.session.scalars(
        query().order_by(Platform.id)))), keep=bool)


def platforms_for(issuer: str, client_id: str | None) -> tuple[CachedPlatform, ...]:
    """Return the registrations of an issuer (with this client id when given)."""
    def query():
        q = select(Platform).filter_by(issuer=issuer)
        return q.filter_by(client_id=client_id) if client_id else q
    return _lookup(("iss", issuer, client_id or None), query)


def platform_by_login_key(login_key: str) -> CachedPlatform | None:
    """Return the registration a per-registration login URL names, or None."""
    found = _lookup(("login_key", login_key),
                    lambda: select(Platform).filter_by(login_key=login_key))
    return found[0] if found else None
