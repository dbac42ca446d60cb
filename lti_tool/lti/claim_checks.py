"""Check the shape of a verified launch's claims before anything reads them (LTI 1.3 core 5).

The signature says who sent the claims, not that they are well formed: an LMS (or a
platform someone registered) may send roles as a number or a resource link as a list.
Provisioning, pylti1p3's message checks and our pages then read claims that are known to
have the shape the specifications give them; a malformed claim is refused with the same
clear launch page as every other refusal, naming the claim.
"""
from __future__ import annotations

import math
import re
from typing import Any

from lti_tool.errors import LaunchError
from lti_tool.housekeeping import CUSTOM_RETENTION_DAYS, MAX_RETENTION_DAYS
from lti_tool.lti import claims as c
from lti_tool.web.request_input import NUL, string_problem

MAX_ID_CHARS = 255  # the columns that keep sub, context and resource link ids
MAX_URL_CHARS = 1024  # the columns that keep service URLs
MAX_FORMATS_CHARS = 255
MAX_FILE_BYTES = 2**62
MAX_DURATION_SECONDS = 7 * 24 * 3600
MAX_SCORE = 10_000
_WHOLE = re.compile(r"[0-9]{1,19}")

# Claims that, when present, are JSON objects (LTI 1.3 core 5.3-5.4, AGS 2.0 3.1, NRPS 2.0
# 3.6.1, Deep Linking 2.0 4.4.1, AGS submission review).
OBJECT_CLAIMS = {
    c.CONTEXT: "context", c.RESOURCE_LINK: "resource_link", c.CUSTOM: "custom",
    c.AGS_ENDPOINT: "AGS endpoint", c.NRPS: "names and roles service",
    c.DL_SETTINGS: "deep linking settings", c.LAUNCH_PRESENTATION: "launch_presentation",
    c.LIS: "lis", c.TOOL_PLATFORM: "tool_platform", c.FOR_USER: "for_user",
}
# The ids inside those objects, which become database keys.
ID_FIELDS = ((c.CONTEXT, "id"), (c.RESOURCE_LINK, "id"), (c.FOR_USER, "user_id"),
             (c.TOOL_PLATFORM, "guid"))
# Service URLs we keep.
URL_FIELDS = ((c.AGS_ENDPOINT, "lineitem"), (c.AGS_ENDPOINT, "lineitems"),
              (c.NRPS, "context_memberships_url"))
# Texts read from those objects (the return URL is a form's action, kept only in the claims).
TEXT_FIELDS = ((c.DL_SETTINGS, "deep_link_return_url"), (c.FOR_USER, "name"),
               (c.FOR_USER, "given_name"), (c.FOR_USER, "family_name"), (c.FOR_USER, "email"))
# name -> (lowest, highest); a retention of 0 days keeps the assignment's videos for ever.
CUSTOM_WHOLE_RANGES = {"max_file_bytes": (1, MAX_FILE_BYTES),
                       "max_duration_seconds": (1, MAX_DURATION_SECONDS),
                       CUSTOM_RETENTION_DAYS: (0, MAX_RETENTION_DAYS)}
CUSTOM_MAX_SCORE = "max_score"
CUSTOM_FORMATS = "allowed_formats"


def refuse(claim: str, problem: str) -> LaunchError:
    """Return the refusal of one malformed claim, naming it."""
    claim = claim.encode("utf-8", "replace").decode("utf-8").replace(NUL, "")[:200]
    return LaunchError(f"The launch's `{claim}` claim {problem}.", code="malformed_claim",
                       hint="This is a problem of the LMS or its registration; tell its "
                            "administrator which claim is malformed.")


def check_claim_shapes(claims: dict) -> None:
    """Refuse a launch whose claims do not have the shapes the specifications give them."""
    _check_strings(claims)
    sub = claims.get("sub")  # a missing one is refused by the message checks that follow
    if sub not in (None, "") and not (isinstance(sub, str) and sub.strip()
                                      and len(sub) <= MAX_ID_CHARS):
        raise refuse("sub", f"must be a non-empty string of at most {MAX_ID_CHARS} characters")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise refuse("nonce", "must be a string")
    deployment_id = claims.get(c.DEPLOYMENT_ID)
    if deployment_id is not None and (not isinstance(deployment_id, str)
                                      or len(deployment_id) > MAX_ID_CHARS):
        raise refuse(c.DEPLOYMENT_ID, f"must be a string of at most {MAX_ID_CHARS} characters")
    roles = claims.get(c.ROLES)
    if roles is not None and not (isinstance(roles, list)
                                  and all(isinstance(r, str) for r in roles)):
        raise refuse(c.ROLES, "must be a list of role URIs (strings)")
    for uri, name in OBJECT_CLAIMS.items():
        if claims.get(uri) is not None and not isinstance(claims[uri], dict):
            raise refuse(uri, f"({name}) must be a JSON object")
    for uri, field in ID_FIELDS:
        value = (claims.get(uri) or {}).get(field)
        if value is not None and not _is_short_id(value):
            raise refuse(uri, f"has an `{field}` that is not a string or number of at most "
                              f"{MAX_ID_CHARS} characters")
    for uri, field in URL_FIELDS:
        value = (claims.get(uri) or {}).get(field)
        if value is not None and not (isinstance(value, str) and len(value) <= MAX_URL_CHARS):
            raise refuse(uri, f"has a `{field}` that is not a URL of at most {MAX_URL_CHARS} "
                              "characters")
    scope = (claims.get(c.AGS_ENDPOINT) or {}).get("scope")
    if scope is not None and not (isinstance(scope, list)
                                  and all(isinstance(s, str) for s in scope)):
        raise refuse(c.AGS_ENDPOINT, "has a `scope` that is not a list of strings")
    for uri, field in TEXT_FIELDS:
        value = (claims.get(uri) or {}).get(field)
        if value is not None and not isinstance(value, str):
            raise refuse(uri, f"has a `{field}` that is not a string")
    _check_custom(claims.get(c.CUSTOM) or {})


def _check_custom(custom: dict) -> None:
    """Check our own settings among the custom parameters (set by our deep linking)."""
    for name, (low, limit) in CUSTOM_WHOLE_RANGES.items():
        value = custom.get(name)
        if value in (None, ""):
            continue
        number = value if isinstance(value, int) and not isinstance(value, bool) else (
            int(value.strip()) if isinstance(value, str) and _WHOLE.fullmatch(value.strip())
            else None)
        if number is None or not low <= number <= limit:
            raise refuse(c.CUSTOM, f"has `{name}` {str(value)[:40]!r}, not a whole number "
                                   f"from {low} to {limit}")
    value = custom.get(CUSTOM_MAX_SCORE)
    if value not in (None, ""):
        try:
            score = float(value.strip()) if isinstance(value, str) else (
                float(value) if isinstance(value, (int, float)) and not isinstance(value, bool)
                else math.nan)
        except (ValueError, OverflowError):
            score = math.nan
        if not (math.isfinite(score) and 0 < score <= MAX_SCORE):
            raise refuse(c.CUSTOM, f"has `{CUSTOM_MAX_SCORE}` {str(value)[:40]!r}, not a "
                                   f"number above 0 and at most {MAX_SCORE}")
    formats = custom.get(CUSTOM_FORMATS)
    if isinstance(formats, str) and len(formats.strip()) > MAX_FORMATS_CHARS:
        raise refuse(c.CUSTOM, f"has `{CUSTOM_FORMATS}` longer than {MAX_FORMATS_CHARS} "
                               "characters")


def _is_short_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return len(str(value)) <= MAX_ID_CHARS
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS


def _check_strings(claims: dict) -> None:
    """Refuse NUL and lone surrogates in any string or key, at any depth (no recursion)."""
    for key in claims:
        problem = string_problem(key) if isinstance(key, str) else None
        if problem:
            raise refuse(key, f"name holds {problem}")
    stack: list[tuple[str, Any]] = list(claims.items())
    while stack:
        top, item = stack.pop()
        texts = [item] if isinstance(item, str) else []
        if isinstance(item, dict):
            texts.extend(k for k in item if isinstance(k, str))
            stack.extend((top, v) for v in item.values())
        elif isinstance(item, list):
            stack.extend((top, v) for v in item)
        for text in texts:
            problem = string_problem(text)
            if problem:
                raise refuse(top, f"holds {problem}")
