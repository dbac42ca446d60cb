"""LTI endpoints: login, launch, JWKS, tool configuration, dynamic registration, deep linking."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from lti_tool import audit
from lti_tool.access.launches import current_launch, remember_launch, require_launch
from lti_tool.access.permissions import is_admin
from lti_tool.access.roles import STAFF_ROLES, Role
from lti_tool.audit import EventType
from lti_tool.errors import LaunchError, NotAuthenticated, ToolError
from lti_tool.extensions import db, limiter
from lti_tool.housekeeping import MAX_RETENTION_DAYS
from lti_tool.housekeeping.retention import site_retention_days
from lti_tool.lti import claims as c, deep_linking, keys, registration, registry
from lti_tool.lti.launch import (STORAGE_NONCE_FIELD, STORAGE_STATE_FIELD, NeedsPlatformStorage,
                                 StateNotBound, ToolMessageLaunch)
from lti_tool.lti.login import ToolOIDCLogin, check_login_params
from lti_tool.lti.provisioning import provision
from lti_tool.lti.registry import CachedPlatform
from lti_tool.lti.urls import tool_urls
from lti_tool.models import Platform
from lti_tool.statuses import RegistrationMode
from lti_tool.uploads import rules
from lti_tool.uploads.limits import site_limits
from lti_tool.web import csp
from lti_tool.web.rate_limits import (REFUSAL_AUDIT_SCOPE, client_address, limit_by_address,
                                      within_budget)
from lti_tool.web.urls import origin_of, public_url

log = logging.getLogger(__name__)

bp = Blueprint("lti", __name__, url_prefix="/lti")


def _refused(err: LaunchError, stage: str, platform: CachedPlatform | Platform | None = None
             ) -> None:
    """Forget the half-done work, and audit the refusal (the error handler logs it).

    Anyone can send refused launches: each address gets a budget of audited refusals
    (RATELIMIT_REFUSAL_AUDIT); beyond it they are only logged, so they cannot fill the log.
    """
    db.session.rollback()
    if not within_budget("RATELIMIT_REFUSAL_AUDIT", REFUSAL_AUDIT_SCOPE):
        log.info("refused %s not audited (budget of this address spent): %s", stage, err.code)
        return
    audit.record(EventType.LAUNCH_REFUSED, platform_id=platform.id if platform else None,
                 commit=True, stage=stage, code=err.code, reason=err.message[:500])


# ---- OIDC login ----
def _login(platform: CachedPlatform | None):
    csp.use_platform(platform)
    oidc = ToolOIDCLogin(platform)
    try:
        check_login_params(request.values)
        if oidc.wants_cookie_check():
            csp.use_platform(oidc.tool_conf.find_platform(request.values.get("iss"),
                                                          request.values.get("client_id")))
            return oidc.cookie_check_response()
        outcome = oidc.start()
        csp.use_platform(outcome.platform)
    except LaunchError as err:
        _refused(err, "login", platform)
        raise
    db.session.commit()
    if outcome.storage_target:
        # LTI Platform Storage: put state and nonce in the platform's frame, then redirect.
        page = render_template("lti/storage_login.html", auth_url=outcome.auth_url,
                               state=outcome.state, nonce=outcome.nonce,
                               target=outcome.storage_target,
                               platform_origin=origin_of(outcome.platform.auth_login_url))
        return oidc.page_response(page)
    return oidc.redirect_response(outcome.auth_url)


@bp.route("/login", methods=["GET", "POST"])
@limit_by_address("RATELIMIT_LOGIN")
def login():
    """Answer the LMS's login initiation with a GET redirect to its auth endpoint."""
    return _login(None)


@bp.route("/login/<login_key>", methods=["GET", "POST"])
@limit_by_address("RATELIMIT_LOGIN")
def login_for_registration(login_key: str):
    """Answer a login initiation whose URL itself names the registration."""
    platform = registry.platform_by_login_key(login_key)
    if platform is None:
        err = LaunchError("This login URL does not belong to any registration of the tool.",
                          code="unknown_login_url", http_status=404,
                          hint=f"Copy the login URL again from {public_url('lti.tool_configuration')}"
                               " or `flask --app wsgi platforms list`.")
        _refused(err, "login")
        raise err
    return _login(platform)


# ---- launch ----
@bp.post("/launch")
def launch():
    """Validate the id_token, record the launch, and send the user where their role belongs."""
    message = ToolMessageLaunch()
    try:
        message.validate()
        record = provision(message.get_launch_id(), message.platform, message.deployment,
                           message.claims)
    except NeedsPlatformStorage as need:
        db.session.rollback()
        return render_template("lti/storage_launch.html", need=need,
                               id_token=request.form.get("id_token"),
                               state_field=STORAGE_STATE_FIELD, nonce_field=STORAGE_NONCE_FIELD)
    except StateNotBound as err:
        _refused(err, "launch", message.platform)
        log.warning("launch refused: %s", err.message)
        return render_template("lti/cookies_blocked.html", err=err), err.http_status
    except LaunchError as err:
        _refused(err, "launch", message.platform)
        raise
    finally:
        csp.use_platform(message.platform)
    # Everything the answer needs is read before the commit, and nothing after it: touching
    # the committed rows would reload them in a new transaction left open (idle) until the
    # request ends.
    landing = _landing(record)
    remember_launch(record)
    db.session.commit()
    return redirect(landing, code=303)


def _landing(record) -> str:
    """Return where a fresh launch goes, carrying its id for cookie-less iframes.

    An administrator (an LMS Administrator role, or granted by an operator) lands on the
    admin area, which links back to the activity they opened.
    """
    if record.message_type == c.DEEP_LINKING_REQUEST:
        return url_for("lti.deep_link", launch=record.id)
    if record.message_type == c.SUBMISSION_REVIEW_REQUEST:
        return url_for("review.submission_review", launch=record.id)
    if record.message_type in c.DATA_PRIVACY_REQUESTS:
        return url_for("privacy.page", launch=record.id)
    if is_admin(record.user):
        return url_for("admin.index", launch=record.id)
    if record.assignment is not None:
        if record.role == Role.LEARNER:
            return url_for("student.assignment", launch=record.id)
        return url_for("review.assignment", launch=record.id)
    return url_for("lti.no_activity", launch=record.id)


@bp.get("/no-activity")
@require_launch()
def no_activity():
    """Explain a launch that names no course activity."""
    raise ToolError("The LMS opened the tool without a course activity (no resource link or "
                    "course), so there is nothing to show here. Open a video assignment from "
                    "its course page.", code="no_resource_link", http_status=400)


# ---- keys and configuration ----
@bp.get("/jwks")
def jwks():
    """Serve the tool's public keys (current and recently retired)."""
    resp = jsonify(keys.public_jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/config")
def tool_configuration():
    """List the tool's URLs and public key for an LMS administrator (JSON when asked)."""
    record = current_launch()
    platform = record.platform if record is not None and is_admin(record.user) else None
    urls = tool_urls(platform)
    jwks_doc = keys.public_jwks()
    mode = registration.registration_mode()
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == \
            "application/json":
        return jsonify(urls=urls, jwks=jwks_doc, scopes=list(c.TOOL_SCOPES),
                       registration_url=urls["registration_url"], registration_mode=mode.value)
    return render_template("lti/config.html", urls=urls, jwks=jwks_doc,
                           scopes=c.TOOL_SCOPES, platform=platform,
                           links_only=mode == RegistrationMode.LINK)


# ---- dynamic registration ----
# One rate limit for both registration URLs: each makes the tool call out.
_register_limit = limiter.shared_limit(lambda: current_app.config["RATELIMIT_REGISTER"],
                                       scope="lti_register", key_func=client_address)


def _register(link_token: str | None):
    """Run dynamic registration for this request and show the result or the refusal."""
    csp.allow_frame_origin(request.args.get("openid_configuration"))  # the LMS frames this page
    try:
        result = registration.register_with_platform(
            request.args.get("openid_configuration"), request.args.get("registration_token"),
            link_token=link_token)
    except ToolError:
        db.session.rollback()
        raise
    return render_template("lti/registered.html", result=result,
                           close_subject=c.PM_CLOSE)


@bp.get("/register")
@_register_limit
def register():
    """Register with a platform by LTI Dynamic Registration, then tell the LMS to close."""
    return _register(None)


@bp.get("/register/<token>")
@_register_limit
def register_with_link(token: str):
    """Register through a one-time registration link an administrator made."""
    return _register(token)


# ---- deep linking ----
def _deep_link_launch():
    record = current_launch()
    if record.message_type != c.DEEP_LINKING_REQUEST:
        raise NotAuthenticated("This page answers a deep linking request. Add the activity "
                               "again from the LMS.")
    return record


@bp.route("/deep-link", methods=["GET", "POST"])
@require_launch(STAFF_ROLES)
def deep_link():
    """Let an instructor set up a video assignment and send it back to the LMS."""
    record = _deep_link_launch()
    csp.use_platform(record.platform)
    site = site_limits()
    dl = deep_linking.deep_link_settings(record)
    try:  # checked when the page is shown, and again before the form that posts to it
        return_url = deep_linking.return_url(record, current_app.config["OUTBOUND_ALLOW_LOOPBACK"])
    except LaunchError as err:
        _refused(err, "deep_link", record.platform)
        raise
    errors: dict = {}
    if request.method == "POST":
        settings, errors = deep_linking.parse_settings(request.form, site)
        if settings is not None:
            item = deep_linking.content_item(settings, public_url("lti.launch"),
                                             deep_linking.accepts_lineitem(dl))
            token = deep_linking.response_jwt(record, [item])
            audit.record(EventType.DEEP_LINK_CREATED, actor=record.user,
                         platform_id=record.platform_id, course_id=record.course_id,
                         title=settings.title, max_score=settings.max_score, commit=True)
            return render_template("lti/deep_link_return.html", return_url=return_url,
                                   jwt=token)
    return render_template("lti/deep_link.html", launch=record, form=request.form,
                           errors=errors, site=site, site_retention_days=site_retention_days(),
                           max_retention_days=MAX_RETENTION_DAYS,
                           sound_only_possible=rules.sound_only_possible(),
                           dl_title=dl.get("title")), (400 if errors else 200)
