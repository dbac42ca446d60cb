/* The student page (templates/student/assignment.html): file checks, the upload with
   pause, resume, retries and resume after a reload, status polling, the preview player and
   the attempts history. The bytes move through a transport chosen by the server's answer
   (`method: "tus"` or `"multipart"`; tus-transport.js describes the interface); every call
   to the tool goes through api.js with the launch id in a header, never only a cookie.
   State changes (started, paused, resumed, retrying, finished, failed) are said in the
   page's live region (live.js); progress is shown, not announced. */
import { ApiClient, BusyPolicy, ErrorKind, HttpStatus, secondsToWait } from "./api.js";
import { STATUS_TEXT, Status, isOpen, percentArrived, renderHistory,
         renderUnfinished } from "./attempts.js";
import { formatRefusal } from "./file-formats.js";
import { formatDuration, formatSize, momentElement } from "./format.js";
import { HANDOFF_DELIVERED } from "./handoff-events.js";
import { announce, announceError } from "./live.js";
import { Player, bindSeekLinks } from "./player.js";
import { RecorderEvent } from "./recording-upload.js";
import { multipartTransport } from "./transport-multipart.js";
import { tusTransport } from "./tus-transport.js";
import { UploadProgress } from "./upload-progress.js";

const TRANSPORTS = { tus: tusTransport, multipart: multipartTransport };
const POLL_MS = [1000, 1500, 2000, 3000, 5000];
const POLL_AFTER_ERROR_MS = 5000;
const COUNTDOWN_TICK_MS = 1000;
// Refusals of a new upload whose message says it all.
const PASSED_ON_STATUSES = new Set([HttpStatus.FORBIDDEN, HttpStatus.TOO_LARGE,
                                    HttpStatus.UNSUPPORTED_TYPE]);
const GONE_STATUSES = new Set([HttpStatus.NOT_FOUND, HttpStatus.GONE]);
const PREVIEW_TITLE = "Preview of your submitted video";
const CONNECTION_INTERRUPTED = "The connection was interrupted.";
const BUSY_STORAGE = "The video storage is busy.";
const CANCEL_QUESTION = "Cancel this upload? What was sent so far is discarded.";
const Notice = Object.freeze({ NONE: "", INFO: "info", WARNING: "warning",
                               ERROR: "error" });

const $ = (id) => document.getElementById(id);
const page = JSON.parse($("page-data").textContent);
const api = new ApiClient(page.launch_id);
const ctx = {
  userId: page.user_id, assignmentId: page.assignment_id, endpoint: page.urls.tus,
  chunkSize: page.chunk_size || null, headers: api.launchHeaders(), api
};
const progress = new UploadProgress({
  area: $("progress-area"), file: $("progress-file"), size: $("progress-size"),
  bar: $("progress"), fill: $("progress-fill"), percent: $("progress-percent"),
  speed: $("progress-speed"), eta: $("progress-eta")
});

let state = page.state;
let current = null;       // {controller, file, videoId}
let replacing = false;
let pollTimer = null;
let countdownTimer = null;
let focusStatusNext = false;  // move focus to the status line once it shows

function show(el, on) { el.hidden = !on; }

/* Show a notice above the uploader and say it: errors at once, the rest politely. */
function notice(kind, text) {
  clearInterval(countdownTimer);
  const n = $("notice");
  n.className = "alert alert-" + kind;
  n.textContent = text;
  show(n, !!text);
  if (!text) return;
  if (kind === Notice.ERROR) announceError(text); else announce(text);
}

/* Show a notice that counts down to `ms` from now; only its first words are said. */
function countdown(kind, ms, textFor) {
  notice(kind, textFor(secondsToWait(ms)));
  const until = Date.now() + ms;
  countdownTimer = setInterval(() => {
    const left = until - Date.now();
    if (left <= 0) { clearInterval(countdownTimer); return; }
    $("notice").textContent = textFor(secondsToWait(left));
  }, COUNTDOWN_TICK_MS);
}

/* Call options for the student's own actions: a busy server is waited out, and said. */
const waitingOut = {
  onBusy: (ms) => notice(Notice.WARNING, `The server is busy. Trying again in ${secondsToWait(ms)} s…`)
};

function videoUrl(id, what) { return `${page.urls.videos}/${id}/${what}`; }

function explain(err) {
  if (err.status === HttpStatus.UNAUTHORIZED) {
    return "Your session has expired. Open this assignment again from your course page; " +
      "an unfinished upload continues where it stopped.";
  }
  return err.message;
}

// ---------- checks before any byte moves ----------
function checkFile(file) {
  const refusal = formatRefusal(file.name, state.limits);
  if (refusal) return refusal;
  if (file.size === 0) return "The file is empty. Please choose the video file itself.";
  if (file.size > state.limits.max_bytes) {
    return `The file is ${formatSize(file.size)}, larger than the ` +
      `${formatSize(state.limits.max_bytes)} this assignment accepts. Please compress or ` +
      "shorten the video and try again.";
  }
  return null;
}

// ---------- rendering ----------
function render() {
  const attempts = state.attempts || [];
  const latest = attempts[0];
  const currentVideo = attempts.filter((a) => a.is_current)[0];
  const busy = !!current;
  const latestOpen = isOpen(latest);
  const latestChecking = !!latest && latest.status === Status.PROCESSING;
  const latestFailed = !!latest && latest.status === Status.ERROR && latest !== currentVideo;
  const panel = !busy && (latestChecking || latestFailed || !!currentVideo);
  show($("current"), panel);
  if (panel) renderStatus(latestChecking || latestFailed ? latest : currentVideo, currentVideo);
  const wantsUploader = state.can_upload && !busy && !latestChecking &&
    (!currentVideo || latestOpen || latestFailed || replacing);
  show($("uploader"), wantsUploader);
  show($("replace-btn"), state.can_upload && !busy && !!currentVideo && !wantsUploader);
  const closed = $("closed");
  closed.textContent = state.can_upload ? "" : (state.paused || state.closed_message || "");
  show(closed, !!closed.textContent);
  renderReceipt(state.receipt, panel && !!currentVideo);
  renderUnfinished($("unfinished"), attempts, busy);
  renderHistory($("history"), $("history-title"), attempts);
  if (focusStatusNext && !$("current").hidden) {
    focusStatusNext = false;
    $("current-status").focus();
  }
}

/* The receipt of the video handed in: when, which file, how big, its code. */
function renderReceipt(receipt, shown) {
  show($("receipt"), !!receipt && shown);
  if (!receipt) return;
  const text = $("receipt-text");
  text.textContent = `Receipt ${receipt.code}: “${receipt.filename}”, ` +
    `${formatSize(receipt.size_bytes)}, handed in `;
  text.appendChild(momentElement(receipt.handed_in_at));
  text.append(". ");
}

/** Say how far processing is (" (42 %, about 1:05 left)"), or nothing before it starts. */
function processingProgress(v) {
  if (v.processing_percent == null) return "";
  const left = v.processing_eta_seconds != null
    ? `, about ${formatDuration(v.processing_eta_seconds)} left` : "";
  return ` (${Math.floor(v.processing_percent)} %${left})`;
}

// What the student handed in: a sound-only submission is a recording, not a video.
function mediaWord(v) {
  return v.sound_only ? "audio recording" : "video";
}

function renderStatus(v, currentVideo) {
  const line = $("current-status");
  let text = STATUS_TEXT[v.status] || v.status;
  if (v.status === Status.READY) {
    text = `Your ${mediaWord(v)} “${v.filename}” is submitted` +
      (v.duration_seconds ? ` (${formatDuration(v.duration_seconds)})` : "") + ".";
  } else if (v.status === Status.ERROR) {
    text = `“${v.filename}” was not accepted: ${v.error_message || "unknown problem."}`;
    if (currentVideo) text += ` Your earlier video “${currentVideo.filename}” is still your submission.`;
  } else if (v.status === Status.PROCESSING) {
    text = `Upload complete. Preparing your video “${v.filename}” for playback` +
      processingProgress(v) + "…";
  }
  line.textContent = text;
  line.className = "status-line status-" + v.status;
  line.dataset.status = v.status;
  if (currentVideo && currentVideo.status === Status.READY) {
    loadPlayer(currentVideo.id);
    renderMarkers(currentVideo.duration_seconds);
  } else show($("player-wrap"), false);
}

// ---------- preview player: the review page's Player (player.js), which renews the signed
// grant before it expires, for a <video> and for Cloudflare's iframe alike ----------
let preview = null;       // {videoId, player}
const previewVideo = $("player").cloneNode(false);

function loadPlayer(videoId) {
  show($("player-wrap"), true);
  if (preview && preview.videoId === videoId) return;
  if (preview) preview.player.destroy();
  const stage = $("player-stage");
  stage.textContent = "";
  stage.appendChild(previewVideo.cloneNode(false));
  show($("player-error"), false);
  $("player-wrap").dataset.playbackUrl = videoUrl(videoId, "playback");
  preview = { videoId, player: new Player($("player-wrap"), { api, keys: false, title: PREVIEW_TITLE }) };
}

/* The released comments (their time links in the feedback card) as markers on a timeline
   under the preview; a marker seeks the preview like the link does. */
function renderMarkers(duration) {
  const links = Array.from(document.querySelectorAll("#feedback-comments [data-seek]"));
  const layer = $("student-markers");
  layer.textContent = "";
  show($("student-timeline"), !!(duration && links.length));
  if (!duration) return;
  links.forEach((link) => {
    const at = parseFloat(link.dataset.seek);
    const marker = document.createElement("button");
    marker.type = "button";
    marker.className = "marker";
    marker.dataset.seek = String(at);
    marker.style.left = Math.min(100, (at / duration) * 100) + "%";
    const text = link.parentElement.querySelector(".comment-body");
    marker.setAttribute("aria-label", `Comment at ${formatDuration(at)}` +
      (text ? `: ${text.textContent}` : ""));
    marker.title = marker.getAttribute("aria-label");
    layer.appendChild(marker);
  });
}

// ---------- status polling ----------
function refreshState() {
  return api.get(page.urls.uploads, waitingOut).then((data) => { state = data; render(); });
}

function poll(videoId, round) {
  clearTimeout(pollTimer);
  const next = (ms) => { pollTimer = setTimeout(() => poll(videoId, round + 1), ms); };
  api.get(videoUrl(videoId, "status"), { busy: BusyPolicy.REPORT }).then((v) => {
    if (v.final) {
      refreshState().then(() => {
        // The status line shows the outcome (once, with the file's name); here it is only
        // said, briefly, and the "Checking your video…" notice goes.
        if (v.status === Status.READY) {
          notice(Notice.NONE, "");
          announce(`Your ${mediaWord(v)} is submitted.`);
        } else if (v.status === Status.ERROR) {
          notice(Notice.NONE, "");
          announceError(v.error_message || "Your video was not accepted.");
        }
      });
      return;
    }
    // The status line says where the video is now ("Preparing … for playback"): the
    // "Checking your video…" notice, or a busy server's countdown, goes; one message stays.
    notice(Notice.NONE, "");
    state.attempts = [v, ...(state.attempts || []).filter((a) => a.id !== v.id)];
    render();
    next(POLL_MS[Math.min(round, POLL_MS.length - 1)]);
  }).catch((err) => {
    if (err.busy) {
      countdown(Notice.WARNING, err.retryAfterMs,
        (s) => `The server is busy. Checking your video again in ${s} s.`);
      next(err.retryAfterMs);
      return;
    }
    notice(Notice.ERROR, explain(err));
    if (err.status !== HttpStatus.UNAUTHORIZED) next(POLL_AFTER_ERROR_MS);
  });
}

// ---------- the upload itself ----------
function callbacks(videoId) {
  return {
    onProgress: (sent, total) => {
      progress.set(sent, total);
      // Other parts may finish while a refused one waits: its notice stays until it is sent.
      if (current && current.retryUntil > Date.now()) return;
      if (current) current.retrying = false;
      if (!$("notice").hidden) notice(Notice.NONE, "");
    },
    onRetry: (delayMs, attempt, busy) => {
      if (current) { current.retrying = true; current.retryUntil = Date.now() + delayMs; }
      const why = busy ? BUSY_STORAGE : CONNECTION_INTERRUPTED;
      if (!delayMs) { notice(Notice.WARNING, `${why} Retrying…`); return; }
      countdown(Notice.WARNING, delayMs, (s) => `${why} Retrying in ${s} s…`);
    },
    onSuccess: () => finished(videoId),
    onError: (failure) => failed(videoId, failure)
  };
}

function transportFor(method) {
  const t = TRANSPORTS[method];
  if (!t || (t.supported && !t.supported())) {
    throw new Error(`This browser cannot upload here (the uploader for '${method}' is ` +
      "missing). Please reload the page, or try another browser.");
  }
  return t;
}

function begin(file) {
  notice(Notice.NONE, "");
  const problem = checkFile(file);
  if (problem) { notice(Notice.ERROR, problem); return; }
  let transport;
  try { transport = transportFor(page.upload_method); } catch (e) { notice(Notice.ERROR, e.message); return; }
  const finder = transport.findPrevious ? transport.findPrevious(file, ctx) : Promise.resolve([]);
  finder.catch(() => []).then((previous) => {
    const open = previous.filter((p) => (state.attempts || []).some(
      (a) => a.id === p.videoId && isOpen(a)))[0];
    if (open) offerResume(file, transport, open, previous); else startNew(file, previous);
  });
}

function offerResume(file, transport, previous, all) {
  const attempt = state.attempts.filter((a) => a.id === previous.videoId)[0];
  $("resume-text").textContent = `You already started uploading “${file.name}” (` +
    `${percentArrived(attempt)} % arrived). Continue where it stopped, or start over?`;
  show($("resume-offer"), true);
  $("resume-yes").focus();
  $("resume-yes").onclick = () => {
    show($("resume-offer"), false);
    run(file, previous.videoId, (cb) => transport.resume(file, previous, ctx, cb));
  };
  $("resume-no").onclick = () => {
    show($("resume-offer"), false);
    startNew(file, all);
  };
}

function startNew(file, stale) {
  const forget = (stale || []).map((p) => {
    const t = TRANSPORTS[page.upload_method];
    return t && t.forget ? t.forget(p) : null;
  });
  Promise.all(forget).catch(() => {}).then(() => api.post(page.urls.uploads,
    { filename: file.name, size_bytes: file.size, content_type: file.type || "" }, waitingOut)
  ).then((ticket) => {
    const transport = transportFor(ticket.method);
    run(file, ticket.video_id, (cb) => transport.start(file, ticket, ctx, cb));
  }).catch((err) => {
    if (err.busy || err.status >= HttpStatus.SERVER_ERROR_MIN) {
      // Busy or failing as a 5xx: ask again after its Retry-After, as every upload request.
      const wait = err.retryAfterMs || POLL_AFTER_ERROR_MS;
      countdown(Notice.WARNING, wait, (s) => `The server is busy. Trying again in ${s} s…`);
      setTimeout(() => startNew(file, []), wait);
      return;
    }
    notice(Notice.ERROR, PASSED_ON_STATUSES.has(err.status)
      ? err.message : "The server refused the upload: " + explain(err));
  });
}

function run(file, videoId, launch) {
  current = { file, videoId };
  render();
  progress.start(file);
  show($("pause-btn"), true);
  show($("resume-btn"), false);
  $("cancel-btn").disabled = false;
  announce(`Uploading “${file.name}”.`);
  current.controller = launch(callbacks(videoId));
}

function finished(videoId) {
  // Focus is on Pause or Cancel, which go away: it moves to the status line once shown.
  focusStatusNext = $("progress-area").contains(document.activeElement);
  const size = current ? current.file.size : 1;
  progress.set(size, size);
  show($("pause-btn"), false);
  $("cancel-btn").disabled = true;
  notice(Notice.INFO, "Upload complete. Checking your video…");
  api.post(`${page.urls.uploads}/${videoId}/complete`, undefined, waitingOut).catch(() => {})
    .then(() => {
      // Focus was on Pause or Cancel, which go away: keep it on the page, at the status.
      current = null;
      replacing = false;
      progress.hide();
      poll(videoId, 0);
    });
}

function failed(videoId, failure) {
  show($("pause-btn"), false);
  let msg;
  if (failure.kind === ErrorKind.NETWORK || failure.kind === ErrorKind.TIMEOUT) {
    msg = "The network connection was lost. Your upload is paused; it continues when " +
      "you press Resume (or by itself when the connection returns).";
    show($("resume-btn"), true);
    if (current) current.lost = true;
  } else if (failure.status === HttpStatus.UNAUTHORIZED) {
    msg = explain(failure);
  } else if (GONE_STATUSES.has(failure.status)) {
    msg = "This upload expired on the server. Please start the upload again.";
    resetUploader();
  } else if (failure.status === HttpStatus.TOO_LARGE) {
    msg = failure.message || "The file is too large for this assignment.";
    resetUploader();
  } else if (failure.status === HttpStatus.TOO_MANY_REQUESTS) {
    msg = "The server is busy receiving other videos. Press Resume to try again in a moment.";
    show($("resume-btn"), true);
  } else if (failure.status >= HttpStatus.SERVER_ERROR_MIN) {
    msg = "The server had a problem receiving your video. Press Resume to try again.";
    show($("resume-btn"), true);
  } else {
    msg = "The server refused the upload: " + failure.message;
    resetUploader();
  }
  notice(Notice.ERROR, msg);
}

/* The connection is back: continue at once instead of waiting out a retry timer. */
function onlineAgain() {
  if (!current || !current.controller) return;
  if (!$("resume-btn").hidden && current.lost) { $("resume-btn").click(); return; }
  if (current.retrying) {
    current.retrying = false;
    current.retryUntil = 0;
    notice(Notice.NONE, "");
    Promise.resolve(current.controller.pause()).catch(() => {})
      .then(() => { if (current) current.controller.resume(); });
  }
}

/* The recorder (recorder.js) sent a recording itself: finish the attempt and follow it. */
function recordingSent(videoId) {
  notice(Notice.INFO, "Recording sent. Checking your video…");
  api.post(`${page.urls.uploads}/${videoId}/complete`, undefined, waitingOut).catch(() => {})
    .then(() => refreshState()).catch(() => {}).then(() => {
      focusStatusNext = true;
      poll(videoId, 0);
    });
}

function resetUploader() {
  current = null;
  progress.hide();
  refreshState();
}

// ---------- controls ----------
function wireControls() {
  $("pause-btn").addEventListener("click", () => {
    if (!current) return;
    current.controller.pause();
    current.retrying = false;
    progress.pause();
    show($("pause-btn"), false);
    show($("resume-btn"), true);
    $("resume-btn").focus();
    notice(Notice.INFO, "Upload paused. Press Resume to continue.");
  });
  $("resume-btn").addEventListener("click", () => {
    if (!current) return;
    notice(Notice.NONE, "");
    current.lost = false;
    progress.restartRate();
    current.controller.resume();
    show($("resume-btn"), false);
    show($("pause-btn"), true);
    $("pause-btn").focus();
    announce("Upload resumed.");
  });
  $("cancel-btn").addEventListener("click", () => {
    if (!current || !window.confirm(CANCEL_QUESTION)) return;
    Promise.resolve(current.controller.cancel()).catch(() => {}).then(() => {
      notice(Notice.INFO, "Upload cancelled.");
      resetUploader();
    });
  });
  $("replace-btn").addEventListener("click", () => {
    replacing = true;
    render();
    $("dropzone").focus();
  });
  window.addEventListener("online", onlineAgain);
  window.addEventListener("beforeunload", (e) => {
    if (current && current.controller && $("resume-btn").hidden) {
      e.preventDefault();
      e.returnValue = "";
    }
  });
}

function wireFileChoice() {
  const input = $("file-input");
  const zone = $("dropzone");
  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) begin(input.files[0]);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => {
    e.preventDefault();
    zone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
  }));
  zone.addEventListener("drop", (e) => {
    const files = e.dataTransfer && e.dataTransfer.files;
    if (!files || !files.length) return;
    if (files.length > 1) { notice(Notice.ERROR, "Please drop one video file at a time."); return; }
    begin(files[0]);
  });
}

/* The phone hand-off (handoff.js) delivered an attempt: show and follow it like our own. */
function delivered() {
  const panel = $("handoff");
  focusStatusNext = !!panel && panel.contains(document.activeElement);
  refreshState().then(() => {
    const checking = (state.attempts || []).filter((a) => a.status === Status.PROCESSING)[0];
    if (checking) poll(checking.id, 0);
  });
}

wireControls();
wireFileChoice();
document.addEventListener(HANDOFF_DELIVERED, delivered);
// The recorder's two ways of handing in (recorder.js: RecorderEvent).
document.addEventListener(RecorderEvent.FILE, (e) => begin(e.detail.file));
document.addEventListener(RecorderEvent.UPLOADED, (e) => recordingSent(e.detail.videoId));
document.querySelectorAll("[data-seek-links]").forEach((el) => bindSeekLinks(el));
render();
const processing = (state.attempts || []).filter((a) => a.status === Status.PROCESSING)[0];
if (processing) poll(processing.id, 0);
$("submission").dataset.ready = "true";  // the page is ready for the student (and for tests)
