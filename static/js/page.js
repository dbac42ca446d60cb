/* What every page does once loaded (templates/base.html): moments in <time datetime> are
   shown in the viewer's locale and time zone, the messages flashed by the last action
   ("Grade saved and released.") are said in the page's live region, and inside an LMS frame
   the page fits itself to the frame (lti-frame.js). */
import { localizeMoments } from "./format.js";
import { fitToFrame } from "./lti-frame.js";
import { announce } from "./live.js";

const FLASHED = "[data-flashed]";

localizeMoments(document);
const flashed = Array.from(document.querySelectorAll(FLASHED), (el) => el.textContent.trim());
if (flashed.length) announce(flashed.join(" "));
fitToFrame();
