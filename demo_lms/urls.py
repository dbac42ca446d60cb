"""URL rules of the demo LMS's LTI endpoints, and the absolute URLs it puts in its messages.

Service URLs copy Moodle 4.5's shapes (mod/lti/services.php/...): the line item URL ends in
`/lineitem?type_id=<tool>`, so a tool must insert `/scores` before the query string.
"""
from __future__ import annotations

URL_PREFIX = "/demo-lms"
TYPE_ID_PARAM = "type_id"

AUTH = "/auth"
TOKEN = "/token"
JWKS = "/jwks"
DEEP_LINK_RETURN = "/deep-link-return"
LINEITEMS = "/services/<int:course_id>/lineitems"
LINEITEM = "/services/<int:course_id>/lineitems/<int:lineitem_id>/lineitem"
SCORES = LINEITEM + "/scores"
RESULTS = LINEITEM + "/results"
MEMBERSHIPS = "/services/CourseSection/<int:course_id>/bindings/<int:tool_id>/memberships"


def issuer_for(base_url: str) -> str:
    """Return the platform issuer for the app reached at `base_url`."""
    return base_url.rstrip("/") + URL_PREFIX


def _fill(rule: str, **values) -> str:
    for name, value in values.items():
        rule = rule.replace(f"<int:{name}>", str(int(value)))
    return rule


def auth_url(issuer: str) -> str:
    return issuer + AUTH


def token_url(issuer: str) -> str:
    return issuer + TOKEN


def jwks_url(issuer: str) -> str:
    return issuer + JWKS


def deep_link_return_url(issuer: str) -> str:
    return issuer + DEEP_LINK_RETURN


def lineitems_url(issuer: str, course_id: int, tool_id: int) -> str:
    return f"{issuer}{_fill(LINEITEMS, course_id=course_id)}?{TYPE_ID_PARAM}={tool_id}"


def lineitem_url(issuer: str, course_id: int, lineitem_id: int, tool_id: int) -> str:
    path = _fill(LINEITEM, course_id=course_id, lineitem_id=lineitem_id)
    return f"{issuer}{path}?{TYPE_ID_PARAM}={tool_id}"


def memberships_url(issuer: str, course_id: int, tool_id: int) -> str:
    return issuer + _fill(MEMBERSHIPS, course_id=course_id, tool_id=tool_id)
