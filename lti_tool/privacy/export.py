"""Export everything the tool holds about one user as one JSON-ready document.

What "everything" is: the profile; enrollments; each submission with its grade, feedback,
videos (metadata; the files themselves are downloaded from the tool's pages), comments
received and the scores sent to the LMS; comments the user wrote; grades the user gave;
launches (with the claims the LMS sent); unfinished uploads; links made to upload from a
phone (never their codes: only a keyed hash of each is stored); and the audit entries the
user did or that concern their submissions and videos.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from lti_tool import audit
from lti_tool.extensions import db
from lti_tool.models import (AuditEvent, Comment, Enrollment, HandoffLink, LaunchRecord,
                             ScoreOutbox, Submission, Upload, User, Video, utcnow)

FORMAT = "lti-video-tool/user-export/1"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _video(video: Video) -> dict[str, Any]:
    return {"id": video.id, "attempt": video.attempt, "status": video.status,
            "filename": video.filename, "content_type": video.content_type,
            "size_bytes": video.size_bytes, "duration_seconds": video.duration_seconds,
            "width": video.width, "height": video.height, "storage": video.backend,
            "created_at": _when(video.created_at), "uploaded_at": _when(video.uploaded_at),
            "ready_at": _when(video.ready_at), "deleted_at": _when(video.deleted_at),
            "legal_hold": video.legal_hold, "error_message": video.error_message}


def _comment(comment: Comment) -> dict[str, Any]:
    return {"id": comment.id, "submission_id": comment.submission_id,
            "video_id": comment.video_id, "at_seconds": comment.at_seconds,
            "body": comment.body, "author": comment.author.display_name
            if comment.author else None, "created_at": _when(comment.created_at),
            "updated_at": _when(comment.updated_at)}


def _submission(submission: Submission) -> dict[str, Any]:
    assignment = submission.assignment
    scores = db.session.scalars(select(ScoreOutbox).filter_by(submission_id=submission.id)
                                .order_by(ScoreOutbox.id)).all()
    return {
        "id": submission.id,
        "course": {"id": assignment.course_id, "title": assignment.course.title,
                   "context_id": assignment.course.context_id},
        "assignment": {"id": assignment.id, "title": assignment.title},
        "submitted_at": _when(submission.submitted_at),
        "grade": {"score": submission.score_given, "max_score": assignment.max_score,
                  "feedback": submission.feedback, "released": submission.released,
                  "graded_at": _when(submission.graded_at),
                  "graded_by": submission.graded_by.display_name
                  if submission.graded_by else None},
        "videos": [_video(v) for v in submission.videos],
        "comments_received": [_comment(c) for c in submission.comments],
        "scores_sent_to_lms": [{"status": s.status, "score": s.payload,
                                "queued_at": _when(s.created_at),
                                "delivered_at": _when(s.delivered_at),
                                "last_error": s.last_error} for s in scores],
    }


def _audit(event: AuditEvent) -> dict[str, Any]:
    return {"at": _when(event.at), "event": event.event_type, "by_this_user":
            None if event.actor_id is None else True, "course_id": event.course_id,
            "target": f"{event.target_type}:{event.target_id}" if event.target_type else None,
            "data": event.data, "ip": event.ip}


def audit_entries(user: User, submission_ids: list[int], video_ids: list[int]):
    """Select the audit entries the user did, or about their submissions and videos."""
    about = [and_(AuditEvent.target_type == "submission",
                  AuditEvent.target_id.in_([str(i) for i in submission_ids]))] \
        if submission_ids else []
    if video_ids:
        about.append(and_(AuditEvent.target_type == "video",
                          AuditEvent.target_id.in_([str(i) for i in video_ids])))
    return select(AuditEvent).where(or_(AuditEvent.actor_id == user.id, *about)) \
        .order_by(AuditEvent.id)


def export_user(user: User, actor: User | None = None) -> dict[str, Any]:
    """Return everything held about `user` as one JSON-ready dict (the export is audited;
    the caller commits)."""
    document = build_export(user)
    audit.record(audit.EventType.USER_DATA_EXPORTED, actor=actor,
                 platform_id=user.platform_id, target=user)
    return document


def build_export(user: User) -> dict[str, Any]:
    """Return everything held about `user` as one JSON-ready dict (not audited: for the
    person's own overview page)."""
    submissions = db.session.scalars(select(Submission).filter_by(user_id=user.id)
                                     .order_by(Submission.id)).all()
    submission_ids = [s.id for s in submissions]
    video_ids = [v.id for s in submissions for v in s.videos]
    enrollments = db.session.scalars(select(Enrollment).filter_by(user_id=user.id)).all()
    written = db.session.scalars(select(Comment).filter_by(author_id=user.id)
                                 .order_by(Comment.id)).all()
    given = db.session.scalars(select(Submission).filter_by(graded_by_id=user.id)
                               .order_by(Submission.id)).all()
    launches = db.session.scalars(select(LaunchRecord).filter_by(user_id=user.id)
                                  .order_by(LaunchRecord.created_at)).all()
    uploads = db.session.scalars(select(Upload).filter_by(user_id=user.id)).all()
    phone_links = db.session.scalars(select(HandoffLink).filter_by(user_id=user.id)
                                     .order_by(HandoffLink.id)).all()
    document = {
        "format": FORMAT,
        "exported_at": _when(utcnow()),
        "platform": {"id": user.platform_id, "issuer": user.platform.issuer,
                     "name": user.platform.name},
        "profile": {"id": user.id, "sub": user.sub, "name": user.name,
                    "given_name": user.given_name, "family_name": user.family_name,
                    "email": user.email, "picture": user.picture,
                    "is_platform_admin": user.is_platform_admin,
                    "admin_granted": user.admin_granted,
                    "created_at": _when(user.created_at),
                    "last_seen_at": _when(user.last_seen_at)},
        "enrollments": [{"course_id": e.course_id, "course_title": e.course.title,
                         "role": e.role, "lti_roles": e.lti_roles, "source": e.source,
                         "active": e.active} for e in enrollments],
        "submissions": [_submission(s) for s in submissions],
        "comments_written": [_comment(c) for c in written],
        "grades_given": [{"submission_id": s.id, "assignment_id": s.assignment_id,
                          "score": s.score_given, "feedback": s.feedback,
                          "graded_at": _when(s.graded_at)} for s in given],
        "launches": [{"at": _when(r.created_at), "message_type": r.message_type,
                      "role": r.role, "course_id": r.course_id,
                      "assignment_id": r.assignment_id, "claims": r.claims}
                     for r in launches],
        "unfinished_uploads": [{"video_id": u.video_id, "length": u.length,
                                "created_at": _when(u.created_at),
                                "expires_at": _when(u.expires_at)} for u in uploads],
        "phone_upload_links": [{"assignment_id": h.assignment_id, "video_id": h.video_id,
                                "created_at": _when(h.created_at),
                                "expires_at": _when(h.expires_at),
                                "claimed_at": _when(h.claimed_at),
                                "completed_at": _when(h.completed_at)} for h in phone_links],
        "audit_log": [_audit(e) for e in db.session.scalars(
            audit_entries(user, submission_ids, video_ids))],
    }
    return document


def summarize(document: dict[str, Any]) -> dict[str, int]:
    """Count what an export holds: courses, submissions, videos still stored and their
    bytes, comments received and written, launches, audit entries."""
    submissions = document["submissions"]
    stored = [v for s in submissions for v in s["videos"] if v["status"] != "deleted"]
    return {
        "courses": len({s["course"]["id"] for s in submissions} |
                       {e["course_id"] for e in document["enrollments"]}),
        "submissions": len(submissions),
        "videos": len(stored),
        "video_bytes": sum(v["size_bytes"] or 0 for v in stored),
        "comments_received": sum(len(s["comments_received"]) for s in submissions),
        "comments_written": len(document["comments_written"]),
        "launches": len(document["launches"]),
        "audit_entries": len(document["audit_log"]),
    }
