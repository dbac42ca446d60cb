"""The demo LMS's own tables (prefixed `demo_`): courses, people, the tool it knows, its gradebook.

These model the platform side of LTI only; the tool never reads them. They live in the
tool's database (`db.session` reads and writes them) but in a metadata of their own,
`DemoBase.metadata`: the tool's migrations and `db.create_all()` never see them, and
`demo_lms.schema` creates them when the demo LMS is first used.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import (JSON, Boolean, Float, ForeignKey, Index, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lti_tool.extensions import NAMING_CONVENTION
from lti_tool.models import UTCDateTime, new_token, utcnow

from .vocab import CourseRole


class DemoBase(DeclarativeBase):
    """Declarative base of the demo LMS's models, with a metadata apart from the tool's."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DemoCourse(DemoBase):
    """A course of the demo LMS (an LTI context)."""

    __tablename__ = "demo_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # stable name used by tests
    title: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(64))

    enrollments: Mapped[list["DemoEnrollment"]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="DemoEnrollment.id")

    def __repr__(self) -> str:
        return f"<DemoCourse {self.id} {self.key}>"


class DemoUser(DemoBase):
    """A person in the demo LMS; `username` is how pages and tests name them."""

    __tablename__ = "demo_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    given_name: Mapped[str] = mapped_column(String(128))
    family_name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str] = mapped_column(String(320))
    is_site_admin: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def sub(self) -> str:
        """Return the LTI subject, Moodle-style: the user id as a string."""
        return str(self.id)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def __repr__(self) -> str:
        return f"<DemoUser {self.id} {self.username}>"


class DemoEnrollment(DemoBase):
    """A user's role in a demo course."""

    __tablename__ = "demo_enrollment"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("demo_course.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_user.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=CourseRole.STUDENT)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    course: Mapped[DemoCourse] = relationship(back_populates="enrollments")
    user: Mapped[DemoUser] = relationship()

    def __repr__(self) -> str:
        return f"<DemoEnrollment {self.user_id} in {self.course_id} as {self.role}>"


class DemoTool(DemoBase):
    """The demo LMS's registration of one tool (one per base URL the app is reached at)."""

    __tablename__ = "demo_tool"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    deployment_id: Mapped[str] = mapped_column(String(64), default="1")
    # The platform's issuer as this tool sees it: "<base URL>/demo-lms".
    issuer: Mapped[str] = mapped_column(String(512))
    login_url: Mapped[str] = mapped_column(String(1024), unique=True)
    redirect_uris: Mapped[list] = mapped_column(JSON)
    jwks_uri: Mapped[str] = mapped_column(String(1024))
    target_link_uri: Mapped[str] = mapped_column(String(1024))
    deep_link_url: Mapped[str] = mapped_column(String(1024))
    # The service scopes the LMS admin allowed for this tool.
    allowed_scopes: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<DemoTool {self.id} {self.client_id} {self.login_url}>"


class DemoResourceLink(DemoBase):
    """An activity on a demo course page that launches the tool."""

    __tablename__ = "demo_resource_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("demo_course.id", ondelete="CASCADE"))
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tool.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    text: Mapped[Optional[str]] = mapped_column(Text)
    url: Mapped[Optional[str]] = mapped_column(String(1024))  # None: the tool's default
    custom: Mapped[Optional[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    course: Mapped[DemoCourse] = relationship()
    tool: Mapped[DemoTool] = relationship()

    @property
    def resource_link_id(self) -> str:
        """Return the LTI resource link id, Moodle-style: the activity id as a string."""
        return str(self.id)

    def __repr__(self) -> str:
        return f"<DemoResourceLink {self.id} {self.title!r}>"


class DemoLineItem(DemoBase):
    """A gradebook column, created with an activity or by the tool through AGS."""

    __tablename__ = "demo_lineitem"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("demo_course.id", ondelete="CASCADE"))
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tool.id", ondelete="CASCADE"))
    resource_link_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("demo_resource_link.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(255))
    score_maximum: Mapped[float] = mapped_column(Float)
    resource_id: Mapped[Optional[str]] = mapped_column(String(255))
    tag: Mapped[Optional[str]] = mapped_column(String(255))
    start_date_time: Mapped[Optional[str]] = mapped_column(String(64))
    end_date_time: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    course: Mapped[DemoCourse] = relationship()
    tool: Mapped[DemoTool] = relationship()
    resource_link: Mapped[Optional[DemoResourceLink]] = relationship()

    def __repr__(self) -> str:
        return f"<DemoLineItem {self.id} {self.label!r} max={self.score_maximum}>"


class DemoScore(DemoBase):
    """One score a tool posted; `applied` is False when an older timestamp was ignored."""

    __tablename__ = "demo_score"
    __table_args__ = (Index("ix_demo_score_item_user", "lineitem_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lineitem_id: Mapped[int] = mapped_column(ForeignKey("demo_lineitem.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_user.id", ondelete="CASCADE"))
    score_given: Mapped[Optional[float]] = mapped_column(Float)
    score_maximum: Mapped[Optional[float]] = mapped_column(Float)
    comment: Mapped[Optional[str]] = mapped_column(Text)
    activity_progress: Mapped[str] = mapped_column(String(32))
    grading_progress: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied: Mapped[bool] = mapped_column(Boolean, default=True)
    body: Mapped[dict] = mapped_column(JSON)  # as received, extensions included

    lineitem: Mapped[DemoLineItem] = relationship()
    user: Mapped[DemoUser] = relationship()

    def __repr__(self) -> str:
        return f"<DemoScore {self.id} item={self.lineitem_id} user={self.user_id}>"


class DemoLaunchRequest(DemoBase):
    """A launch the LMS started: what the login_hint / lti_message_hint pair stands for."""

    __tablename__ = "demo_launch_request"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_token)
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tool.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_user.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("demo_course.id", ondelete="CASCADE"))
    resource_link_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("demo_resource_link.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list] = mapped_column(JSON)
    for_user_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("demo_user.id", ondelete="CASCADE"))
    lineitem_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("demo_lineitem.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    tool: Mapped[DemoTool] = relationship()
    user: Mapped[DemoUser] = relationship(foreign_keys=[user_id])
    course: Mapped[DemoCourse] = relationship()
    resource_link: Mapped[Optional[DemoResourceLink]] = relationship()
    for_user: Mapped[Optional[DemoUser]] = relationship(foreign_keys=[for_user_id])
    lineitem: Mapped[Optional[DemoLineItem]] = relationship()

    def __repr__(self) -> str:
        return f"<DemoLaunchRequest {self.id[:8]}… {self.message_type}>"


class DemoAccessToken(DemoBase):
    """An OAuth2 access token granted to a tool; only its SHA-256 is stored."""

    __tablename__ = "demo_access_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("demo_tool.id", ondelete="CASCADE"))
    scopes: Mapped[list] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    tool: Mapped[DemoTool] = relationship()

    def __repr__(self) -> str:
        return f"<DemoAccessToken tool={self.tool_id} expires={self.expires_at}>"


class DemoUsedNonce(DemoBase):
    """A JWT `jti` or deep-linking `nonce` already accepted, kept until the JWT expires."""

    __tablename__ = "demo_used_nonce"

    value: Mapped[str] = mapped_column(String(255), primary_key=True)  # "<kind>:<client>:<v>"
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    def __repr__(self) -> str:
        return f"<DemoUsedNonce {self.value}>"
