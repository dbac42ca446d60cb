"""Launches: third-party login initiation, the OIDC authorization request, and the id_token.

The flow (LTI Core 1.3 section 5.1.1, 1EdTech Security Framework 5.1.1): the LMS posts
iss / login_hint / lti_message_hint / target_link_uri / client_id / lti_deployment_id to the
tool's login URL; the tool redirects the browser to our authorization endpoint; we answer
with an auto-posted form carrying the signed id_token and the tool's state.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from lti_tool.errors import LaunchError, NotFound
from lti_tool.extensions import db
from lti_tool.models import utcnow
from lti_tool.web.request_input import BadInput, loads_object, parse_id

from . import keys, urls
from .control import control
from .models import (DemoCourse, DemoEnrollment, DemoLaunchRequest, DemoLineItem, DemoResourceLink,
                     DemoTool, DemoUser)
from .vocab import (AGS_SCOPES, CONTEXT_TYPE_COURSE, COURSE_ROLE_URIS,
                    DL_CONTENT_TYPE_RESOURCE_LINK, ID_TOKEN_TTL_SECONDS, LTI_VERSION,
                    PRODUCT_FAMILY_CODE, SITE_ADMIN_ROLE_URIS, Claim, MessageType, Scope)

LAUNCH_REQUEST_TTL_SECONDS = 600
# An instructor may browse the tool for a while before returning a deep-linking response.
DEEP_LINK_REQUEST_TTL_SECONDS = 3600
LAUNCH_ID_HINT_KEY = "launchid"
PLATFORM_VERSION = "4.5-demo"
LOCALE = "en"


# ---- who, where ----
def find_user(username: str | None) -> DemoUser:
    """Return the demo user with this username, or refuse with 404."""
    user = db.session.scalar(db.select(DemoUser).filter_by(username=username or ""))
    if user is None:
        raise NotFound(f"The demo LMS has no user named {username!r}.")
    return user


def find_course(key: str | int | None) -> DemoCourse:
    """Return a demo course by its key ("demo-course-1") or its numeric id."""
    course = db.session.scalar(db.select(DemoCourse).filter_by(key=str(key or "")))
    if course is None and parse_id(str(key or "")):
        course = db.session.get(DemoCourse, parse_id(str(key)))
    if course is None:
        raise NotFound(f"The demo LMS has no course {key!r}.")
    return course


def enrollment_of(user: DemoUser, course: DemoCourse) -> DemoEnrollment | None:
    """Return the user's active enrolment in the course, or None."""
    return db.session.scalar(db.select(DemoEnrollment).filter_by(
        user_id=user.id, course_id=course.id, active=True))


def roles_of(user: DemoUser, course: DemoCourse) -> list[str]:
    """Return the role URIs the LMS sends for this user in this course (403 if none)."""
    enrollment = enrollment_of(user, course)
    if enrollment is not None:
        roles = list(COURSE_ROLE_URIS[enrollment.role])
        if user.is_site_admin:
            roles += [r for r in SITE_ADMIN_ROLE_URIS if r not in roles]
        return roles
    if user.is_site_admin:
        return list(SITE_ADMIN_ROLE_URIS)
    raise LaunchError(f"{user.name} is not enrolled in {course.title}.", http_status=403)


def links_of(course: DemoCourse, tool: DemoTool) -> list[DemoResourceLink]:
    """Return the course's activities that launch this tool, oldest first."""
    return list(db.session.scalars(db.select(DemoResourceLink).filter_by(
        course_id=course.id, tool_id=tool.id).order_by(DemoResourceLink.id)))


def lineitems_of_link(link: DemoResourceLink) -> list[DemoLineItem]:
    """Return the line items bound to an activity."""
    return list(db.session.scalars(db.select(DemoLineItem).filter_by(
        resource_link_id=link.id).order_by(DemoLineItem.id)))


# ---- starting a launch ----
def start_launch(tool: DemoTool, user: DemoUser, course: DemoCourse, message_type: str,
                 link: DemoResourceLink | None = None, roles: list[str] | None = None,
                 for_user: DemoUser | None = None,
                 lineitem: DemoLineItem | None = None) -> DemoLaunchRequest:
    """Record a launch the LMS is starting, and return it (its id goes in lti_message_hint)."""
    roles = roles or roles_of(user, course)
    if message_type == MessageType.DATA_PRIVACY:
        link = lineitem = None  # about a person, not an activity
    elif message_type != MessageType.DEEP_LINKING and link is None:
        raise LaunchError("This launch needs an activity (resource link).")
    for thing in (link, lineitem):
        if thing is not None and (thing.course_id != course.id or thing.tool_id != tool.id):
            raise NotFound("That activity is not in this course.")
    if message_type == MessageType.SUBMISSION_REVIEW:
        if for_user is None or lineitem is None:
            raise LaunchError("A submission review needs a student and a line item.")
        if enrollment_of(for_user, course) is None:
            raise NotFound(f"{for_user.name} is not enrolled in {course.title}.")
    db.session.execute(db.delete(DemoLaunchRequest).where(
        DemoLaunchRequest.expires_at < utcnow() - timedelta(days=1)))
    ttl = (DEEP_LINK_REQUEST_TTL_SECONDS if message_type == MessageType.DEEP_LINKING
           else LAUNCH_REQUEST_TTL_SECONDS)
    request = DemoLaunchRequest(
        tool_id=tool.id, user_id=user.id, course_id=course.id, message_type=message_type,
        resource_link_id=link.id if link else None, roles=roles,
        for_user_id=for_user.id if for_user else None,
        lineitem_id=lineitem.id if lineitem else None,
        expires_at=utcnow() + timedelta(seconds=ttl))
    db.session.add(request)
    db.session.commit()
    return request


def login_initiation_fields(request: DemoLaunchRequest) -> dict:
    """Return the fields Moodle posts to the tool's login initiation URL."""
    tool = request.tool
    return {
        "iss": tool.issuer,
        "target_link_uri": target_link_uri(request),
        "login_hint": request.user.sub,
        "lti_message_hint": json.dumps({LAUNCH_ID_HINT_KEY: request.id,
                                        "course": request.course_id}),
        "client_id": tool.client_id,
        "lti_deployment_id": tool.deployment_id,
    }


def target_link_uri(request: DemoLaunchRequest) -> str:
    """Return where the launch should land in the tool."""
    if request.message_type == MessageType.DEEP_LINKING:
        return request.tool.deep_link_url
    return (request.resource_link.url if request.resource_link and request.resource_link.url
            else request.tool.target_link_uri)


# ---- the authorization endpoint ----
class AuthRequestRefused(LaunchError):
    """An authorization request we refuse; `oidc_error` set means: tell the redirect_uri."""

    def __init__(self, message: str, oidc_error: str | None = None, redirect_uri: str = "",
                 state: str | None = None):
        super().__init__(message)
        self.oidc_error = oidc_error
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True)
class AuthResponse:
    """Where and what to auto-post back to the tool."""

    redirect_uri: str
    fields: dict


EXPECTED_AUTH_PARAMS = {"response_type": "id_token", "response_mode": "form_post",
                        "scope": "openid", "prompt": "none"}


def authorize(params: dict) -> AuthResponse:
    """Check an OIDC authorization request and return the id_token form for the tool."""
    tool = _tool_for_client(params.get("client_id"))
    redirect_uri = params.get("redirect_uri") or ""
    if redirect_uri not in tool.redirect_uris:
        raise AuthRequestRefused(
            f"redirect_uri {redirect_uri!r} is not registered for this tool; it must equal one "
            f"of {', '.join(tool.redirect_uris)} exactly.")
    state = params.get("state")

    def refuse(oidc_error: str, message: str):
        return AuthRequestRefused(message, oidc_error, redirect_uri, state)

    for name, expected in EXPECTED_AUTH_PARAMS.items():
        value = params.get(name)
        if name == "scope" and value and expected in value.split():
            continue
        if value != expected:
            code = "unsupported_response_type" if name == "response_type" else "invalid_request"
            if name == "scope":
                code = "invalid_scope"
            raise refuse(code, f"{name} must be {expected!r}, got {value!r}.")
    if not params.get("nonce"):
        raise refuse("invalid_request", "nonce is required.")
    launch = _launch_from_hints(tool, params.get("login_hint"), params.get("lti_message_hint"))
    if launch is None:
        raise refuse("login_required",
                     "login_hint / lti_message_hint do not match a launch this LMS started "
                     "(or it expired): start the launch again from the course page.")
    id_token = keys.sign(id_token_claims(launch, params["nonce"]))
    fields = {"id_token": id_token}
    if state is not None:
        fields["state"] = state
    return AuthResponse(redirect_uri, fields)


def _tool_for_client(client_id: str | None) -> DemoTool:
    tool = db.session.scalar(db.select(DemoTool).filter_by(client_id=client_id or ""))
    if tool is None:
        raise AuthRequestRefused(f"Unknown client_id {client_id!r}: no tool is registered "
                                 "with it in this LMS.")
    return tool


def _launch_from_hints(tool: DemoTool, login_hint: str | None,
                       message_hint: str | None) -> DemoLaunchRequest | None:
    try:
        launch_id = loads_object(message_hint or "")[LAUNCH_ID_HINT_KEY]
    except (BadInput, KeyError):
        return None
    if not isinstance(launch_id, str):
        return None
    launch = db.session.get(DemoLaunchRequest, launch_id)
    if (launch is None or launch.tool_id != tool.id or launch.user.sub != login_hint
            or launch.expires_at <= utcnow()):
        return None
    return launch


# ---- the id_token ----
def id_token_claims(launch: DemoLaunchRequest, nonce: str) -> dict:
    """Return every claim Moodle 4.5 sends for this launch (LTI Core 1.3 section 5.3)."""
    tool, user, course = launch.tool, launch.user, launch.course
    now = int(time.time())
    claims = {
        "iss": tool.issuer, "aud": tool.client_id, "azp": tool.client_id, "sub": user.sub,
        "iat": now, "exp": now + ID_TOKEN_TTL_SECONDS, "nonce": nonce,
        "name": user.name, "given_name": user.given_name, "family_name": user.family_name,
        "email": user.email,
        Claim.MESSAGE_TYPE: launch.message_type,
        Claim.VERSION: LTI_VERSION,
        Claim.DEPLOYMENT_ID: tool.deployment_id,
        Claim.TARGET_LINK_URI: target_link_uri(launch),
        Claim.ROLES: list(launch.roles),
        Claim.CONTEXT: {"id": str(course.id), "label": course.label, "title": course.title,
                        "type": [CONTEXT_TYPE_COURSE]},
        Claim.TOOL_PLATFORM: {"guid": tool.issuer, "name": "Demo LMS",
                              "version": PLATFORM_VERSION,
                              "product_family_code": PRODUCT_FAMILY_CODE},
        Claim.LAUNCH_PRESENTATION: {"document_target": "iframe", "locale": LOCALE,
                                    "return_url": tool.issuer + "/"},
        Claim.CUSTOM: dict(launch.resource_link.custom or {}) if launch.resource_link else {},
    }
    if launch.message_type == MessageType.DATA_PRIVACY:
        # No context and no resource link; the person is the user or whom an admin acts for.
        del claims[Claim.CONTEXT], claims[Claim.CUSTOM]
        person = launch.for_user or user
        claims[Claim.FOR_USER] = {"user_id": person.sub, "name": person.name,
                                  "given_name": person.given_name,
                                  "family_name": person.family_name, "email": person.email}
        return claims
    if launch.resource_link is not None:
        link = launch.resource_link
        claims[Claim.RESOURCE_LINK] = {"id": link.resource_link_id, "title": link.title,
                                       "description": link.text or ""}
    ags = _ags_claim(launch)
    if ags:
        claims[Claim.AGS_ENDPOINT] = ags
    if control(current_app).restrict_scopes([s for s in tool.allowed_scopes
                                             if s == Scope.MEMBERSHIPS]):
        claims[Claim.NRPS] = {
            "context_memberships_url": urls.memberships_url(tool.issuer, course.id, tool.id),
            "service_versions": ["2.0"]}
    if launch.message_type == MessageType.DEEP_LINKING:
        claims[Claim.DL_SETTINGS] = _deep_linking_settings(launch)
    if launch.message_type == MessageType.SUBMISSION_REVIEW:
        student = launch.for_user
        claims[Claim.FOR_USER] = {
            "user_id": student.sub, "name": student.name, "given_name": student.given_name,
            "family_name": student.family_name, "email": student.email,
            "roles": roles_of(student, course)}
    return claims


def _ags_claim(launch: DemoLaunchRequest) -> dict | None:
    tool = launch.tool
    scopes = control(current_app).restrict_scopes([s for s in tool.allowed_scopes
                                                   if s in AGS_SCOPES])
    if not scopes:
        return None
    claim = {"scope": scopes,
             "lineitems": urls.lineitems_url(tool.issuer, launch.course_id, tool.id)}
    bound = [launch.lineitem] if launch.lineitem else (
        lineitems_of_link(launch.resource_link) if launch.resource_link else [])
    if len(bound) == 1:  # Moodle sends `lineitem` only while exactly one is bound
        claim["lineitem"] = urls.lineitem_url(tool.issuer, launch.course_id, bound[0].id, tool.id)
    return claim


def _deep_linking_settings(launch: DemoLaunchRequest) -> dict:
    return {
        "deep_link_return_url": urls.deep_link_return_url(launch.tool.issuer),
        "accept_types": [DL_CONTENT_TYPE_RESOURCE_LINK],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_multiple": True,
        "auto_create": True,
        "title": "Add a video assignment",
        "text": f"Add an activity to {launch.course.title}",
        "data": launch.id,
    }
