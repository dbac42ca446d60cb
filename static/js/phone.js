/* The phone's upload page (templates/handoff/phone.html): claims the hand-off link for this
   phone (POST /api/handoff/claim with the code; the answer's claim secret is the phone's
   own launch id, kept in sessionStorage for a reload, never in a cookie), lets the student
   film or choose one video, and uploads it with the student page's transports (tus or S3
   multipart, resumable, chunks sized for mobile networks) with the screen kept awake, then
   follows its status. */
import { ApiClient, ErrorKind, HttpStatus } from "./api.js";
import { Status } from "./attempts.js";
import { formatRefusal, takesSound } from "./file-formats.js";
import { formatSize } from "./format.js";
import { announce, announceError } from "./live.js";
import { multipartTransport } from "./transport-multipart.js";
import { tusTransport } from "./tus-transport.js";
import { UploadProgress } from "./upload-progress.js";

const TRANSPORTS = { tus: tusTransport, multipart: multipartTransport };
const STORE_PREFIX = "handoff-claim:";
const POLL_MS = 2000;
const Notice = Object.freeze({ INFO: "info", WARNING: "warning", ERROR: "error" });

const $ = (id) => document.getElementById(id);
const page = JSON.parse($("page-data").textContent);
const storeKey = STORE_PREFIX + page.code;
let claim = null;   // the answer of the claim
let api = null;
let ctx = null;
let current = null; // {controller, file, videoId}

const progress = new UploadProgress({
  area: $("progress-area"), file: $("progress-file"), size: $("progress-size"),
  bar: $("progress"), fill: $("progress-fill"), percent: $("progress-percent"),
  speed: $("progress-speed"), eta: $("progress-eta")
});

function notice(kind, text) {
  const n = $("phone-notice");
  n.className = "alert alert-" + kind;
  n.textContent = text;
  n.hidden = !text;
  if (!text) return;
  if (kind === Notice.ERROR) announceError(text); else announce(text);
}

function statusLine(text, state) {
  const line = $("phone-status");
  line.textContent = text;
  line.dataset.status = state;
  line.className = "status-line status-" + state;
  line.hidden = false;
}

function recall() {
  try { return JSON.parse(window.sessionStorage.getItem(storeKey) || "null"); } catch (e) { return null; }
}

function keep(value) {
  try { window.sessionStorage.setItem(storeKey, JSON.stringify(value)); } catch (e) { /* private mode */ }
}

function ready(found) {
  claim = found;
  api = new ApiClient(claim.claim);
  ctx = { userId: claim.user_id, assignmentId: claim.assignment_id, endpoint: page.urls.tus,
          chunkSize: claim.chunk_size, headers: api.launchHeaders(), api };
  $("phone-claiming").hidden = true;
  $("phone-limits").textContent = `One video, at most ${formatSize(claim.limits.max_bytes)}; ` +
    "formats: " + claim.limits.formats.map((f) => f.toUpperCase()).join(", ") + ".";
  // A claim kept from before a deploy may lack the list: the page's own (video/*) stays.
  if (claim.limits.accept) $("phone-pick").accept = claim.limits.accept;
  if (takesSound(claim.limits)) {
    $("phone-pick-label").textContent = "Choose a video or sound file from this phone";
  }
  if (claim.video_id && claim.status_url) { resumeOrShow(); return; }
  $("phone-choose").hidden = false;
  $("phone").dataset.ready = "true";
  announce("This phone is connected. Film or choose a video.");
}

/* Back on the page (a reload) after the upload started: show how it ended, or offer to
   finish it with the same video. */
function resumeOrShow() {
  api.get(claim.status_url).then((video) => {
    $("phone").dataset.ready = "true";
    if (video.status === Status.PENDING || video.status === Status.UPLOADING) {
      $("phone-choose").hidden = false;
      notice(Notice.INFO, `The upload of “${video.filename}” stopped part-way. Choose the ` +
        "same video again to continue where it stopped.");
      return;
    }
    follow(video);
  }).catch((err) => {
    $("phone").dataset.ready = "true";
    notice(Notice.ERROR, explain(err));
  });
}

function explain(err) {
  return err.status === HttpStatus.UNAUTHORIZED
    ? "This upload link has run out. On your computer, choose “Upload from your phone” " +
      "again to get a new one."
    : err.message;
}

function checkFile(file) {
  const refusal = formatRefusal(file.name, claim.limits);
  if (refusal) return refusal;
  if (file.size === 0) return "The video is empty. Please choose another one.";
  if (file.size > claim.limits.max_bytes) {
    return `The video is ${formatSize(file.size)}, larger than the ` +
      `${formatSize(claim.limits.max_bytes)} this assignment accepts.`;
  }
  return null;
}

function transportFor(method) {
  const t = TRANSPORTS[method];
  if (!t || (t.supported && !t.supported())) {
    throw new Error("This browser cannot upload here. Please try another browser.");
  }
  return t;
}

function begin(file) {
  notice(Notice.INFO, "");
  const problem = checkFile(file);
  if (problem) { notice(Notice.ERROR, problem); return; }
  let transport;
  try { transport = transportFor(claim.upload_method); } catch (e) { notice(Notice.ERROR, e.message); return; }
  const finder = transport.findPrevious ? transport.findPrevious(file, ctx) : Promise.resolve([]);
  finder.catch(() => []).then((previous) => {
    const mine = previous.filter((p) => p.videoId === claim.video_id)[0];
    if (mine) { run(file, mine.videoId, (cb) => transport.resume(file, mine, ctx, cb)); return; }
    api.post(page.urls.start, { filename: file.name, size_bytes: file.size,
                                content_type: file.type || "" }).then((ticket) => {
      claim.video_id = ticket.video_id;
      claim.finish_url = ticket.finish_url;
      claim.status_url = ticket.status_url;
      keep(claim);
      run(file, ticket.video_id, (cb) => transportFor(ticket.method).start(file, ticket, ctx, cb));
    }).catch((err) => notice(Notice.ERROR, explain(err)));
  });
}

/* Keep the screen on while the upload runs: a phone that sleeps drops the connection. */
let wakeLock = null;
function keepAwake(on) {
  if (!on) {
    if (wakeLock) wakeLock.release().catch(() => {});
    wakeLock = null;
    return;
  }
  if (wakeLock || !navigator.wakeLock || document.visibilityState !== "visible") return;
  navigator.wakeLock.request("screen").then((lock) => {
    wakeLock = lock;
    lock.addEventListener("release", () => { if (wakeLock === lock) wakeLock = null; });
  }).catch(() => { /* refused (battery saver): the upload resumes after a pause anyway */ });
}

function run(file, videoId, launch) {
  current = { file, videoId };
  keepAwake(true);
  $("phone-choose").hidden = true;
  progress.start(file);
  $("pause-btn").hidden = false;
  $("resume-btn").hidden = true;
  announce(`Uploading “${file.name}”.`);
  current.controller = launch({
    onProgress: (sent, total) => progress.set(sent, total),
    onRetry: () => notice(Notice.WARNING, "The connection was interrupted. Retrying…"),
    onSuccess: () => finished(),
    onError: (failure) => failed(failure)
  });
}

function finished() {
  keepAwake(false);
  const size = current.file.size;
  current.done = true;
  progress.set(size, size);
  $("pause-btn").hidden = true;
  notice(Notice.INFO, "");
  api.post(claim.finish_url, undefined).then(follow).catch((err) => notice(Notice.ERROR, explain(err)));
}

function follow(video) {
  if (video.status === Status.READY) {
    statusLine(`Your video “${video.filename}” is submitted. You can close this page.`, video.status);
    announce("Your video is submitted.");
    return;
  }
  if (video.status === Status.ERROR) {
    statusLine(`“${video.filename}” was not accepted: ${video.error_message || "unknown problem."}`, video.status);
    announceError("Your video was not accepted.");
    return;
  }
  statusLine(`Upload complete. Preparing “${video.filename}”… Your computer's page shows it too.`,
    video.status);
  setTimeout(() => api.get(claim.status_url).then(follow).catch(() => setTimeout(() => follow(video), POLL_MS)),
    POLL_MS);
}

function failed(failure) {
  keepAwake(false);
  $("pause-btn").hidden = true;
  if (failure.kind === ErrorKind.NETWORK || failure.kind === ErrorKind.TIMEOUT ||
      failure.status === HttpStatus.TOO_MANY_REQUESTS || failure.status >= HttpStatus.SERVER_ERROR_MIN) {
    $("resume-btn").hidden = false;
    notice(Notice.ERROR, "The upload stopped (the network or the server). Press Resume to continue.");
    return;
  }
  notice(Notice.ERROR, "The upload was refused: " + explain(failure));
}

function claimLink() {
  const found = recall();
  if (found) { ready(found); return; }
  new ApiClient("").post(page.urls.claim, { code: page.code }).then((answer) => {
    keep(answer);
    ready(answer);
  }).catch((err) => {
    $("phone-claiming").hidden = true;
    notice(Notice.ERROR, err.message);
    $("phone").dataset.ready = "true";
  });
}

["phone-film", "phone-pick"].forEach((id) => {
  const input = $(id);
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) begin(input.files[0]);
    input.value = "";
  });
});
$("pause-btn").addEventListener("click", () => {
  if (!current) return;
  current.controller.pause();
  keepAwake(false);
  progress.pause();
  $("pause-btn").hidden = true;
  $("resume-btn").hidden = false;
  $("resume-btn").focus();
  notice(Notice.INFO, "Upload paused. Press Resume to continue.");
});
$("resume-btn").addEventListener("click", () => {
  if (!current) return;
  notice(Notice.INFO, "");
  progress.restartRate();
  current.controller.resume();
  keepAwake(true);
  $("resume-btn").hidden = true;
  $("pause-btn").hidden = false;
  $("pause-btn").focus();
});
window.addEventListener("online", () => { if (current && !$("resume-btn").hidden) $("resume-btn").click(); });
// The lock goes when the page is hidden; take it again when it comes back mid-upload.
document.addEventListener("visibilitychange", () => {
  if (current && !current.done && $("resume-btn").hidden) keepAwake(true);
});
window.addEventListener("beforeunload", (e) => {
  if (current && !current.done && $("resume-btn").hidden) {
    e.preventDefault();
    e.returnValue = "";
  }
});
claimLink();
