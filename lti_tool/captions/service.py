"""Captions of a video, whatever stores them: the languages offered, WebVTT checks, who may change
them, and what the captions panel shows."""
from __future__ import annotations

import logging

from flask import url_for

from lti_tool.access.launches import current_launch
from lti_tool.access.permissions import can_grade
from lti_tool.errors import Conflict, ToolError
from lti_tool.models import User, Video
from lti_tool.statuses import VideoStatus
from lti_tool.storage import storage_for
from lti_tool.storage.base import Capability, UploadNotFound

log = logging.getLogger(__name__)


MAX_CAPTION_BYTES = 1024 * 1024


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


MSG_VIDEO_GONE = "The video service no longer holds this video, so it has no captions."


def can_edit_captions(user: User | None, video: Video) -> bool:
    """Tell whether the user may change a video's captions: its owner or a course grader."""
    if user is None:
        return False
    submission = video.submission
    return submission.user_id == user.id or can_grade(user, submission.assignment)


def parse_language(tag: str | None, allowed=LANGUAGES) -> str:
    """Return the language tag when it is one we offer (case-insensitive), else refuse."""
    wanted = (tag or "").strip().lower()
    for known in allowed:
        if known.lower() == wanted:
            return known
    raise ToolError(f"'{(tag or '')[:20]}' is not a language this tool offers for captions. "
                    "Choose one from the list, such as en, fr or pt-BR.",
                    code="bad_language")


def too_large() -> ToolError:
    """Refuse a caption file over MAX_CAPTION_BYTES."""
    return ToolError(f"The caption file is larger than {MAX_CAPTION_BYTES // 1024} KB. Caption "
                     "files are usually much smaller: check you chose the right file.",
                     code="captions_too_large", http_status=413)


def parse_vtt(data: bytes) -> bytes:
    """Return the file's bytes when they are a WebVTT file within the size limit."""
    if len(data) > MAX_CAPTION_BYTES:
        raise too_large()
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
