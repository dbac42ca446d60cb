/* What assistive technology hears when a page changes by itself.

   Every page (templates/base.html) has one polite live region, #live-status, and one
   assertive one, #live-alert, both visually hidden. Scripts say what changed — an upload
   started, paused, resumed, is retrying, finished, failed — with announce(), and errors
   with announceError(); never progress ticks, clocks or anything that changes every moment
   (the progress bar's aria-valuetext is there to be read on demand). */

const STATUS_REGION = "live-status";
const ALERT_REGION = "live-alert";
// Emptied first, then filled a moment later, so the same words said twice are heard twice.
const SETTLE_MS = 100;

const pending = new Map();

function say(regionId, message) {
  const region = document.getElementById(regionId);
  if (!region || !message) return;
  clearTimeout(pending.get(regionId));
  region.textContent = "";
  pending.set(regionId, setTimeout(() => { region.textContent = message; }, SETTLE_MS));
}

/** Tell assistive technology, politely, that something changed. */
export function announce(message) {
  say(STATUS_REGION, message);
}

/** Tell assistive technology at once that something failed. */
export function announceError(message) {
  say(ALERT_REGION, message);
}
