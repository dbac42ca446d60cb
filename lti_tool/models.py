"""Typed SQLAlchemy 2 models: platforms, people, courses, assignments, videos, grades, audit.

Multi-tenancy: every course, user and assignment hangs off exactly one platform; queries
that cross from one to another go through these relationships, never through bare ids
taken from a request.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer,
                        String, Text, UniqueConstraint, false)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.access.roles import Role
from lti_tool.extensions import db
from lti_tool.statuses import DeploymentPolicy, OutboxStatus, RegistrationLinkState, VideoStatus


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def new_token(nbytes: int = 24) -> str:
    """Return an unguessable url-safe identifier."""
    return secrets.token_urlsafe(nbytes)


class UTCDateTime(db.TypeDecorator):
    """A DateTime stored as UTC that always comes back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Platform(db.Model):
    """One LTI registration: an LMS issuer plus the client id it gave us."""

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    issuer: Mapped[str] = mapped_column(String(512))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    # Some platforms (Brightspace, Blackboard) want another audience in the token request.
    auth_audience: Mapped[Optional[str]] = mapped_column(String(1024))
    product_family: Mapped[Optional[str]] = mapped_column(String(64))  # moodle, canvas, ...
    # Identifies the registration in its own login URL (Moodle may omit client_id at login).
    login_key: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    deployment_policy: Mapped[str] = mapped_column(String(16), default=DeploymentPolicy.REFUSE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    jwks_cache: Mapped[Optional[dict]] = mapped_column(JSON)
    jwks_fetched_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Everything the platform told us at dynamic registration, for support.
    registration_data: Mapped[Optional[dict]] = mapped_column(JSON)
    # Browser origins an admin allowed beside the registration's own URLs (lti/origins.py).
    extra_origins: Mapped[Optional[list]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    deployments: Mapped[list["Deployment"]] = relationship(
        back_populates="platform", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Platform {self.id} {self.issuer} client={self.client_id}>"


class Deployment(db.Model):
    """A deployment id under a registration (one per install, course copy, sub-account)."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    # Deployments recorded automatically under policy 'allow' say so, for the admin to review.
    auto_added: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    platform: Mapped[Platform] = relationship(back_populates="deployments")

    def __repr__(self) -> str:
        return f"<Deployment {self.deployment_id} of platform {self.platform_id}>"


class RegistrationLink(db.Model):
    """A one-time URL an administrator gives an LMS to register the tool with.

    Only a hash of its token is stored: the URL is shown once, when it is made.
    """

    __tablename__ = "registration_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[Optional[str]] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # The registration it produced.
    platform_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("platform.id", ondelete="SET NULL"))

    platform: Mapped[Optional[Platform]] = relationship()

    def state(self, now: datetime | None = None) -> RegistrationLinkState:
        """Return whether the link is unused, used, expired or revoked."""
        if self.used_at is not None:
            return RegistrationLinkState.USED
        if self.revoked_at is not None:
            return RegistrationLinkState.REVOKED
        if self.expires_at <= (now or utcnow()):
            return RegistrationLinkState.EXPIRED
        return RegistrationLinkState.UNUSED

    def __repr__(self) -> str:
        return f"<RegistrationLink {self.id} {self.state().value}>"


class User(db.Model):
    """A person, as one platform knows them (LTI `sub`)."""

    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[Optional[str]] = mapped_column(String(255))
    given_name: Mapped[Optional[str]] = mapped_column(String(255))
    family_name: Mapped[Optional[str]] = mapped_column(String(255))
    email: Mapped[Optional[str]] = mapped_column(String(320))
    picture: Mapped[Optional[str]] = mapped_column(String(1024))
    # Institution / system administrator of this platform (from the last launch).
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Granted by an operator (`admins add`) for LMSs whose launches carry no admin role;
    # kept across launches, unlike is_platform_admin.
    admin_granted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    platform: Mapped[Platform] = relationship()

    # flask-login
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def display_name(self) -> str:
        full = " ".join(p for p in (self.given_name, self.family_name) if p)
        return self.name or full or self.email or f"User {self.sub}"

    def __repr__(self) -> str:
        return f"<User {self.id} sub={self.sub} platform={self.platform_id}>"


class Course(db.Model):
    """An LTI context (course or course section) on one platform."""

    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("deployment.id", ondelete="SET NULL"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[Optional[str]] = mapped_column(String(512))
    label: Mapped[Optional[str]] = mapped_column(String(255))
    # NRPS membership URL from the launch, when the platform offers the roster service.
    memberships_url: Mapped[Optional[str]] = mapped_column(String(1024))
    roster_synced_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    platform: Mapped[Platform] = relationship()
    enrollments: Mapped[list["Enrollment"]] = relationship(
        back_populates="course", cascade="all, delete-orphan")
    assignments: Mapped[list["Assignment"]] = relationship(
        back_populates="course", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Course {self.id} context={self.context_id}>"


class Enrollment(db.Model):
    """A user's role in a course, from a launch or from the roster (NRPS)."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=Role.LEARNER)
    lti_roles: Mapped[Optional[list]] = mapped_column(JSON)  # the raw role URIs
    source: Mapped[str] = mapped_column(String(16), default="launch")  # launch | roster
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="enrollments")
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Enrollment user={self.user_id} course={self.course_id} {self.role}>"


class Assignment(db.Model):
    """An LTI resource link: one video assignment and its gradebook column."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("course_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(512), default="Video assignment")
    instructions: Mapped[Optional[str]] = mapped_column(Text)
    max_score: Mapped[float] = mapped_column(Float, default=100.0)
    max_file_bytes: Mapped[Optional[int]] = mapped_column(BigInteger)  # None: the site limit
    max_duration_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    allowed_formats: Mapped[Optional[str]] = mapped_column(String(255))  # "mp4,mov,webm"
    # AGS: the line item bound to this link, the container URL, and what we were granted.
    lineitem_url: Mapped[Optional[str]] = mapped_column(String(1024))
    lineitems_url: Mapped[Optional[str]] = mapped_column(String(1024))
    ags_scopes: Mapped[Optional[list]] = mapped_column(JSON)
    # When scoreMaximum / endDateTime were last read from the line item.
    lineitem_synced_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    due_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Where due_at came from: the LMS's line item ("lms") or the instructor in the tool
    # ("tool", which the line item no longer overwrites); None when there is no due date.
    due_source: Mapped[Optional[str]] = mapped_column(String(16))
    # After this no new attempt starts (one started before it may finish); None: no cut-off.
    cutoff_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # How many videos a student may hand in; None: no limit.
    max_attempts: Mapped[Optional[int]] = mapped_column(Integer)
    # Closed by the instructor: no new attempt, whatever the dates say.
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sound-only submissions (a microphone recording, an audio file) are accepted and
    # played as audio; off: a file without a picture is refused.
    accepts_audio: Mapped[bool] = mapped_column(Boolean, default=False,
                                                server_default=false())
    # Days a video is kept before retention deletes it; None: the site's retention period.
    retention_days: Mapped[Optional[int]] = mapped_column(Integer)
    # Custom parameters from deep linking (our settings travel with the link).
    custom: Mapped[Optional[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    course: Mapped[Course] = relationship(back_populates="assignments")
    submissions: Mapped[list["Submission"]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Assignment {self.id} link={self.resource_link_id}>"


class DeadlineExtension(db.Model):
    """A later due date (and cut-off) an instructor granted one student for one assignment."""

    __tablename__ = "deadline_extension"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cutoff_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    granted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped["User"] = relationship(foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<DeadlineExtension assignment={self.assignment_id} user={self.user_id}>"


class Submission(db.Model):
    """One student's submission to one assignment: its attempts, grade and feedback."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    current_video_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("video.id", ondelete="SET NULL", use_alter=True))
    submitted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    score_given: Mapped[Optional[float]] = mapped_column(Float)
    feedback: Mapped[Optional[str]] = mapped_column(Text)
    graded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    graded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    assignment: Mapped[Assignment] = relationship(back_populates="submissions")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    graded_by: Mapped[Optional[User]] = relationship(foreign_keys=[graded_by_id])
    videos: Mapped[list["Video"]] = relationship(
        back_populates="submission", foreign_keys="Video.submission_id",
        cascade="all, delete-orphan", order_by="Video.attempt")
    current_video: Mapped[Optional["Video"]] = relationship(
        foreign_keys=[current_video_id], post_update=True)
    comments: Mapped[list["Comment"]] = relationship(
        back_populates="submission", cascade="all, delete-orphan",
        order_by="Comment.at_seconds")

    def __repr__(self) -> str:
        return f"<Submission {self.id} user={self.user_id} assignment={self.assignment_id}>"


# Video.media_info key: processing plays a rendition of this video, not the original.
RENDITION_MADE = "rendition"
# Video.media_info key: processing made the hover strip (Derived.STRIP) of this video.
STRIP_MADE = "strip"
# Video.media_info key: the file has sound and no picture (accepted by the assignment).
SOUND_ONLY = "sound_only"


def submission_platform(context) -> int | None:
    """Return the platform of the inserted row's submission (the default of `platform_id`).

    Code that knows the platform passes it and spares this query; a row made without it
    (fixtures, scripts, bulk inserts) still gets the right one. A submission's platform
    never changes (a course stays on its platform, an assignment in its course), so the
    copy on the row cannot go stale.
    """
    submission_id = context.get_current_parameters()["submission_id"]
    return context.connection.scalar(
        db.select(Course.platform_id).join(Assignment, Assignment.course_id == Course.id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .where(Submission.id == submission_id))


class Video(db.Model):
    """One uploaded video: an attempt of a submission, held by one storage backend."""

    __tablename__ = "video"
    __table_args__ = (UniqueConstraint("submission_id", "attempt"),
                      Index("ix_video_backend_uid", "backend", "storage_uid"),
                      Index("ix_video_status", "status"),
                      Index("ix_video_created", "created_at"),
                      Index("ix_video_platform_created", "platform_id", "created_at"),
                      Index("ix_video_platform_status", "platform_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"))
    # The submission's platform, kept on the row so the admin dashboard's counts and sums
    # read one table (bench/admin_bench.py): see submission_platform.
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"),
                                             default=submission_platform)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    backend: Mapped[str] = mapped_column(String(32))  # local | cloudflare | s3
    # The backend's id for the video (Cloudflare uid, S3 key, local upload id).
    storage_uid: Mapped[Optional[str]] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=VideoStatus.PENDING)
    error_code: Mapped[Optional[str]] = mapped_column(String(64))
    error_message: Mapped[Optional[str]] = mapped_column(Text)
    filename: Mapped[Optional[str]] = mapped_column(String(512))
    content_type: Mapped[Optional[str]] = mapped_column(String(128))
    size_bytes: Mapped[Optional[int]] = mapped_column(BigInteger)
    duration_seconds: Mapped[Optional[float]] = mapped_column(Float)
    width: Mapped[Optional[int]] = mapped_column(Integer)
    height: Mapped[Optional[int]] = mapped_column(Integer)
    has_thumbnail: Mapped[bool] = mapped_column(Boolean, default=False)
    # Backend-specific state (multipart upload id, tus URL, processing details).
    backend_data: Mapped[Optional[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    ready_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    deleted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Legal hold: retention and deletions leave this video alone until the hold is lifted.
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    # Processing (lti_tool.processing): what the probe found and what was made (media_info),
    # progress of a running transcode, and the lease a worker holds while it works (a
    # worker killed mid-job lets it lapse, and the sweep hands the video to another).
    media_info: Mapped[Optional[dict]] = mapped_column(JSON)
    processing_percent: Mapped[Optional[float]] = mapped_column(Float)
    processing_eta_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    processing_lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    processing_tries: Mapped[int] = mapped_column(Integer, default=0)

    submission: Mapped[Submission] = relationship(
        back_populates="videos", foreign_keys=[submission_id])

    @property
    def has_rendition(self) -> bool:
        """Tell whether processing made a playback rendition (played instead of the original)."""
        return bool((self.media_info or {}).get(RENDITION_MADE))

    @property
    def is_sound_only(self) -> bool:
        """Tell whether this is a sound-only submission (played in an audio player)."""
        return bool((self.media_info or {}).get(SOUND_ONLY))

    @property
    def has_strip(self) -> bool:
        """Tell whether processing made the hover strip shown on the instructor's list."""
        return bool((self.media_info or {}).get(STRIP_MADE))

    def __repr__(self) -> str:
        return f"<Video {self.id} attempt={self.attempt} {self.backend}:{self.storage_uid} {self.status}>"


class Upload(db.Model):
    """A resumable upload in progress on the local tus server."""

    __tablename__ = "upload"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_token)
    video_id: Mapped[int] = mapped_column(ForeignKey("video.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    # None while the length is deferred (a recording still going on, tus creation-defer-length).
    length: Mapped[Optional[int]] = mapped_column(BigInteger)
    metadata_: Mapped[Optional[dict]] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    video: Mapped[Video] = relationship()

    def __repr__(self) -> str:
        return f"<Upload {self.id[:8]}… video={self.video_id} length={self.length}>"


class Comment(db.Model):
    """A time-coded comment a grader left at a moment of a video."""

    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_submission", "submission_id", "at_seconds"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"))
    video_id: Mapped[Optional[int]] = mapped_column(ForeignKey("video.id", ondelete="SET NULL"))
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime(), onupdate=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="comments")
    author: Mapped[Optional[User]] = relationship()

    def __repr__(self) -> str:
        return f"<Comment {self.id} at={self.at_seconds}s submission={self.submission_id}>"


class ScoreOutbox(db.Model):
    """A score waiting to reach (or having reached) the LMS gradebook via AGS."""

    __tablename__ = "score_outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_submission", "submission_id"),
                      Index("ix_outbox_platform_status", "platform_id", "status", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"))
    # The submission's platform, as on Video (the dashboard's passback counts).
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"),
                                             default=submission_platform)
    payload: Mapped[dict] = mapped_column(JSON)
    # The score's own timestamp: an older one is never sent over a newer one.
    score_timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # A runner's lease while it sends the score: one score of a submission in flight at a time.
    claimed_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    claimed_by: Mapped[Optional[str]] = mapped_column(String(64))

    submission: Mapped[Submission] = relationship()

    def __repr__(self) -> str:
        return f"<ScoreOutbox {self.id} submission={self.submission_id} {self.status}>"


class LaunchRecord(db.Model):
    """A validated launch: who, where, in what role. Its id travels in pages and fetches.

    Carrying the id in the page (not only in a cookie) keeps the tool working inside an
    LMS iframe when the browser blocks third-party cookies.
    """

    __tablename__ = "launch"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_token)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    course_id: Mapped[Optional[int]] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    assignment_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("assignment.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    message_type: Mapped[str] = mapped_column(String(64))
    claims: Mapped[dict] = mapped_column(JSON)  # the validated id_token payload
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
    platform: Mapped[Platform] = relationship()
    course: Mapped[Optional[Course]] = relationship()
    assignment: Mapped[Optional[Assignment]] = relationship()

    def __repr__(self) -> str:
        return f"<LaunchRecord {self.id[:8]}… user={self.user_id} {self.role}>"


class KeyValue(db.Model):
    """Short-lived key/value entries with an expiry (OIDC state, nonces, pylti1p3 cache)."""

    __tablename__ = "key_value"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    def __repr__(self) -> str:
        return f"<KeyValue {self.key}>"


class AccessToken(db.Model):
    """An OAuth2 access token the platform gave us for its services, cached until expiry."""

    __tablename__ = "access_token"
    __table_args__ = (UniqueConstraint("platform_id", "scopes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(String(1024))  # space-separated, sorted
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<AccessToken platform={self.platform_id} expires={self.expires_at}>"


class Setting(db.Model):
    """An admin-set setting; secret values are stored encrypted."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Setting {self.key}>"


class AuditEvent(db.Model):
    """One line of the audit log: who did what to which thing, and when."""

    __tablename__ = "audit_event"
    # Admin pages list a platform's, a course's or a person's events, newest first.
    __table_args__ = (Index("ix_audit_at", "at"), Index("ix_audit_type", "event_type"),
                      Index("ix_audit_actor_at", "actor_id", "at"),
                      Index("ix_audit_course_at", "course_id", "at"),
                      Index("ix_audit_platform_at", "platform_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event_type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    platform_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("platform.id", ondelete="SET NULL"))
    course_id: Mapped[Optional[int]] = mapped_column(ForeignKey("course.id", ondelete="SET NULL"))
    target_type: Mapped[Optional[str]] = mapped_column(String(32))
    target_id: Mapped[Optional[str]] = mapped_column(String(64))
    data: Mapped[Optional[dict]] = mapped_column(JSON)
    ip: Mapped[Optional[str]] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEvent {self.event_type} actor={self.actor_id} {self.target_type}:{self.target_id}>"


class JobLock(db.Model):
    """A lease on a scheduled job, so one replica of the cluster runs it at a time."""

    __tablename__ = "job_lock"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[Optional[str]] = mapped_column(String(128))
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_run_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    last_error: Mapped[Optional[str]] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<JobLock {self.name} owner={self.owner} until={self.locked_until}>"


class JobRun(db.Model):
    """One run of a background job: when, how long, what it counted, how it ended."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_name_started", "name", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[Optional[float]] = mapped_column(Float)
    ok: Mapped[Optional[bool]] = mapped_column(Boolean)  # None while running
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    counts: Mapped[Optional[dict]] = mapped_column(JSON)
    error: Mapped[Optional[str]] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<JobRun {self.id} {self.name} ok={self.ok}>"


class RateCounter(db.Model):
    """One fixed-window rate limit counter, shared by every worker (lti_tool.web.rate_limits)."""

    __tablename__ = "rate_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    def __repr__(self) -> str:
        return f"<RateCounter {self.key} {self.count}>"


class HandoffLink(db.Model):
    """A short-lived link that lets the student's phone upload one attempt (lti_tool/handoff).

    Only the code's keyed hash is stored; the phone that claims the link gets a launch of its
    own (`phone_launch_id`, scoped to the upload endpoints) and nobody else can claim it.
    """

    __tablename__ = "handoff_link"
    __table_args__ = (Index("ix_handoff_link_owner", "user_id", "assignment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    phone_launch_id: Mapped[Optional[str]] = mapped_column(String(64))
    video_id: Mapped[Optional[int]] = mapped_column(ForeignKey("video.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
    assignment: Mapped[Assignment] = relationship()
    video: Mapped[Optional[Video]] = relationship()

    def __repr__(self) -> str:
        return f"<HandoffLink {self.id} user={self.user_id} assignment={self.assignment_id}>"
