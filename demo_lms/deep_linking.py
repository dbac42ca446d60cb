"""Deep Linking 2.0, platform side: accept the tool's LtiDeepLinkingResponse and create activities.

Checks (Deep Linking 2.0 section 4.5, Security Framework 5.1.3): signature by the tool's
key from its JWKS, iss = the tool's client_id, aud = our issuer, exp/iat, a nonce never
seen before, the message type and version, our deployment id, and the `data` we sent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import jwt

from lti_tool.errors import LaunchError
from lti_tool.extensions import db
from lti_tool.models import utcnow

from .errors import InvalidClient
from .models import DemoLaunchRequest, DemoLineItem, DemoResourceLink, DemoTool
from .tokens import remember_once, tool_by_client_id, verify_tool_jwt
from .vocab import DL_CONTENT_TYPE_RESOURCE_LINK, LTI_VERSION, Claim, MessageType

log = logging.getLogger(__name__)
DEFAULT_TITLE = "Untitled activity"


@dataclass
class DeepLinkOutcome:
    """What a deep-linking response created, for the instructor to see."""

    request: DemoLaunchRequest
    created: list[tuple[DemoResourceLink, DemoLineItem | None]] = field(default_factory=list)
    ignored_types: list[str] = field(default_factory=list)
    message: str | None = None
    error_message: str | None = None


def accept_response(token: str | None) -> DeepLinkOutcome:
    """Verify a deep-linking response JWT and create the activities it returns."""
    if not token:
        raise LaunchError("The deep-linking response has no JWT parameter.")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise LaunchError("The deep-linking response is not a JWT.") from None
    tool = tool_by_client_id(unverified.get("iss"))
    if tool is None:
        raise LaunchError("The deep-linking response comes from an unknown client_id (iss).")
    try:
        claims = verify_tool_jwt(token, tool, audience=tool.issuer, require=["nonce"])
    except InvalidClient as exc:
        raise LaunchError(f"The deep-linking response was refused: {exc.message}") from None
    request = _check_message(claims, tool)
    try:
        remember_once("dl_nonce", tool.client_id, str(claims["nonce"]), int(claims["exp"]))
    except InvalidClient:
        raise LaunchError("This deep-linking response was already received (nonce reused).") \
            from None
    outcome = DeepLinkOutcome(request, message=claims.get(Claim.DL_MSG),
                              error_message=claims.get(Claim.DL_ERRORMSG))
    for item in claims.get(Claim.DL_CONTENT_ITEMS) or []:
        if not isinstance(item, dict) or item.get("type") != DL_CONTENT_TYPE_RESOURCE_LINK:
            outcome.ignored_types.append(str(item.get("type") if isinstance(item, dict) else item))
            continue
        outcome.created.append(_create_activity(request, item))
    db.session.commit()
    log.info("demo LMS: deep linking created %d activities in course %s",
             len(outcome.created), request.course_id)
    return outcome


def _check_message(claims: dict, tool: DemoTool) -> DemoLaunchRequest:
    if claims.get(Claim.MESSAGE_TYPE) != MessageType.DEEP_LINKING_RESPONSE:
        raise LaunchError(f"The message type must be {MessageType.DEEP_LINKING_RESPONSE}.")
    if claims.get(Claim.VERSION) != LTI_VERSION:
        raise LaunchError(f"The LTI version must be {LTI_VERSION}.")
    if claims.get(Claim.DEPLOYMENT_ID) != tool.deployment_id:
        raise LaunchError("The deployment_id does not match this tool's deployment.")
    items = claims.get(Claim.DL_CONTENT_ITEMS)
    if items is not None and not isinstance(items, list):
        raise LaunchError("content_items must be a list.")
    data = claims.get(Claim.DL_DATA)
    request = db.session.get(DemoLaunchRequest, data) if isinstance(data, str) else None
    if (request is None or request.tool_id != tool.id
            or request.message_type != MessageType.DEEP_LINKING):
        raise LaunchError("The response's data claim does not match a deep-linking request "
                          "this LMS sent.")
    if request.expires_at <= utcnow():
        raise LaunchError("The deep-linking request has expired: add the activity again.")
    return request


def _create_activity(request: DemoLaunchRequest, item: dict):
    custom = item.get("custom")
    link = DemoResourceLink(
        course_id=request.course_id, tool_id=request.tool_id,
        title=str(item.get("title") or DEFAULT_TITLE)[:255], text=item.get("text"),
        url=item.get("url"),
        custom={str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else None)
    db.session.add(link)
    db.session.flush()
    spec = item.get("lineItem")
    lineitem = None
    if isinstance(spec, dict):
        maximum = spec.get("scoreMaximum")
        if not isinstance(maximum, (int, float)) or isinstance(maximum, bool) or maximum <= 0:
            raise LaunchError("A content item's lineItem needs scoreMaximum greater than 0.")
        lineitem = DemoLineItem(
            course_id=request.course_id, tool_id=request.tool_id, resource_link_id=link.id,
            label=str(spec.get("label") or link.title)[:255], score_maximum=float(maximum),
            resource_id=spec.get("resourceId"), tag=spec.get("tag"))
        db.session.add(lineitem)
    return link, lineitem
