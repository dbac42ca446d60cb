/* The demo LMS's side of `lti.frameResize` (and its 1EdTech name `org.imsglobal.lti.frameResize`):
   the tool's frame takes the height its page asks for, as Canvas and Moodle do, so a narrow
   screen scrolls one page instead of a frame inside a page. Only the frame's own messages
   count, and a height is kept within sane bounds. */
const SUBJECTS = new Set(["lti.frameResize", "org.imsglobal.lti.frameResize"]);
const MIN_HEIGHT_PX = 480;      // the frame's CSS min-height
const MAX_HEIGHT_PX = 20000;    // a page taller than this scrolls inside the frame

const frame = document.querySelector("iframe.demo-frame");
if (frame) {
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== frame.contentWindow || !data || !SUBJECTS.has(data.subject)) return;
    const height = Number(data.height);
    if (!Number.isFinite(height) || height <= 0) return;
    frame.style.height = Math.min(MAX_HEIGHT_PX, Math.max(MIN_HEIGHT_PX, Math.ceil(height))) + "px";
  });
}
