"""Domain signals, so features react to each other without importing each other.

Senders pass the model instance; receivers run in the sender's transaction and must not
commit it.
"""
from blinker import Namespace

_signals = Namespace()

# A video (an attempt) became ready to play; its submission now counts as submitted.
video_ready = _signals.signal("video-ready")
# A video failed processing (not a video, too long, corrupted, provider error).
video_failed = _signals.signal("video-failed")
# Every byte of an attempt arrived and it needs processing by the tool (lti_tool.processing
# enqueues the job); the sender has committed.
video_uploaded = _signals.signal("video-uploaded")
# An upload was created for a new attempt.
upload_started = _signals.signal("upload-started")
# A background job finished a run (lti_tool.jobs); the JobRun is sent, already committed.
job_finished = _signals.signal("job-finished")
# The tool's tus endpoint appended a PATCH's body to an upload (either door: the Flask view
# or the WSGI fast path); sent with the upload's id and `count`, the bytes written.
upload_bytes_received = _signals.signal("upload-bytes-received")
# A viewer was granted a playback URL of a video (audited before it is sent).
playback_granted = _signals.signal("playback-granted")
