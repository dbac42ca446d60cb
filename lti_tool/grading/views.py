"""The instructor's side: the queue of an assignment's students, one submission to review,
grades, feedback, time-coded comments, LMS delivery status, and submission review launches.

Every view works from the launch: the assignment is the launch's own, so staff of another
course or platform reach nothing here (404, never a hint that something exists).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from flask import Blueprint, flash, jsonify, redirect, render_template, request

from lti_tool import audit
from lti_tool.access.launches import (assignment_launch, current_role, launch_url_for,
                                      require_launch)
from lti_tool.access.roles import GRADER_ROLES, STAFF_ROLES, Role
from lti_tool.errors import Forbidden, NotFound, ToolError, wants_json
from lti_tool.extensions import db
from lti_tool.grading import assignment_settings, outbox, review_queue, service as grading
from lti_tool.lti import ags, nrps
from lti_tool.lti.claims import FOR_USER
from lti_tool.lti.service_token import ServiceError
from lti_tool.models import Comment, Enrollment, LaunchRecord, Submission, User, Video
from lti_tool.playback.views import binding_address
from lti_tool.statuses import DueSource, VideoStatus
from lti_tool.uploads import rules
from lti_tool.uploads.deadlines import DUE_SOURCE_WORDS, is_late
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability
from lti_tool.web.request_input import json_body, json_or_form, parse_id, safe_next

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/review")

DOWNLOAD_URL_TTL_SECONDS = 300
THUMBNAIL_TTL_SECONDS = 600


# ---- who may do what ------------------------------------------------------------------------

def _staff_launch(*, grader: bool = False) -> LaunchRecord:
    """Return the launch of staff in an assignment; graders only when `grader`."""
    launch = assignment_launch()
    if grader and current_role() not in GRADER_ROLES:
        raise Forbidden("Your role in this course lets you view submissions, not grade them.")
    return launch


def _student(launch: LaunchRecord, user_id: int) -> User:
    """Load a student of the launch's course (enrolled or with work here), or 404."""
    user = db.session.get(User, user_id)
    if user is None or user.platform_id != launch.platform_id:
        raise NotFound("No such student in this course.")
    enrolled = db.session.scalar(db.select(Enrollment.id).filter_by(
        course_id=launch.course_id, user_id=user.id))
    submitted = db.session.scalar(db.select(Submission.id).filter_by(
        assignment_id=launch.assignment_id, user_id=user.id))
    if enrolled is None and submitted is None:
        raise NotFound("No such student in this course.")
    return user


def _comment(launch: LaunchRecord, comment_id: int) -> Comment:
    comment = db.session.get(Comment, comment_id)
    if comment is None or comment.submission.assignment_id != launch.assignment_id:
        raise NotFound("No such comment.")
    return comment


def _done(message: str, target: str, payload: dict | None = None, status: int = 200):
    """Answer a change: JSON for the page's scripts, a redirect with a message for forms."""
    if wants_json():
        return jsonify({"ok": True, "message": message, **(payload or {})}), status
    flash(message, "success")
    return redirect(target)


# ---- the queue ------------------------------------------------------------------------------

@bp.get("/assignment")
@require_launch(STAFF_ROLES)
def assignment():
    """Show every student of the course with their submission, grade and LMS status."""
    launch = _staff_launch()
    the_assignment = launch.assignment
    notices = _refresh_from_lms(launch, force_roster=False)
    filters = review_queue.Filters.from_args(request.args)
    rows = review_queue.build_rows(the_assignment)
    shown = review_queue.apply_filters(rows, filters)
    return render_template(
        "review/assignment.html", launch=launch, assignment=the_assignment, rows=shown,
        summary=review_queue.summary(rows), filters=filters, notices=notices,
        stills=_stills(launch, shown), statuses=review_queue.STATUS_LABELS,
        can_grade=current_role() in GRADER_ROLES, has_roster=nrps.has_roster(the_assignment.course),
        has_gradebook=ags.has_gradebook(the_assignment), sort_keys=review_queue.SORT_KEYS)


@bp.post("/assignment/roster")
@require_launch(STAFF_ROLES)
def refresh_roster():
    """Read the course roster from the LMS now."""
    launch = _staff_launch()
    course = launch.assignment.course
    if not nrps.has_roster(course):
        raise ToolError("The LMS does not share the course roster with this tool, so the list "
                        "shows the students who opened the activity.", code="no_roster")
    try:
        result = nrps.sync_roster(course, actor=launch.user)
    except ServiceError as exc:
        db.session.rollback()
        raise ToolError(f"The roster could not be read: {exc.message}", code=exc.code,
                        http_status=502) from None
    db.session.commit()
    return _done(f"Roster updated: {result.members} members, {result.added} new, "
                 f"{result.deactivated} no longer enrolled.",
                 launch_url_for("review.assignment"), {"roster": result.__dict__})


@bp.post("/assignment/release-held")
@require_launch(STAFF_ROLES)
def release_held():
    """Release every held grade of the assignment at once (Canvas's "Post grades")."""
    launch = _staff_launch(grader=True)
    count = grading.release_all_held(launch.assignment, launch.user)
    db.session.commit()
    message = (f"{count} held {'grade' if count == 1 else 'grades'} released to the "
               f"{'student' if count == 1 else 'students'} and the LMS gradebook."
               if count else "No grade was held.")
    return _done(message, launch_url_for("review.assignment"), {"released": count})


# ---- the assignment's deadlines ---------------------------------------------------------------

@bp.get("/assignment/settings")
@require_launch(STAFF_ROLES)
def settings():
    """Show the assignment's due date, cut-off, attempts and per-student extensions."""
    launch = _staff_launch(grader=True)
    the_assignment = launch.assignment
    students = sorted((r.user for r in review_queue.build_rows(the_assignment)),
                      key=lambda u: (u.display_name or "").casefold())
    return render_template("review/settings.html", launch=launch, assignment=the_assignment,
                           sound_only_possible=rules.sound_only_possible(),
                           extensions=assignment_settings.extensions(the_assignment),
                           students=students, due_from=None if the_assignment.due_source
                           == DueSource.TOOL else DUE_SOURCE_WORDS.get(
                               the_assignment.due_source or ""))


@bp.post("/assignment/settings")
@require_launch(STAFF_ROLES)
def save_settings():
    """Save the due date, cut-off, number of attempts, whether the assignment is closed and
    whether it accepts sound-only submissions."""
    launch = _staff_launch(grader=True)
    try:
        values = assignment_settings.parse_settings(json_or_form())
    except grading.InvalidInput as exc:
        return _refused(exc, launch_url_for("review.settings"))
    if not rules.sound_only_possible():
        # The form has no such box on this storage: keep what was set (the storage may change).
        values = replace(values, accepts_audio=bool(launch.assignment.accepts_audio))
    assignment_settings.apply_settings(launch.assignment, launch.user, values)
    db.session.commit()
    return _done("Settings saved.", launch_url_for("review.settings"))


@bp.post("/assignment/extensions")
@require_launch(STAFF_ROLES)
def grant_extension():
    """Give one student a later due date, or take it back (`remove`)."""
    launch = _staff_launch(grader=True)
    data = json_or_form()
    student = assignment_settings.course_student(launch.assignment, parse_id(data.get("user_id")))
    if data.get("remove"):
        assignment_settings.remove_extension(launch.assignment, student, launch.user)
        message = f"Extension for {student.display_name} removed."
    else:
        try:
            assignment_settings.grant_extension(launch.assignment, student, launch.user, data)
        except grading.InvalidInput as exc:
            return _refused(exc, launch_url_for("review.settings"))
        message = f"Extension for {student.display_name} saved."
    db.session.commit()
    return _done(message, launch_url_for("review.settings"))


def _refused(exc: ToolError, target: str):
    """Send a person back to the form with the reason; a script gets the error itself."""
    db.session.rollback()
    if wants_json():
        raise exc
    log.info("assignment settings refused: %s", exc.message)
    flash(exc.message, "error")
    return redirect(target)


def _refresh_from_lms(launch: LaunchRecord, *, force_roster: bool) -> list[str]:
    """Sync a stale roster and line item; return messages for what could not be read."""
    notices = []
    course = launch.assignment.course
    try:
        if force_roster or nrps.roster_is_stale(course):
            nrps.sync_roster(course, actor=launch.user)
            db.session.commit()  # before the next call: no write lock held while waiting
        ags.refresh_lineitem(launch.assignment)
        if _changed():
            db.session.commit()
    except ServiceError as exc:
        if _changed():  # else nothing to undo, and the loaded rows stay usable
            db.session.rollback()
        log.warning("refresh from LMS for assignment %s failed: %s", launch.assignment_id,
                    exc.message)
        notices.append(f"The LMS could not be asked for the latest roster or gradebook "
                       f"settings ({exc.message}). The list shows what the tool last knew.")
    return notices


def _changed() -> bool:
    """Tell whether the session holds changes not yet written."""
    return bool(db.session.new or db.session.dirty or db.session.deleted)


@dataclass(frozen=True)
class Stills:
    """A video's still on the list, and its hover strip when processing made one."""

    thumbnail: str
    strip: str | None = None


def _stills(launch: LaunchRecord, rows) -> dict[int, Stills]:
    """Return short-lived thumbnail and hover-strip URLs by video id (signed locally, no
    provider call)."""
    stills = {}
    address = binding_address()
    for row in rows:
        video = row.video
        if video is None or not video.has_thumbnail or not video.storage_uid:
            continue
        backend = storage_for(video.backend)
        signed = dict(viewer_id=launch.user_id, video_id=video.id,
                      ttl_seconds=THUMBNAIL_TTL_SECONDS, client_address=address)
        try:
            url = backend.thumbnail_url(video.storage_uid, **signed)
            strip = backend.strip_url(video.storage_uid, **signed) if video.has_strip else None
        except (ToolError, ValueError):
            url = strip = None
        if url:
            stills[video.id] = Stills(url, strip)
    return stills


# ---- one submission -------------------------------------------------------------------------

@bp.get("/students/<int:user_id>")
@require_launch(STAFF_ROLES)
def student(user_id: int):
    """Show one student's submission: player, attempts, comments, grade and LMS status."""
    launch = _staff_launch()
    user = _student(launch, user_id)
    the_assignment = launch.assignment
    submission = db.session.scalar(db.select(Submission).filter_by(
        assignment_id=the_assignment.id, user_id=user.id))
    videos = [v for v in (submission.videos if submission else []) if v.status !=
              VideoStatus.DELETED]
    chosen = _chosen_video(submission, videos)
    filters = review_queue.Filters.from_args(request.args)
    rows = review_queue.apply_filters(review_queue.build_rows(the_assignment), filters)
    next_row = review_queue.next_to_grade(rows, user.id)
    item = outbox.latest_items([submission.id]).get(submission.id) if submission else None
    can_grade = current_role() in GRADER_ROLES
    storage_ok = chosen is not None and _can_download(chosen)
    return render_template(
        "review/submission.html", launch=launch, assignment=the_assignment, student=user,
        submission=submission, videos=videos, video=chosen, filters=filters,
        next_row=next_row, outbox_item=item, lms=outbox.lms_state(item, submission),
        can_grade=can_grade,
        can_download=can_grade and storage_ok, late=is_late(submission, the_assignment),
        comments=[_comment_json(c, launch) for c in (submission.comments if submission else [])],
        has_gradebook=ags.has_gradebook(the_assignment))


def _chosen_video(submission: Submission | None, videos: list[Video]) -> Video | None:
    wanted = request.args.get("attempt", type=int)
    for video in videos:
        if video.attempt == wanted:
            return video
    if submission is not None and submission.current_video in videos:
        return submission.current_video
    return videos[-1] if videos else None


def _can_download(video: Video) -> bool:
    try:
        return video.status == VideoStatus.READY and storage_for(video.backend).supports(
            Capability.DOWNLOAD)
    except ValueError:
        return False


def _comment_json(comment: Comment, launch: LaunchRecord) -> dict:
    return {"id": comment.id, "at_seconds": comment.at_seconds, "body": comment.body,
            "video_id": comment.video_id,
            "author": comment.author.display_name if comment.author else "Former grader",
            "mine": comment.author_id == launch.user_id and current_role() in GRADER_ROLES,
            "created_at": comment.created_at.isoformat() if comment.created_at else None,
            "edited": comment.updated_at is not None}


def _back_to(user_id: int) -> str:
    """Return the student's page, keeping the list's filters."""
    args = {k: v for k, v in request.form.items() if k in review_queue.Filters.__annotations__}
    return launch_url_for("review.student", user_id=user_id, **args)


def _grader_change(user_id: int) -> tuple[LaunchRecord, User, dict]:
    """Check a grader's change to one student: (launch, student, submitted data)."""
    launch = _staff_launch(grader=True)
    user = _student(launch, user_id)
    return launch, user, json_or_form()


@bp.post("/students/<int:user_id>/grade")
@require_launch(STAFF_ROLES)
def grade(user_id: int):
    """Save the grade and feedback; queue it for the LMS when released."""
    launch, user, data = _grader_change(user_id)
    score = grading.parse_score(data.get("score"), launch.assignment.max_score)
    release = _truthy(data.get("release"), default=not request.form)
    submission = grading.submission_for(launch.assignment, user)
    grading.save_grade(submission, launch.user, score, data.get("feedback"), release=release)
    db.session.commit()
    target = _back_to(user_id)
    if data.get("then") == "next":
        target = safe_next(data.get("next_url")) or target
    message = "Grade saved" + (" and released." if release else "; not released yet.")
    item = outbox.latest_items([submission.id]).get(submission.id)
    payload = {"submission": _grade_json(submission, item)}
    if wants_json():  # the page saved by fetch: it swaps in the new status, player untouched
        payload["status_html"] = render_template(
            "review/_grade_status.html", submission=submission, can_grade=True, launch=launch,
            student=user, outbox_item=item, lms=outbox.lms_state(item, submission),
            has_gradebook=ags.has_gradebook(launch.assignment))
    return _done(message, target, payload)


def _truthy(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "on", "yes")


def _grade_json(submission: Submission, item) -> dict:
    return {"id": submission.id, "score": submission.score_given,
            "feedback": submission.feedback, "released": submission.released,
            "lms": {"status": item.status if item else None,
                    "error": item.last_error if item else None,
                    "attempts": item.attempts if item else 0}}


@bp.post("/students/<int:user_id>/release")
@require_launch(STAFF_ROLES)
def release(user_id: int):
    """Release the grade, feedback and comments to the student, or hold them back."""
    launch, user, data = _grader_change(user_id)
    submission = grading.submission_for(launch.assignment, user)
    released = _truthy(data.get("released"), default=True)
    grading.set_released(submission, launch.user, released)
    db.session.commit()
    return _done("Released to the student." if released else "Hidden from the student.",
                 _back_to(user_id), {"released": released})


@bp.post("/students/<int:user_id>/retry")
@require_launch(STAFF_ROLES)
def retry(user_id: int):
    """Send a score that failed to reach the LMS again."""
    launch, user, _ = _grader_change(user_id)
    submission = db.session.scalar(db.select(Submission).filter_by(
        assignment_id=launch.assignment_id, user_id=user.id))
    item = outbox.retry(submission) if submission else None
    if item is None:
        raise ToolError("There is no failed grade to send again for this student.",
                        code="nothing_to_retry", http_status=409)
    db.session.commit()
    return _done("The grade will be sent to the LMS again in a moment.",
                 safe_next(request.form.get("back")) or _back_to(user_id),
                 {"lms": {"status": item.status}})


# ---- comments -------------------------------------------------------------------------------

@bp.post("/students/<int:user_id>/comments")
@require_launch(STAFF_ROLES)
def add_comment(user_id: int):
    """Leave a comment at a moment of the student's video."""
    launch, user, data = _grader_change(user_id)
    submission = grading.submission_for(launch.assignment, user)
    video = None
    if data.get("video_id") is not None:
        video_id = parse_id(data["video_id"])
        video = db.session.get(Video, video_id) if video_id else None
        if video is None or video.submission_id != submission.id:
            raise NotFound("No such video in this submission.")
    comment = grading.add_comment(submission, launch.user, data.get("at_seconds"),
                                  data.get("body"), video)
    db.session.commit()
    return jsonify({"ok": True, "comment": _comment_json(comment, launch)}), 201


@bp.route("/comments/<int:comment_id>", methods=["PATCH", "DELETE"])
@require_launch(STAFF_ROLES)
def change_comment(comment_id: int):
    """Edit or delete one's own comment."""
    launch = _staff_launch(grader=True)
    comment = _comment(launch, comment_id)
    if request.method == "DELETE":
        grading.delete_comment(comment, launch.user)
        db.session.commit()
        return jsonify({"ok": True})
    data = json_body()
    grading.edit_comment(comment, launch.user, data.get("body"), data.get("at_seconds"))
    db.session.commit()
    return jsonify({"ok": True, "comment": _comment_json(comment, launch)})


# ---- downloads ------------------------------------------------------------------------------

@bp.get("/videos/<int:video_id>/download")
@require_launch(STAFF_ROLES)
def download(video_id: int):
    """Hand a grader the original file, where the storage allows it (audited)."""
    launch = _staff_launch(grader=True)
    video = db.session.get(Video, video_id)
    if video is None or video.submission.assignment_id != launch.assignment_id:
        raise NotFound("No such video.")
    if not _can_download(video):
        raise ToolError("The original file of this video cannot be downloaded from this "
                        "storage.", code="download_not_supported", http_status=409)
    url = storage_for(video.backend).download_url(
        video.storage_uid, viewer_id=launch.user_id, video_id=video.id,
        ttl_seconds=DOWNLOAD_URL_TTL_SECONDS, filename=video.filename,
        client_address=binding_address())
    audit.record(audit.EventType.DOWNLOAD_GRANTED, actor=launch.user,
                 course_id=launch.course_id, target=video, commit=True)
    return redirect(url)


# ---- submission review (LTI AGS 2.0, "LtiSubmissionReviewRequest") --------------------------

@bp.get("/submission-review")
@require_launch()
def submission_review():
    """Open the submission the LMS asked about: for staff the student's, for a student their own."""
    launch = assignment_launch()
    if current_role() not in STAFF_ROLES:
        return redirect(launch_url_for("student.assignment"))
    for_user = (launch.claims or {}).get(FOR_USER) or {}
    sub = for_user.get("user_id") if isinstance(for_user, dict) else None
    if not sub:
        flash("The LMS did not say whose submission to open; here is the list.", "info")
        return redirect(launch_url_for("review.assignment"))
    user = db.session.scalar(db.select(User).filter_by(platform_id=launch.platform_id,
                                                       sub=str(sub)))
    if user is None:
        # The launch's claim checks made these strings; the columns bound their length.
        user = User(platform_id=launch.platform_id, sub=str(sub),
                    name=(for_user.get("name") or "")[:255] or None,
                    email=(for_user.get("email") or "")[:320] or None,
                    given_name=(for_user.get("given_name") or "")[:255] or None,
                    family_name=(for_user.get("family_name") or "")[:255] or None)
        db.session.add(user)
        db.session.flush()
    if db.session.scalar(db.select(Enrollment.id).filter_by(course_id=launch.course_id,
                                                            user_id=user.id)) is None:
        db.session.add(Enrollment(course_id=launch.course_id, user_id=user.id,
                                  role=Role.LEARNER, source="launch"))
    db.session.commit()
    return redirect(launch_url_for("review.student", user_id=user.id))


def student_feedback(launch: LaunchRecord | None) -> dict | None:
    """Return the launched student's released grade, feedback and comments (for templates)."""
    if launch is None or launch.assignment_id is None:
        return None
    submission = db.session.scalar(db.select(Submission).filter_by(
        assignment_id=launch.assignment_id, user_id=launch.user_id))
    return grading.released_feedback(submission)
