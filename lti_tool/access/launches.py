"""Who is asking: the launch behind a request, and what its user is in the course now.

A launch id reaches us in the `X-LTI-Launch` header (fetch calls), the `launch` query or
form field (links and forms), or the session cookie when the browser keeps it. Pages
after the launch therefore keep working when third-party cookies are blocked.

A change (POST, PUT, PATCH, DELETE) must carry its launch in the header or a form field:
the session cookie is `SameSite=None` inside LMS iframes, so a cookie alone could be a
cross-site forgery, and a URL can leak through logs.
"""
from __future__ import annotations

import functools
from urllib.parse import parse_qsl, urlencode, urlsplit
from typing import Callable, Iterable

from flask import g, request, session, url_for
from flask_login import login_user
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import defer, joinedload

from lti_tool.access.permissions import role_from, role_in_course
from lti_tool.access.roles import Role
from lti_tool.errors import Forbidden, NotAuthenticated, NotFound
from lti_tool.extensions import db
from lti_tool.models import Enrollment, LaunchRecord, Platform, User, utcnow
from lti_tool.web.request_input import NUL, parse_id

LAUNCH_HEADER = "X-LTI-Launch"
LAUNCH_PARAM = "launch"
SESSION_LAUNCH_KEY = "launch_id"


def load_user(user_id: str) -> User | None:
    """Return the user a Flask-Login session names (registered in the app factory)."""
    user_id = parse_id(user_id)
    return db.session.get(User, user_id) if user_id else None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def posted_launch_id() -> str | None:
    """Return the launch id sent in the header or a form field (what a change must carry)."""
    return (request.headers.get(LAUNCH_HEADER)
            or (request.form.get(LAUNCH_PARAM) if request.mimetype in
                ("application/x-www-form-urlencoded", "multipart/form-data") else None))


def _launch_id_from_request() -> str | None:
    return (posted_launch_id() or request.args.get(LAUNCH_PARAM)
            or session.get(SESSION_LAUNCH_KEY))


# One statement object for every request: its cache key is worked out once, not per call.
_LAUNCH_QUERY = (
    select(LaunchRecord, Enrollment)
    .outerjoin(Enrollment, and_(Enrollment.course_id == LaunchRecord.course_id,
                                Enrollment.user_id == LaunchRecord.user_id))
    .options(defer(LaunchRecord.claims), joinedload(LaunchRecord.user),
             joinedload(LaunchRecord.assignment),
             joinedload(LaunchRecord.platform).defer(Platform.jwks_cache))
    .where(LaunchRecord.id == bindparam("launch_id")))


def current_launch() -> LaunchRecord | None:
    """Return the live launch behind this request, or None."""
    # Cached per request, not per app context: an app context may outlive a request.
    cached = g.get("lti_launch_cache")
    if cached is not None and cached[0] is request._get_current_object():
        return cached[1]
    launch = enrollment = None
    launch_id = _launch_id_from_request()
    if launch_id and len(launch_id) <= 64 and NUL not in launch_id:
        # The user, the assignment, the platform and the user's enrollment come in the same
        # query: nearly every view needs them (current_role() the enrollment, the page's
        # CSP the platform). The two JSON documents few views read (the id_token's claims,
        # the platform's key set) are left to load when read: decoding them on every
        # request was a tenth of a playback grant's CPU (bench/profile_launch.py).
        row = db.session.execute(_LAUNCH_QUERY, {"launch_id": launch_id}).first()
        if row is not None and row[0].expires_at > utcnow():
            launch, enrollment = row
    g.lti_launch_cache = (request._get_current_object(), launch)
    g.lti_enrollment = enrollment
    return launch


def remember_launch(launch: LaunchRecord) -> None:
    """Log the launch's user in and keep the launch id in the session cookie too."""
    login_user(launch.user)
    session[SESSION_LAUNCH_KEY] = launch.id
    g.lti_launch_cache = (request._get_current_object(), launch)
    g.pop("lti_enrollment", None)
    g.pop("lti_role_cache", None)


def current_role() -> Role | None:
    """Return what the asking user is in the launch's course now, or None.

    Decided by lti_tool.access.permissions from the current enrollment (the LMS's roster,
    refreshed by launches and roster syncs), not from the role the launch carried hours ago:
    a TA removed from the course loses their rights at the next roster sync. A launch
    without a course (an administrator's) keeps its own role.
    """
    launch = current_launch()
    if launch is None:
        return None
    cached = g.get("lti_role_cache")
    if cached is not None and cached[0] is request._get_current_object():
        return cached[1]
    if launch.course_id is None:
        role = Role(launch.role)
    elif "lti_enrollment" in g:  # loaded with the launch
        role = role_from(launch.user, g.lti_enrollment)
    else:
        role = role_in_course(launch.user, launch.course)
    g.lti_role_cache = (request._get_current_object(), role)
    return role


def assignment_launch() -> LaunchRecord:
    """Return the current launch, which must be tied to an assignment (else 404)."""
    launch = current_launch()
    if launch is None or launch.assignment is None:
        raise NotFound("This launch is not tied to an assignment.")
    return launch


def require_launch(roles: Iterable[Role] | None = None, *, assignment: bool = False
                   ) -> Callable:
    """Refuse a view unless a live launch is behind the request, its user is now one of
    `roles` in the launch's course, and (with `assignment`) the launch names an assignment."""
    allowed = frozenset(roles) if roles else None

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            launch = current_launch()
            if launch is None:
                raise NotAuthenticated(
                    "Your session has expired or was not found. Open this activity again "
                    "from your course page.",
                    hint="If this keeps happening, your browser may be blocking cookies "
                         "in embedded pages: use the 'open in a new window' link.")
            if request.method not in SAFE_METHODS and not posted_launch_id():
                raise Forbidden("This change must come from the tool's own page. "
                                "Reload it and try again.", code="launch_not_explicit")
            if allowed is not None and current_role() not in allowed:
                raise Forbidden("Your role in this course does not allow this.")
            if assignment:
                assignment_launch()
            return view(*args, **kwargs)
        return wrapper
    return decorator


def launch_url_for(endpoint: str, **values) -> str:
    """Build a URL that carries the current launch id, for pages inside an LMS iframe."""
    launch = current_launch()
    if launch is not None:
        values.setdefault(LAUNCH_PARAM, launch.id)
    return url_for(endpoint, **values)


def posted_page_url() -> str:
    """Return the page a form was posted from, with the current launch, for the framed
    page's "Open in a new window" link; empty when there is none to offer.

    A page that answers a POST has no address of its own: opening the form's action in a
    new window is a GET it may not allow (405), and its URL carries no launch id. The form's
    page does (`Referrer-Policy: same-origin` sends it for our own forms); another site's
    address is never offered.
    """
    referrer = urlsplit(request.referrer or "")
    # Only a launch this request already checked: the page may be an error page, whose
    # database session is not to be used again.
    cached = g.get("lti_launch_cache")
    launch = cached[1] if cached is not None and cached[0] is request._get_current_object() \
        else None
    if launch is None or referrer.netloc != request.host or not referrer.path.startswith("/"):
        return ""
    query = [(k, v) for k, v in parse_qsl(referrer.query) if k != LAUNCH_PARAM]
    return referrer.path + "?" + urlencode(query + [(LAUNCH_PARAM, launch.id)])
