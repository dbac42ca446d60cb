/* "Upload from your phone" on the student page (templates/student/_handoff.html): asks the
   tool for a link (POST /api/handoff: a QR code, the short link and its code), then follows
   it (GET its status_url) while the phone claims it and uploads; once every byte arrived it
   tells uploader.js (HANDOFF_DELIVERED), whose status line shows the result. State changes
   are said in the page's live region; the upload's percent is shown, not announced. */
import { ApiClient, BusyPolicy } from "./api.js";
import { percentArrived } from "./attempts.js";
import { formatMoment } from "./format.js";
import { HANDOFF_DELIVERED } from "./handoff-events.js";
import { announce, announceError } from "./live.js";

const POLL_MS = 2000;
const POLL_AFTER_ERROR_MS = 5000;
const LinkState = Object.freeze({ WAITING: "waiting", EXPIRED: "expired", CLAIMED: "claimed",
                                  UPLOADING: "uploading", DONE: "done" });
const SAID = Object.freeze({
  [LinkState.WAITING]: "Waiting for your phone…",
  [LinkState.EXPIRED]: "This code has expired. Get a new code to upload from your phone.",
  [LinkState.CLAIMED]: "Your phone is connected. Film or choose a video on it.",
  [LinkState.UPLOADING]: "Your phone is uploading your video.",
  [LinkState.DONE]: "Your phone has sent your video."
});

const $ = (id) => document.getElementById(id);
const root = $("handoff");
const page = JSON.parse($("page-data").textContent);
const api = new ApiClient(page.launch_id);
let link = null;       // the answer of POST /api/handoff
let said = "";         // the last state said aloud
let timer = null;

function status(text, state) {
  const line = $("handoff-status");
  line.textContent = text;
  line.dataset.state = state || "";
}

function say(state, error) {
  if (said === state) return;
  said = state;
  if (error) announceError(SAID[state] || state); else announce(SAID[state] || state);
}

function showLink(data) {
  link = data;
  said = "";
  const qr = $("handoff-qr");
  qr.src = data.qr;
  qr.hidden = false;
  const short = $("handoff-short");
  short.href = data.url;
  short.textContent = data.short_url.replace(/^https?:\/\//, "");
  $("handoff-code").textContent = data.code;
  $("handoff-expiry").textContent = `For one video, valid ${Math.round(data.ttl_seconds / 60)} ` +
    `minutes (until ${formatMoment(data.expires_at)}).`;
  $("handoff-new").hidden = true;
  follow();
}

function expired() {
  clearTimeout(timer);
  $("handoff-qr").hidden = true;
  $("handoff-new").hidden = false;
  status(SAID[LinkState.EXPIRED], LinkState.EXPIRED);
  say(LinkState.EXPIRED);
}

function render(state) {
  const video = state.video;
  if (state.state === LinkState.EXPIRED) { expired(); return false; }
  if (state.state !== LinkState.WAITING) $("handoff-qr").hidden = true;
  if (state.state === LinkState.UPLOADING && video) {
    status(`Your phone is uploading “${video.filename}”: ${percentArrived(video)} %.`,
      state.state);
  } else if (state.state === LinkState.DONE && video) {
    status(`Your phone has sent “${video.filename}”.`, state.state);
  } else {
    status(SAID[state.state] || state.state, state.state);
  }
  say(state.state);
  if (state.state === LinkState.DONE) {
    // The page's own status line takes over (uploader.js); the panel is ready for next time.
    document.dispatchEvent(new CustomEvent(HANDOFF_DELIVERED, { detail: video }));
    reset();
    return false;
  }
  return true;
}

function follow() {
  clearTimeout(timer);
  if (!link) return;
  api.get(link.status_url, { busy: BusyPolicy.REPORT }).then((state) => {
    if (render(state)) timer = setTimeout(follow, POLL_MS);
  }).catch((err) => {
    if (err.status === 404) { link = null; return; }
    timer = setTimeout(follow, err.retryAfterMs || POLL_AFTER_ERROR_MS);
  });
}

function create() {
  clearTimeout(timer);
  status("Making a code for your phone…", "");
  api.post(root.dataset.createUrl, {}).then(showLink).catch((err) => {
    status(err.message, "error");
    announceError(err.message);
  });
}

function open() {
  $("handoff-panel").hidden = false;
  $("handoff-start").setAttribute("aria-expanded", "true");
  $("handoff-start").hidden = true;
  $("handoff-title").setAttribute("tabindex", "-1");
  $("handoff-title").focus();
  create();
}

function reset() {
  clearTimeout(timer);
  link = null;
  $("handoff-panel").hidden = true;
  $("handoff-start").hidden = false;
  $("handoff-start").setAttribute("aria-expanded", "false");
}

function close() {
  reset();
  $("handoff-start").focus();
}

if (root) {
  $("handoff-start").addEventListener("click", open);
  $("handoff-close").addEventListener("click", close);
  $("handoff-new").addEventListener("click", () => { create(); $("handoff-title").focus(); });
  root.dataset.ready = "true";
}
