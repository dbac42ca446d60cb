"""Registering an LMS by hand and removing one, with or without its videos in storage
(the `platforms add|remove` commands and the admin platforms page)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import case, func, select

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.errors import Conflict, ToolError
from lti_tool.extensions import db
from lti_tool.models import Assignment, Course, Deployment, Platform, Submission, User, Video
from lti_tool.statuses import DeploymentPolicy, VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import StorageError

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Holdings:
    """What a registration holds: the counts said before it is removed."""

    courses: int
    users: int
    videos: int
    stored_videos: int
    stored_bytes: int
    on_hold: int


def _videos_of(platform_id: int):
    return (select(Video).join(Submission, Video.submission_id == Submission.id)
            .join(Assignment).join(Course).where(Course.platform_id == platform_id))


def holdings(platform: Platform) -> Holdings:
    """Count the courses, users and videos of a registration."""
    courses = db.session.scalar(select(func.count(Course.id)).where(
        Course.platform_id == platform.id)) or 0
    users = db.session.scalar(select(func.count(User.id)).where(
        User.platform_id == platform.id)) or 0
    videos = _videos_of(platform.id).subquery()
    total, stored, size, held = db.session.execute(select(
        func.count(videos.c.id),
        func.sum(case((videos.c.status != VideoStatus.DELETED, 1), else_=0)),
        func.sum(case((videos.c.status != VideoStatus.DELETED, videos.c.size_bytes),
                      else_=0)),
        func.sum(case((videos.c.legal_hold.is_(True), 1), else_=0)))).one()
    return Holdings(courses, users, total or 0, stored or 0, int(size or 0), held or 0)


@dataclass
class Removal:
    """What removing a registration did."""

    platform_id: int
    deleted_from_storage: int = 0
    kept_in_storage: int = 0
    storage_failures: list[str] = field(default_factory=list)


def remove_platform(platform: Platform, *, delete_videos: bool, actor: User | None = None,
                    how: str = "cli") -> Removal:
    """Remove a registration and everything that hangs off it (audited; the caller commits).

    With `delete_videos` its videos are deleted from storage first; it is refused while one
    is on legal hold. A video the storage cannot delete is named in the result and left as an
    orphan for the orphans report; the registration goes all the same. An admin (`actor`)
    cannot remove the registration they are signed in through.
    """
    if actor is not None and platform.id == actor.platform_id:
        raise Conflict("You are signed in through this registration: remove it from another "
                       "one, or with `flask --app wsgi platforms remove`.", code="own_platform")
    counts = holdings(platform)
    report = Removal(platform.id)
    if delete_videos:
        if counts.on_hold:
            raise Conflict(f"{counts.on_hold} of its videos are on legal hold: lift the holds "
                           "or keep the videos in storage.", code="legal_hold")
        for video in db.session.scalars(_videos_of(platform.id).where(
                Video.status != VideoStatus.DELETED, Video.storage_uid.is_not(None))):
            try:
                storage_for(video.backend).delete(video.storage_uid, video.backend_data)
                report.deleted_from_storage += 1
            except StorageError as exc:
                log.warning("video %s of removed platform %s stays in storage: %s",
                            video.id, platform.id, exc.message)
                report.storage_failures.append(f"{video.backend}:{video.storage_uid}")
    else:
        report.kept_in_storage = counts.stored_videos
    audit.record(EventType.PLATFORM_REMOVED, actor=actor,
                 platform_id=actor.platform_id if actor else None,
                 issuer=platform.issuer, client_id=platform.client_id,
                 removed_platform_id=platform.id, how=how, courses=counts.courses,
                 users=counts.users, videos=counts.videos,
                 deleted_from_storage=report.deleted_from_storage,
                 kept_in_storage=report.kept_in_storage,
                 storage_failures=len(report.storage_failures))
    db.session.delete(platform)
    return report
