"""Why processing refused or failed a video, as codes and the words a student reads.

Each message says what to do next; none says "reload the page", which never helps.
"""
from __future__ import annotations

from lti_tool.uploads import video_checks

# Checks of the file itself (video_checks names them; the pipeline reuses them).
NOT_A_VIDEO = video_checks.NOT_A_VIDEO
CORRUPTED = video_checks.CORRUPTED
EMPTY = video_checks.EMPTY
TOO_LONG = video_checks.TOO_LONG
SOUND_ONLY = video_checks.SOUND_ONLY
NOT_A_SOUND_FILE = video_checks.NOT_A_SOUND_FILE
# The pipeline's own.
PICTURE_TOO_LARGE = "picture_too_large"
TRANSCODE_FAILED = "transcode_failed"
TRANSCODE_TIMEOUT = "transcode_timeout"
GAVE_UP = "processing_gave_up"

# Failures of the work, not verdicts on the file: an administrator may try them again (after
# raising a limit, fixing the worker machine, ...). A refused file would be refused again.
RETRYABLE = frozenset({TRANSCODE_FAILED, TRANSCODE_TIMEOUT, GAVE_UP})

EXPORT_AS_MP4 = ("export it again from your editing or camera app as MP4 (H.264), "
                 "then upload the new file")

MESSAGES = {
    **video_checks.MESSAGES,
    PICTURE_TOO_LARGE: "This video's picture is larger than we can process (at most 8K). "
                       f"Please {EXPORT_AS_MP4} at 4K or smaller.",
    TRANSCODE_FAILED: "This file's video track is damaged, so it could not be converted "
                      f"for playback. Please {EXPORT_AS_MP4}.",
    TRANSCODE_TIMEOUT: "Converting this video for playback took longer than this site "
                       f"allows. Please {EXPORT_AS_MP4} at 1080p or smaller.",
    GAVE_UP: "This video could not be prepared for playback after several tries. Please "
             f"{EXPORT_AS_MP4}. If that fails too, ask your instructor for help.",
}
