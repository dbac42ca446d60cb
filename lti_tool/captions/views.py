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

from flask import Blueprint, jsonify, request, url_for

from lti_tool import audit
from lti_tool.audit import EventType
from lti_tool.access.launches import current_launch, require_launch
from lti_tool.errors import Conflict, Forbidden, StorageError, ToolError
from lti_tool.models import User, Video
from lti_tool.access.permissions import can_grade, get_visible_video
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability, NotSupported, UploadNotFound

log = logging.getLogger(__name__)

bp = Blueprint("captions", __name__, url_prefix="/api/videos")

MAX_CAPTION_BYTES = 1024 * 1024
# Room for the multipart envelope around the file (boundaries, part headers).
FORM_OVERHEAD_BYTES = 16 * 1024
FILE_FIELD = "file"
# A WebVTT file starts with an optional BOM, then "WEBVTT", then a space, tab, newline or
# the end of the file (https://www.w3.org/TR/webvtt1/#file-structure).
VTT_SIGNATURE = "WEBVTT"
VTT_AFTER_SIGNATURE = (" ", "\t", "\n", "\r")
UTF8_BOM = "\ufeff"

# Common BCP 47 tags people may choose, with their English names. Cloudflare names each
# track itself in the viewer's player (e.g. "Deutsch" for de).
LANGUAGES: dict[str, str] = {
    "ar": "Arabic", "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "en-GB": "English (UK)",
    "en-US": "English (US)", "es": "Spanish", "es-419": "Spanish (Latin America)",
    "fa": "Persian", "fi": "Finnish", "fr": "French", "fr-CA": "French (Canada)",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "ms": "Malay", "nb": "Norwegian Bokmål",
    "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "pt-BR": "Portuguese (Brazil)",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "vi": "Vietnamese", "zh-Hans": "Chinese (Simplified)", "zh-Hant": "Chinese (Traditional)",
}
# The spoken languages Cloudflare Stream can transcribe (its "generate captions" list).
GENERATE_LANGUAGES = ("cs", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru")

# Caption states as the storage reports them.
STATUS_READY = "ready"
STATUS_IN_PROGRESS = "inprogress"
STATUS_ERROR = "error"

MSG_NOT_SUPPORTED = ("Captions are not available with this site's video storage. Ask the "
                     "site administrator if you need them.")
MSG_UPLOAD_REFUSED = ("The video service refused this caption file. Check that it is a valid "
                      "WebVTT file (cue times like 00:00:01.000 --> 00:00:04.000) and try "
                      "again.")
MSG_GENERATE_REFUSED = ("The video service could not start generating captions in this "
                        "language. If captions in this language already exist, delete them "
                        "first; otherwise try again in a few minutes.")
MSG_VIDEO_GONE = "The video service no longer holds this video, so it has no captions."
MSG_NO_GENERATION = ("This site's video storage cannot transcribe speech into captions. "
                     "Upload a WebVTT (.vtt) caption file instead.")


# ---- who may do what ------------------------------------------------------------------------

def can_edit_captions(user: User | None, video: Video) -> bool:
    """Tell whether the user may change a video's captions: its owner or a course grader."""
    if user is None:
        return False
    submission = video.submission
    return submission.user_id == user.id or can_grade(user, submission.assignment)


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

def parse_language(tag: str | None, allowed=LANGUAGES) -> str:
    """Return the language tag when it is one we offer (case-insensitive), else refuse."""
    wanted = (tag or "").strip().lower()
    for known in allowed:
        if known.lower() == wanted:
            return known
    raise ToolError(f"'{(tag or '')[:20]}' is not a language this tool offers for captions. "
                    "Choose one from the list, such as en, fr or pt-BR.",
                    code="bad_language")


def parse_vtt(data: bytes) -> bytes:
    """Return the file's bytes when they are a WebVTT file within the size limit."""
    if len(data) > MAX_CAPTION_BYTES:
        raise _too_large()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError("The caption file is not UTF-8 text. Save it as UTF-8 WebVTT (.vtt) "
                        "and try again.", code="captions_not_vtt") from None
    text = text.removeprefix(UTF8_BOM)
    rest = text[len(VTT_SIGNATURE):]
    if not text.startswith(VTT_SIGNATURE) or (rest and not rest.startswith(VTT_AFTER_SIGNATURE)):
        raise ToolError("This is not a WebVTT caption file: its first line must be WEBVTT. "
                        "Convert SRT or other formats to WebVTT (.vtt) first.",
                        code="captions_not_vtt")
    return data


def _too_large() -> ToolError:
    return ToolError(f"The caption file is larger than {MAX_CAPTION_BYTES // 1024} KB. Caption "
                     "files are usually much smaller: check you chose the right file.",
                     code="captions_too_large", http_status=413)


def _uploaded_vtt() -> bytes:
    """Read the uploaded caption file without holding more than the limit in memory."""
    if (request.content_length or 0) > MAX_CAPTION_BYTES + FORM_OVERHEAD_BYTES:
        raise _too_large()
    upload = request.files.get(FILE_FIELD)
    if upload is None or not upload.filename:
        raise ToolError("Choose a WebVTT (.vtt) caption file to upload.",
                        code="captions_file_missing")
    return parse_vtt(upload.stream.read(MAX_CAPTION_BYTES + 1))


# ---- domain ---------------------------------------------------------------------------------

def list_video_captions(video: Video) -> list[dict]:
    """Return the video's captions with a readable name, sorted by language."""
    try:
        found = storage_for(video.backend).list_captions(video.storage_uid)
    except UploadNotFound:
        raise Conflict(MSG_VIDEO_GONE, code="video_not_stored") from None
    rows = []
    for caption in found:
        tag = caption.get("language") or ""
        rows.append({"language": tag, "name": LANGUAGES.get(tag) or caption.get("label") or tag,
                     "label": caption.get("label"), "generated": bool(caption.get("generated")),
                     "status": caption.get("status") or STATUS_READY})
    return sorted(rows, key=lambda r: r["language"])


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

def captions_panel(video: Video | None) -> dict | None:
    """Return what the captions panel needs for a ready video, or None to hide the panel."""
    launch = current_launch()
    if (launch is None or video is None or video.status != VideoStatus.READY
            or not video.storage_uid):
        return None
    try:
        backend = storage_for(video.backend)
    except ValueError:  # a backend no longer configured
        return None
    if not backend.supports(Capability.CAPTIONS):
        return None
    return {"video_id": video.id, "launch": launch.id,
            "can_generate": backend.supports(Capability.CAPTION_GENERATION),
            "url": url_for("captions.index", video_id=video.id),
            "can_edit": can_edit_captions(launch.user, video),
            "max_bytes": MAX_CAPTION_BYTES,
            "languages": [{"tag": t, "name": n} for t, n in LANGUAGES.items()],
            "generate_languages": [{"tag": t, "name": LANGUAGES[t]} for t in GENERATE_LANGUAGES]}
