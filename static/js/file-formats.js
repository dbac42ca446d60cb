/* Which files the student page (uploader.js) and the phone page (phone.js) take, judged by
   name before any byte moves. The server names the formats (lti_tool/uploads/status.py:
   `limits.formats`, this assignment's; `limits.sound_formats`, every sound file's;
   `limits.accept`, the file input's list) and checks each file again. */

// A sound file where a video is asked for (the server's video_checks.SOUND_ONLY).
const SOUND_WHERE_VIDEO = "This file has sound but no picture, and this assignment asks " +
  "for a video. Please upload the video itself (for example the MP4 from your phone or " +
  "camera).";

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/* Say why a file is refused by its name, or return null when its format is accepted. */
export function formatRefusal(name, limits) {
  const ext = extensionOf(name);
  if (ext && limits.formats.indexOf(ext) >= 0) return null;
  const sound = limits.sound_formats || [];
  if (ext && sound.indexOf(ext) >= 0) return SOUND_WHERE_VIDEO;
  const kind = limits.formats.some((f) => sound.indexOf(f) >= 0) ? "video or sound" : "video";
  return `“${name}” is not an accepted ${kind} format. Accepted: ` +
    limits.formats.map((f) => f.toUpperCase()).join(", ") + ".";
}

/* Tell whether the assignment takes sound files as well as videos. */
export function takesSound(limits) {
  return limits.formats.some((f) => (limits.sound_formats || []).indexOf(f) >= 0);
}
