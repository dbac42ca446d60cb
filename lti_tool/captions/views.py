"""Captions of a submitted video: list them, upload a WebVTT file, have the storage
generate them from the audio, delete a language.

Anyone who may see the video may list its captions; its owner and the graders of its
course may change them; everyone else is told the video does not exist (404). Changes
must carry the launch id explicitly (header or form field), never only the cookie, so
another site cannot forge them. The storage does the work through the backend interface
(Capability.CAPTIONS); a backend without it answers 501, and one that cannot transcribe
(no Capability.CAPTION_GENERATION, e.g. the local disk) answers 501 to "generate".
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from lti_tool import audit
from lti_tool.access.launches import current_launch, require_launch
from lti_tool.access.permissions import get_visible_video
from lti_tool.audit import EventType
from lti_tool.captions.service import (GENERATE_LANGUAGES, LANGUAGES, MAX_CAPTION_BYTES,
                                       MSG_VIDEO_GONE, can_edit_captions, list_video_captions,
                                       parse_language, parse_vtt, too_large)
from lti_tool.errors import Conflict, Forbidden, StorageError, ToolError
from lti_tool.models import Video
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability, NotSupported, UploadNotFound

log = logging.getLogger(__name__)

bp = Blueprint("captions", __name__, url_prefix="/api/videos")

# Room for the multipart envelope around the file (boundaries, part headers).
FORM_OVERHEAD_BYTES = 16 * 1024
FILE_FIELD = "file"


MSG_NOT_SUPPORTED = ("Captions are not available with this site's video storage. Ask the "
                     "site administrator if you need them.")
MSG_UPLOAD_REFUSED = ("The video service refused this caption file. Check that it is a valid "
                      "WebVTT file (cue times like 00:00:01.000 --> 00:00:04.000) and try "
                      "again.")
MSG_GENERATE_REFUSED = ("The video service could not start generating captions in this "
                        "language. If captions in this language already exist, delete them "
                        "first; otherwise try again in a few minutes.")
MSG_NO_GENERATION = ("This site's video storage cannot transcribe speech into captions. "
                     "Upload a WebVTT (.vtt) caption file instead.")


# ---- who may do what ------------------------------------------------------------------------


def _video(video_id: int) -> Video:
    """Load a video the asker may see and whose storage keeps captions."""
    video = get_visible_video(current_launch().user, video_id)
    if video.status == VideoStatus.DELETED or not video.storage_uid:
        raise Conflict("This video has no stored file, so it cannot have captions.",
                       code="video_not_stored")
    if not storage_for(video.backend).supports(Capability.CAPTIONS):
        raise NotSupported(MSG_NOT_SUPPORTED, code="captions_not_supported")
    return video


def _editable_video(video_id: int) -> Video:
    """Load a video the asker may change the captions of."""
    video = _video(video_id)
    if not can_edit_captions(current_launch().user, video):
        raise Forbidden("Only the student who submitted this video and the course's graders "
                        "may change its captions.")
    return video


# ---- validation -----------------------------------------------------------------------------


def _uploaded_vtt() -> bytes:
    """Read the uploaded caption file without holding more than the limit in memory."""
    if (request.content_length or 0) > MAX_CAPTION_BYTES + FORM_OVERHEAD_BYTES:
        raise too_large()
    upload = request.files.get(FILE_FIELD)
    if upload is None or not upload.filename:
        raise ToolError("Choose a WebVTT (.vtt) caption file to upload.",
                        code="captions_file_missing")
    return parse_vtt(upload.stream.read(MAX_CAPTION_BYTES + 1))


# ---- domain ---------------------------------------------------------------------------------


def _storage_call(action, refused_message: str) -> None:
    """Run one storage change, translating a refusal into a caption-specific message."""
    try:
        action()
    except UploadNotFound:
        raise Conflict(MSG_VIDEO_GONE, code="video_not_stored") from None
    except StorageError as exc:
        if exc.code != "storage_refused":
            raise
        raise StorageError(refused_message, code="captions_refused") from None


def _answer(video: Video, message: str, status: int = 200):
    return jsonify({"ok": True, "message": message,
                    "captions": list_video_captions(video)}), status


# ---- views ----------------------------------------------------------------------------------

@bp.get("/<int:video_id>/captions")
@require_launch()
def index(video_id: int):
    """List a video's captions with their status, and what the asker may do."""
    video = _video(video_id)
    return jsonify({"captions": list_video_captions(video),
                    "can_edit": can_edit_captions(current_launch().user, video)})


@bp.post("/<int:video_id>/captions/<language>")
@require_launch()
def upload(video_id: int, language: str):
    """Add or replace one language's captions with an uploaded WebVTT file."""
    video = _editable_video(video_id)
    tag = parse_language(language)
    vtt = _uploaded_vtt()
    _storage_call(lambda: storage_for(video.backend).upload_captions(video.storage_uid, tag, vtt),
                  MSG_UPLOAD_REFUSED)
    _record(EventType.CAPTIONS_ADDED, video, language=tag, generated=False,
            size_bytes=len(vtt))
    return _answer(video, f"{LANGUAGES[tag]} captions uploaded.", 201)


@bp.post("/<int:video_id>/captions/<language>/generate")
@require_launch()
def generate(video_id: int, language: str):
    """Ask the storage to transcribe the video's spoken language into captions."""
    video = _editable_video(video_id)
    tag = parse_language(language)
    if tag not in GENERATE_LANGUAGES:
        names = ", ".join(LANGUAGES[t] for t in GENERATE_LANGUAGES)
        raise ToolError(f"Captions cannot be generated in {LANGUAGES[tag]}. Choose the "
                        f"language spoken in the video, one of: {names}; or upload a file.",
                        code="bad_language")
    if video.status != VideoStatus.READY:
        raise Conflict("Captions can be generated once the video has finished processing.",
                       code="video_not_ready")
    backend = storage_for(video.backend)
    if not backend.supports(Capability.CAPTION_GENERATION):
        raise NotSupported(MSG_NO_GENERATION, code="captions_generation_not_supported")
    _storage_call(lambda: backend.generate_captions(video.storage_uid, tag),
                  MSG_GENERATE_REFUSED)
    _record(EventType.CAPTIONS_ADDED, video, language=tag, generated=True)
    return _answer(video, f"Generating {LANGUAGES[tag]} captions: this takes a few minutes.",
                   202)


@bp.delete("/<int:video_id>/captions/<language>")
@require_launch()
def delete(video_id: int, language: str):
    """Remove one language's captions."""
    video = _editable_video(video_id)
    tag = parse_language(language)
    _storage_call(lambda: storage_for(video.backend).delete_captions(video.storage_uid, tag),
                  MSG_UPLOAD_REFUSED)
    _record(EventType.CAPTIONS_DELETED, video, language=tag)
    return _answer(video, f"{LANGUAGES[tag]} captions deleted.")


def _record(event: EventType, video: Video, **data) -> None:
    audit.record(event, actor=current_launch().user, target=video,
                 course_id=video.submission.assignment.course_id, commit=True, **data)
    log.info("captions %s video=%s %s", event, video.id, data)


# ---- templates ------------------------------------------------------------------------------

