/* Inside the LMS's iframe: ask the platform to fit the frame to the page
   (`lti.frameResize`, Canvas and others; `org.imsglobal.lti.frameResize`, the 1EdTech
   name), drop the tool's own header (the LMS around it already names the course), and offer
   "Open in a new window" while the frame stays too narrow to work in. The page's URL carries
   its launch id, so the new window continues the same launch. */
const SUBJECTS = ["lti.frameResize", "org.imsglobal.lti.frameResize"];
const NARROW_PX = 760;     // below this a framed page offers a window of its own
const RESIZE_DELAY_MS = 100;

/** Tell whether this page runs inside another page's frame. */
export function isFramed() {
  try { return window.self !== window.top; } catch (e) { return true; }  // cross-origin top
}

/** Ask the platform to make the frame `height` pixels tall (every name platforms know). */
export function requestFrameHeight(height) {
  SUBJECTS.forEach((subject) => window.parent.postMessage({ subject, height }, "*"));
}

function pageHeight() {
  return Math.ceil(document.documentElement.scrollHeight);
}

function offerOwnWindow(link) {
  // A page that answers a form post has no address of its own (its URL is the form's
  // action): the server names the form's page in data-href, or none (empty: no link).
  const posted = "href" in link.dataset;
  if (posted && !link.dataset.href) { link.hidden = true; return; }
  link.href = posted ? link.dataset.href : window.location.href;
  link.hidden = window.innerWidth >= NARROW_PX;
}

/** Set up a framed page: no header, resize requests as the page grows, the window link. */
export function fitToFrame() {
  if (!isFramed()) return;
  document.documentElement.classList.add("framed");
  let last = 0, timer = null;
  const send = () => {
    timer = null;
    const height = pageHeight();
    if (height !== last) { last = height; requestFrameHeight(height); }
  };
  const soon = () => { if (!timer) timer = setTimeout(send, RESIZE_DELAY_MS); };
  send();
  if (window.ResizeObserver) new ResizeObserver(soon).observe(document.body);
  const link = document.getElementById("open-window");
  if (link) {
    offerOwnWindow(link);
    window.addEventListener("resize", () => { offerOwnWindow(link); soon(); });
  }
}
