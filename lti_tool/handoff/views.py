"""The hand-off's routes: the desktop's JSON API (make a link, follow it), the phone's pages
(`/h`: type a code; `/h/<code>`: the upload page) and the phone's JSON API (claim the link,
start and finish its one upload).

The phone needs no LMS login and no cookie: the code authorizes the claim, the claim
returns the phone's own launch id, which the page sends in X-LTI-Launch like every page of
the tool. That launch reaches only PHONE_ENDPOINTS (scope_phone_launch).
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from lti_tool.access.launches import (LAUNCH_PARAM, assignment_launch, current_launch,
                                      posted_launch_id, require_launch)
from lti_tool.access.roles import Role
from lti_tool.errors import Forbidden, NotFound
from lti_tool.handoff import service
from lti_tool.handoff.codes import display_code, normalize_code
from lti_tool.handoff.qr import qr_data_uri
from lti_tool.storage import current_storage
from lti_tool.storage.base import UploadMethod
from lti_tool.tus.protocol import META_VIDEO_ID, UPLOAD_METADATA
from lti_tool.tus.views import parse_metadata
from lti_tool.uploads.rules import upload_method
from lti_tool.uploads.status import iso, submission_state, video_status
from lti_tool.uploads.views import new_upload_request, ticket_answer
from lti_tool.web.csp import forbid_framing
from lti_tool.web.rate_limits import limit, limit_by_address
from lti_tool.web.request_input import json_body, parse_id
from lti_tool.web.urls import public_url

bp = Blueprint("handoff", __name__)

# What a phone's launch may reach: the upload protocols, its attempt's status, its own API.
PHONE_ENDPOINTS = frozenset({
    "tus.options", "tus.create", "tus.upload", "tus.patch", "tus.terminate",
    "multipart.sign", "multipart.parts", "multipart.complete", "multipart.abort",
    "playback.status", "handoff.phone_start", "handoff.phone_complete", "static",
})
# Of those, the ones that name a video: a phone may name only its link's attempt.
VIDEO_ENDPOINTS = frozenset({
    "tus.create", "multipart.sign", "multipart.parts", "multipart.complete",
    "multipart.abort", "playback.status",
})
PHONE_SCOPE = "handoff_phone_scope"


@bp.before_app_request
def scope_phone_launch():
    """Keep a phone's launch to the upload endpoints and its own attempt (never the
    student's pages, API or other videos)."""
    launch_id = posted_launch_id() or request.args.get(LAUNCH_PARAM)
    if not service.is_phone_launch_id(launch_id):
        return
    if request.endpoint not in PHONE_ENDPOINTS:
        raise Forbidden("A phone's upload link only uploads its one video.", code=PHONE_SCOPE)
    launch = current_launch()
    if request.endpoint in VIDEO_ENDPOINTS and launch is not None:  # else the view says 401
        if _named_video_id() != service.phone_link(launch).video_id:
            raise NotFound("No such upload.")


def _named_video_id() -> int | None:
    """Return the video a request names: in the URL, or in tus's Upload-Metadata."""
    if request.endpoint == "tus.create":
        metadata = parse_metadata(request.headers.get(UPLOAD_METADATA, ""))
        return parse_id(metadata.get(META_VIDEO_ID) or "")
    return (request.view_args or {}).get("video_id")


# ---- the desktop page's API ----
@bp.post("/api/handoff")
@limit("RATELIMIT_HANDOFF_CREATE")
@require_launch([Role.LEARNER], assignment=True)
def create():
    """Make a link for the launching student's assignment: its code, URL and QR code."""
    link, code = service.create_link(assignment_launch())
    shown = display_code(code)
    url = public_url("handoff.phone_page", code=shown)
    return jsonify({
        "id": link.id, "code": shown, "url": url, "short_url": public_url("handoff.enter_code"),
        "qr": qr_data_uri(url), "expires_at": iso(link.expires_at),
        "ttl_seconds": current_app.config["HANDOFF_LINK_TTL_SECONDS"],
        "status_url": url_for("handoff.follow", link_id=link.id),
    }), 201


@bp.get("/api/handoff/<int:link_id>")
@require_launch(assignment=True)
def follow(link_id: int):
    """Say how far the student's link is: waiting, claimed, uploading, done (with status)."""
    return jsonify(service.link_state(service.owned_link(assignment_launch(), link_id)))


# ---- the phone's pages ----
@bp.get("/h/")  # as phones' keyboards and address bars often end what people type
@bp.get("/h")
@limit_by_address("RATELIMIT_HANDOFF_CODE")
def enter_code():
    """Show a form to type the code the computer shows (or go to its upload page)."""
    forbid_framing()
    typed = request.args.get("code")
    error = None
    if typed is not None:
        code = normalize_code(typed)
        if code is not None:
            return redirect(url_for("handoff.phone_page", code=display_code(code)))
        error = service.MESSAGES[service.UNKNOWN]
    return render_template("handoff/enter_code.html", error=error, typed=typed or ""), \
        (400 if error else 200)


@bp.get("/h/<code>")
@limit_by_address("RATELIMIT_HANDOFF_CODE")
def phone_page(code: str):
    """Show the phone's upload page for a link still claimable (or claimed by this phone)."""
    forbid_framing()
    link = service.find_link(code)
    page = {"code": display_code(normalize_code(code)),
            "assignment_title": link.assignment.title,
            "urls": {"claim": url_for("handoff.claim"), "start": url_for("handoff.phone_start"),
                     "tus": public_url("tus.create"),
                     "videos": url_for("playback.status", video_id=0).rsplit("/0/", 1)[0]}}
    return render_template("handoff/phone.html", page=page, link=link)


# ---- the phone's API ----
@bp.post("/api/handoff/claim")
@limit_by_address("RATELIMIT_HANDOFF_CODE")
def claim():
    """Claim a link for this device; answer with its claim secret and the upload's rules."""
    code = json_body().get("code")
    link = service.find_link(code if isinstance(code, str) else "")
    asking = current_launch()  # a student's session cookie in this browser, if any
    phone = service.claim_link(link, asking.user_id if asking is not None else None)
    limits = submission_state(phone)["limits"]
    return jsonify({
        "claim": phone.id, "user_id": phone.user_id, "assignment_id": phone.assignment_id,
        "assignment_title": phone.assignment.title, "limits": limits,
        "upload_method": upload_method(current_storage()),
        "chunk_size": current_app.config["HANDOFF_CHUNK_BYTES"],
        "expires_at": iso(phone.expires_at),
    }), 201


@bp.post("/api/handoff/phone/uploads")
@limit("RATELIMIT_UPLOADS")
@require_launch([Role.LEARNER], assignment=True)
def phone_start():
    """Start the link's one attempt from the phone (the answer of POST /api/uploads)."""
    launch = current_launch()
    link = service.phone_link(launch)
    filename, size, content_type = new_upload_request()
    video, ticket = service.start_phone_upload(link, launch, filename, size, content_type)
    chunk = ticket.chunk_size
    if ticket.method == UploadMethod.TUS:  # smaller pieces for a mobile network
        chunk = min(chunk or current_app.config["HANDOFF_CHUNK_BYTES"],
                    current_app.config["HANDOFF_CHUNK_BYTES"])
    answer = ticket_answer(video, ticket, chunk_size=chunk)
    answer["finish_url"] = url_for("handoff.phone_complete", video_id=video.id)
    return jsonify(answer), 201


@bp.post("/api/handoff/phone/uploads/<int:video_id>/complete")
@require_launch([Role.LEARNER], assignment=True)
def phone_complete(video_id: int):
    """Finish the phone's attempt once its bytes are sent; returns the attempt's status."""
    link = service.phone_link(current_launch())
    return jsonify(video_status(service.complete_phone_upload(link, video_id)))
