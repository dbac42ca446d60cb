"""The demo LMS blueprint: course pages that launch the tool, and the platform's LTI endpoints.

Registered only when DEMO_LMS is true (otherwise none of its URLs exist). The pages have no
login of their own on purpose (pick who you are); they exist for development and tests only.
"""
from __future__ import annotations

import logging

import jwt
from flask import (Blueprint, Flask, current_app, jsonify, make_response, render_template, request,
                   url_for)
from sqlalchemy.exc import OperationalError

from lti_tool.errors import (LaunchError, NotFound, ToolError, is_schema_missing, render_error,
                             schema_missing_response)
from lti_tool.extensions import db
from lti_tool.web.request_input import json_body, parse_id

from . import ags, deep_linking, gradebook, keys, launches, nrps, tokens, urls
from .control import control
from .errors import OAuthError, UnsupportedMediaType
from .models import DemoResourceLink, DemoTool
from .paging import page_of
from .registration import ensure_demo_registration
from .schema import init_app as init_schema, schema
from .vocab import MediaType, MessageType, Scope, role_label

log = logging.getLogger(__name__)

bp = Blueprint("demo_lms", __name__, url_prefix=urls.URL_PREFIX)

SERVICE_ENDPOINTS = frozenset({
    "demo_lms.lineitems", "demo_lms.lineitem", "demo_lms.scores", "demo_lms.results",
    "demo_lms.memberships", "demo_lms.jwks"})
TOKEN_ENDPOINT = "demo_lms.token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
DEFAULT_STAFF_USER = "instructor"


def init_app(app: Flask) -> None:
    """Create the fault-injection controller and the schema guard, and warn loudly."""
    control(app)
    init_schema(app)
    if not app.testing:
        log.warning("DEMO_LMS is on: /demo-lms/ lets anyone launch as any demo user. "
                    "Never enable it on a server reachable by others.")


@bp.before_request
def _ensure_tables():
    schema(current_app).ensure_tables()


@bp.errorhandler(ToolError)
def _handle_error(err: ToolError):
    log.warning("demo LMS: %s %s -> %s %s: %s", request.method, request.path,
                err.http_status, err.code, err.message)
    if request.endpoint == TOKEN_ENDPOINT:  # OAuth 2.0 (RFC 6749 section 5.2) error shape
        resp = jsonify(error=err.code, error_description=err.message)
    elif request.endpoint in SERVICE_ENDPOINTS:
        resp = jsonify(error={"code": err.code, "message": err.message})
    else:
        return render_error(err.http_status, err.code, err.title, err.message, err.hint,
                            err.headers)
    resp.status_code = err.http_status
    resp.headers.update(err.headers)
    if request.endpoint == TOKEN_ENDPOINT:
        resp.headers.update(NO_STORE)
    return resp


@bp.errorhandler(OperationalError)
def _handle_database_busy(err: OperationalError):
    # On SQLite a tool request that holds a write transaction while it calls us blocks our
    # writes: answer like a busy LMS (retryable) rather than with a bare 500.
    db.session.rollback()
    if is_schema_missing(err):
        return schema_missing_response()
    log.warning("demo LMS: database busy on %s %s: %s", request.method, request.path,
                str(err.orig)[:200])
    return _handle_error(ToolError("The demo LMS's database is busy; try again.",
                                   code="temporarily_unavailable", http_status=503,
                                   headers={"Retry-After": "1"}))


def _base_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")


def _current_tool() -> DemoTool:
    return ensure_demo_registration(_base_url())


# ---- pages ----
@bp.get("/")
def home():
    """Show the demo courses, one-click launches and the gradebook."""
    tool = _current_tool()
    return render_template("demo_lms/home.html", tool=tool,
                           courses=gradebook.course_overviews(tool),
                           admins=gradebook.site_admins(),
                           platform=gradebook.registration_summary(tool))


@bp.get("/course/<int:course_id>/activity/<int:link_id>")
def activity(course_id: int, link_id: int):
    """Show an activity page with the tool launched in an iframe, as a chosen user."""
    tool = _current_tool()
    course = launches.find_course(course_id)
    link = _link_of(tool, course.id, link_id)
    user = launches.find_user(request.args.get("user") or DEFAULT_STAFF_USER)
    launch_url = url_for(".launch", course=course.id, link=link.id, user=user.username)
    return _frame(course, link.title, user, launch_url)


@bp.get("/course/<int:course_id>/add-activity")
def add_activity(course_id: int):
    """Open the tool's deep-linking picker to add an activity to the course."""
    _current_tool()
    course = launches.find_course(course_id)
    user = launches.find_user(request.args.get("user") or DEFAULT_STAFF_USER)
    launch_url = url_for(".launch", course=course.id, user=user.username,
                         message_type=MessageType.DEEP_LINKING)
    return _frame(course, "Add an activity", user, launch_url)


@bp.get("/course/<int:course_id>/lineitem/<int:lineitem_id>/review/<username>")
def submission_review(course_id: int, lineitem_id: int, username: str):
    """Open the tool's submission review of one student ("grade analysis" in the gradebook)."""
    tool = _current_tool()
    course = launches.find_course(course_id)
    item = ags.lineitem_for(tool.id, course.id, lineitem_id)
    student = launches.find_user(username)
    user = launches.find_user(request.args.get("user") or DEFAULT_STAFF_USER)
    launch_url = url_for(".launch", course=course.id, user=user.username, lineitem=item.id,
                         link=item.resource_link_id, for_user=student.username,
                         message_type=MessageType.SUBMISSION_REVIEW)
    return _frame(course, f"{item.label}: {student.name}", user, launch_url)


@bp.get("/privacy/<username>")
def privacy(username: str):
    """Open the tool's data privacy page about a person, as them or as a site admin."""
    _current_tool()
    course = launches.find_course(request.args.get("course") or "demo-course-1")
    person = launches.find_user(username)
    user = launches.find_user(request.args.get("user") or username)
    launch_url = url_for(".launch", course=course.id, user=user.username,
                         for_user=person.username, message_type=MessageType.DATA_PRIVACY)
    return _frame(course, f"Data held about {person.name}", user, launch_url)


def _frame(course, title: str, user, launch_url: str):
    roles = [role_label(uri) for uri in launches.roles_of(user, course)]
    return render_template("demo_lms/frame.html", course=course, title=title, user=user,
                           roles=roles, launch_url=launch_url)


@bp.get("/launch")
def launch():
    """Start a launch: auto-post the login initiation form to the tool, as Moodle does."""
    tool = _current_tool()
    args = request.args
    course = launches.find_course(args.get("course") or "demo-course-1")
    user = launches.find_user(args.get("user"))
    message_type = args.get("message_type") or MessageType.RESOURCE_LINK
    if message_type not in {m.value for m in MessageType} - {
            MessageType.DEEP_LINKING_RESPONSE}:
        raise LaunchError(f"The demo LMS cannot send a {message_type!r} message.")
    link_id, lineitem_id = parse_id(args.get("link", "")), parse_id(args.get("lineitem", ""))
    link = _link_of(tool, course.id, link_id) if link_id else None
    if link is None and message_type not in (MessageType.DEEP_LINKING,
                                             MessageType.DATA_PRIVACY):
        link = next(iter(launches.links_of(course, tool)), None)  # the course's first activity
    lineitem = ags.lineitem_for(tool.id, course.id, lineitem_id) if lineitem_id else None
    for_user = launches.find_user(args["for_user"]) if args.get("for_user") else None
    roles = [r for r in (args.get("roles") or "").split(",") if r.strip()] or None
    pending = launches.start_launch(tool, user, course, message_type, link=link, roles=roles,
                                    for_user=for_user, lineitem=lineitem)
    return _autopost(tool.login_url, launches.login_initiation_fields(pending),
                     "Opening the tool…")


def _autopost(action: str, fields: dict, heading: str):
    resp = make_response(render_template("demo_lms/autopost.html", action=action,
                                         fields=fields, heading=heading))
    resp.headers.update(NO_STORE)
    return resp


def _link_of(tool: DemoTool, course_id: int, link_id: int) -> DemoResourceLink:
    link = db.session.get(DemoResourceLink, link_id)
    if link is None or link.course_id != course_id or link.tool_id != tool.id:
        raise NotFound("That activity is not in this course.")
    return link


# ---- the platform's LTI endpoints ----
@bp.route(urls.AUTH, methods=["GET", "POST"])
def auth():
    """OIDC authorization endpoint: answer the tool's auth request with an id_token form_post."""
    params = request.values.to_dict()
    try:
        answer = launches.authorize(params)
    except launches.AuthRequestRefused as refused:
        if not refused.oidc_error:
            raise
        log.warning("demo LMS: auth request refused (%s): %s", refused.oidc_error,
                    refused.message)
        fields = {"error": refused.oidc_error, "error_description": refused.message}
        if refused.state is not None:
            fields["state"] = refused.state
        return _autopost(refused.redirect_uri, fields, "Returning to the tool…")
    return _autopost(answer.redirect_uri, answer.fields, "Opening the tool…")


@bp.get(urls.JWKS)
def jwks():
    """Publish the demo LMS's public keys."""
    return jsonify(keys.public_jwks())


@bp.post(urls.TOKEN)
def token():
    """OAuth2 token endpoint: client_credentials with a JWT client assertion."""
    ctl = control(current_app)
    entry = {"client_id": _assertion_issuer(), "scopes_requested":
             (request.form.get("scope") or "").split(), "scopes_granted": []}
    failure = ctl.take_failure("token")
    if failure is not None:
        ctl.record_token_request(dict(entry, status=failure.status, injected=True))
        _raise_injected(failure)
    tool = db.session.scalar(db.select(DemoTool).filter_by(client_id=entry["client_id"] or ""))
    try:
        granted = tokens.grant_token(request.form.to_dict(),
                                     urls.token_url(tool.issuer) if tool else "")
    except ToolError as err:
        ctl.record_token_request(dict(entry, status=err.http_status, error=err.code))
        raise
    ctl.record_token_request(dict(entry, status=200, scopes_granted=granted.scopes,
                                  expires_in=granted.expires_in))
    resp = jsonify(granted.as_json())
    resp.headers.update(NO_STORE)
    return resp


def _assertion_issuer() -> str | None:
    try:
        claims = jwt.decode(request.form.get("client_assertion") or "",
                            options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims.get("iss") if isinstance(claims.get("iss"), str) else None


def _raise_injected(failure) -> None:
    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
    raise OAuthError("Injected failure (demo LMS fault injection).", code="injected_failure",
                     http_status=failure.status, headers=headers)


def _service(endpoint: str, scopes_any: list[str]):
    failure = control(current_app).take_failure(endpoint)
    if failure is not None:
        _raise_injected(failure)
    token = tokens.authenticate_bearer(request.headers.get("Authorization"), scopes_any)
    ags.check_type_id(token, request.args.get(urls.TYPE_ID_PARAM))
    return token


def _json_body(media_type: str) -> dict:
    if request.mimetype != media_type:
        raise UnsupportedMediaType(f"Content-Type must be {media_type}.")
    return json_body(media_types=(media_type,))


def _json_response(body, media_type: str, status: int = 200, link_next: str | None = None):
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = media_type
    if link_next:
        resp.headers["Link"] = f'<{link_next}>; rel="next"'
    return resp


@bp.route(urls.LINEITEMS, methods=["GET", "POST"])
def lineitems(course_id: int):
    """AGS line item container: list (with filters and paging) or create."""
    if request.method == "POST":
        token = _service("lineitems", [Scope.LINEITEM])
        course = ags.course_for(course_id)
        item = ags.create_lineitem(token, course, _json_body(MediaType.LINEITEM))
        return _json_response(ags.lineitem_as_json(item), MediaType.LINEITEM, 201)
    token = _service("lineitems", [Scope.LINEITEM, Scope.LINEITEM_READONLY])
    course = ags.course_for(course_id)
    items = [ags.lineitem_as_json(i) for i in ags.list_lineitems(token, course, request.args)]
    page, next_url = page_of(items, request.args,
                                       urls.lineitems_url(token.tool.issuer, course.id,
                                                          token.tool_id))
    return _json_response(page, MediaType.LINEITEM_CONTAINER, link_next=next_url)


@bp.route(urls.LINEITEM, methods=["GET", "PUT", "DELETE"])
def lineitem(course_id: int, lineitem_id: int):
    """AGS line item: read, update or delete."""
    read_scopes = [Scope.LINEITEM, Scope.LINEITEM_READONLY]
    token = _service("lineitems", read_scopes if request.method == "GET" else [Scope.LINEITEM])
    item = ags.lineitem_for(token.tool_id, course_id, lineitem_id)
    if request.method == "DELETE":
        ags.delete_lineitem(item)
        return "", 204
    if request.method == "PUT":
        item = ags.update_lineitem(token, item, _json_body(MediaType.LINEITEM))
    return _json_response(ags.lineitem_as_json(item), MediaType.LINEITEM)


@bp.post(urls.SCORES)
def scores(course_id: int, lineitem_id: int):
    """AGS score publish: validate like Moodle, answer 200 with an empty body."""
    token = _service("scores", [Scope.SCORE])
    item = ags.lineitem_for(token.tool_id, course_id, lineitem_id)
    ags.record_score(item, _json_body(MediaType.SCORE))
    return "", 200


@bp.get(urls.RESULTS)
def results(course_id: int, lineitem_id: int):
    """AGS results of a line item (optionally of one user)."""
    token = _service("lineitems", [Scope.RESULT_READONLY])
    item = ags.lineitem_for(token.tool_id, course_id, lineitem_id)
    return _json_response(ags.results(item, request.args.get("user_id")),
                          MediaType.RESULT_CONTAINER)


@bp.get(urls.MEMBERSHIPS)
def memberships(course_id: int, tool_id: int):
    """NRPS context membership container, paged with Link rel="next" when limit is given."""
    failure = control(current_app).take_failure("memberships")
    if failure is not None:
        _raise_injected(failure)
    token = tokens.authenticate_bearer(request.headers.get("Authorization"), [Scope.MEMBERSHIPS])
    if token.tool_id != tool_id:
        raise NotFound("No such membership service for this tool.")
    course = ags.course_for(course_id)
    url = urls.memberships_url(token.tool.issuer, course.id, tool_id)
    container, next_url = nrps.memberships(course, url, request.args)
    return _json_response(container, MediaType.MEMBERSHIP_CONTAINER, link_next=next_url)


@bp.post(urls.DEEP_LINK_RETURN)
def deep_link_return():
    """Receive the tool's deep-linking response and show the instructor what was created."""
    outcome = deep_linking.accept_response(request.form.get("JWT"))
    return render_template("demo_lms/deep_link_done.html", outcome=outcome,
                           course=outcome.request.course, user=outcome.request.user)
