/* The student page's recorder (templates/student/_recorder.html): camera and microphone,
   the microphone alone (where the assignment accepts sound-only submissions),
   or the screen and the microphone (with the camera's picture in a corner where the browser
   can draw it off the main thread: composite.js); device pickers, a level meter, a 3-2-1
   countdown, pause and resume, a timer that stops the recording at the longest length
   allowed, a preview before submitting, and a retake. Where the storage takes an upload of unknown
   size (page.upload_while_recording: tus on the local disk, parts on S3) the chunks go
   to the server while recording (recording-upload.js) and Submit only finishes it with
   the length; elsewhere (Cloudflare Stream) the chunks are held in IndexedDB while
   recording (recording-hold.js) and the finished recording is handed to the file uploader
   (uploader.js, the "recording:file" event), the hold forgotten once the uploader sent it.
   A recording a closed tab left unsent is offered again when the page opens; a browser
   that refuses to keep it (storage full, private mode) is said, and recording goes on. A screen
   wake lock holds while recording and sending. State changes are said in the page's live
   region (live.js); the clock is shown, not announced. */
import { ApiClient, ErrorKind, HttpStatus } from "./api.js";
import { canComposite, compositeCorner } from "./composite.js";
import { formatDuration, formatSize } from "./format.js";
import { isFramed } from "./lti-frame.js";
import { announce, announceError } from "./live.js";
import { RecordingHold } from "./recording-hold.js";
import { RecorderEvent, RecordingStore, RecordingUpload } from "./recording-upload.js";

// A chunk every second: a closed tab loses about a second; a request a second is cheap.
export const TIMESLICE_MS = 1000;
const COUNTDOWN_FROM = 3;
const TICK_MS = 250;
const SECOND_MS = 1000;
const METER_GAIN = 3;
const FFT_SIZE = 1024;
const MIME_TYPES = ["video/webm;codecs=vp9,opus", "video/webm;codecs=vp8,opus", "video/webm",
                    "video/mp4"];
// Microphone only (where the assignment accepts sound-only submissions): sound, no picture.
const AUDIO_MIME_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/mp4"];
const Mode = Object.freeze({ CAMERA: "camera", SCREEN: "screen", MICROPHONE: "microphone" });
const DEVICE_KIND = Object.freeze({ CAMERA: "videoinput", MIC: "audioinput" });
const FRAME_BLOCKED = "Your course page does not let this tool use the camera, microphone " +
  "or screen inside it.";
const NOT_ALLOWED = "The browser did not allow the camera, microphone or screen. Allow them " +
  "for this site (the icon in the address bar) and try again.";
const NO_DEVICE = "No camera or microphone was found. Connect one, or upload a file instead.";
const SCREEN_ENDED = "Screen sharing ended. Choose the screen to record again when you are ready.";
const DEVICE_ENDED = "The camera or microphone stopped. Get ready to record again.";
const NO_CORNER = "Your camera could not be shown in the corner: the screen is recorded alone.";
const NOT_KEPT = "This browser refused to keep your recording (its storage is full, or it " +
  "is a private window). Recording goes on, but the recording is not kept in this browser: " +
  "if this page closes before the recording is submitted and sent, it is lost.";

// The Web Lock by which a tab keeps a recording its own (claimRecording).
const RECORDING_LOCK = "video-recording:";
// What is said when the devices of a mode are turned on or off ("... are on.").
const DEVICES_SAID = Object.freeze({ [Mode.CAMERA]: "Camera and microphone are",
  [Mode.SCREEN]: "Screen sharing and microphone are", [Mode.MICROPHONE]: "The microphone is" });
const $ = (id) => document.getElementById(id);
const root = $("recorder");
const page = JSON.parse($("page-data").textContent);
const api = new ApiClient(page.launch_id);
const store = new RecordingStore();
const maxSeconds = parseInt(root.dataset.maxSeconds, 10) || 0;

const rec = {
  stream: null,        // what the preview shows and the recorder records
  screen: null,        // the screen shared (kept when only the microphone or camera changes)
  extra: [],           // streams to stop with it (the screen's microphone and camera)
  composite: null,     // the camera in the screen's corner: {track, stop()} (composite.js)
  audio: null,         // {context, analyser, frame}
  recorder: null,      // MediaRecorder
  parts: [],           // the recording's chunks, for the preview (and record-then-upload)
  mimeType: "",
  upload: null,        // RecordingUpload while it sends
  hold: null,          // RecordingHold while it records (where it cannot be sent meanwhile)
  uploadFailed: null,  // the error that stopped sending (the recording is kept locally)
  startedAt: 0,        // performance.now() when the running stretch began
  elapsed: 0,          // seconds recorded before the running stretch
  clock: null,
  limitTimer: null,
  wakeLock: null,
  countdown: null,
  stopReason: ""      // said when the recording stopped by itself (the longest length)
};

function show(el, on) { el.hidden = !on; }

function mode() {
  const checked = document.querySelector("input[name='rec-mode']:checked");
  return checked ? checked.value : Mode.CAMERA;
}

/* Tell whether the screen is to be recorded with the camera in a corner. */
function corner() {
  return mode() === Mode.SCREEN && !$("rec-corner-row").hidden && $("rec-corner").checked;
}

function canRecord() {
  return !!(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

function pickMimeType() {
  const types = mode() === Mode.MICROPHONE ? AUDIO_MIME_TYPES : MIME_TYPES;
  return types.filter((t) => MediaRecorder.isTypeSupported(t))[0] || "";
}

function extensionOf(mimeType) { return mimeType.indexOf("mp4") >= 0 ? "mp4" : "webm"; }

function recordingName(mimeType) {
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  return `recording-${stamp}.${extensionOf(mimeType)}`;
}

/* Tell whether the frame around the page withholds a feature (Chromium says so up front). */
function frameWithholds(feature) {
  const policy = document.permissionsPolicy || document.featurePolicy;
  return isFramed() && !!policy && !policy.allowsFeature(feature);
}

function blocked(text) {
  $("rec-blocked-text").textContent = text;
  const link = $("rec-new-window");
  link.href = window.location.href;
  show(link, isFramed());
  show($("rec-blocked"), true);
  announceError(text + (isFramed() ? " Open this page in a new window to record." : ""));
}

// ---------- wake lock: the screen stays on while recording and sending ----------
async function holdWake() {
  if (!("wakeLock" in navigator) || rec.wakeLock || document.visibilityState !== "visible") return;
  try {
    rec.wakeLock = await navigator.wakeLock.request("screen");
    rec.wakeLock.addEventListener("release", () => { rec.wakeLock = null; });
  } catch (e) { rec.wakeLock = null; }  // refused (battery saver, no focus): record anyway
}

function releaseWake() {
  if (rec.wakeLock) rec.wakeLock.release().catch(() => {});
  rec.wakeLock = null;
}

function wakeWanted() {
  return !!((rec.recorder && rec.recorder.state !== "inactive") || (rec.upload && rec.upload.finishing));
}

// ---------- devices, preview and level meter ----------
/* Ask for what the mode records; in screen mode the screen already shared (rec.screen) is
   kept, and only the microphone (and the corner's camera) are asked for again. */
async function acquire(cameraId, micId) {
  const audio = micId ? { deviceId: { exact: micId } } : true;
  const video = cameraId ? { deviceId: { exact: cameraId } } : true;
  if (mode() === Mode.MICROPHONE) return navigator.mediaDevices.getUserMedia({ audio, video: false });
  if (mode() !== Mode.SCREEN) return navigator.mediaDevices.getUserMedia({ video, audio });
  if (!rec.screen) {
    rec.screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  }
  const user = await navigator.mediaDevices.getUserMedia({ audio, video: corner() && video });
  rec.extra = [user];
  const [screen] = rec.screen.getVideoTracks();
  let picture = screen;
  if (corner()) {
    try {
      rec.composite = await compositeCorner(screen, user.getVideoTracks()[0]);
      picture = rec.composite.track;
    } catch (err) {
      user.getVideoTracks().forEach((t) => t.stop());
      announceError(NO_CORNER);
    }
  }
  return new MediaStream([picture, ...user.getAudioTracks()]);
}

/* Stop the devices (all of them, or all but the screen shared when keepScreen). */
function stopTracks(keepScreen) {
  const kept = keepScreen && rec.screen ? rec.screen.getTracks() : [];
  if (rec.composite) rec.composite.stop();
  rec.composite = null;
  [rec.stream, rec.screen, ...rec.extra].forEach((s) => s && s.getTracks().forEach(
    (t) => { if (!kept.includes(t)) t.stop(); }));
  rec.stream = null;
  rec.extra = [];
  if (!kept.length) rec.screen = null;
  if (rec.audio) {
    cancelAnimationFrame(rec.audio.frame);
    rec.audio.context.close().catch(() => {});
    rec.audio = null;
  }
  $("rec-meter").value = 0;
}

async function fillDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  // The devices' own tracks: the recorded picture may be the composite, which has none.
  const inUse = new Set([rec.stream, ...rec.extra].filter(Boolean)
    .flatMap((s) => s.getTracks()).map((t) => t.getSettings().deviceId));
  [[DEVICE_KIND.CAMERA, $("rec-camera"), "Camera"], [DEVICE_KIND.MIC, $("rec-mic"), "Microphone"]]
    .forEach(([kind, select, word]) => {
      select.textContent = "";
      devices.filter((d) => d.kind === kind).forEach((d, i) => {
        const option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || `${word} ${i + 1}`;
        option.selected = inUse.has(d.deviceId);
        select.appendChild(option);
      });
    });
  show($("rec-camera-row"), mode() === Mode.CAMERA || corner());
}

function startMeter(stream) {
  if (!stream.getAudioTracks().length || !window.AudioContext) return;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = FFT_SIZE;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  rec.audio = { context, analyser, frame: 0 };
  const draw = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    $("rec-meter").value = Math.min(1, Math.sqrt(sum / samples.length) * METER_GAIN);
    rec.audio.frame = requestAnimationFrame(draw);
  };
  draw();
}

/* A device ended by itself (the browser's "Stop sharing", a camera unplugged): a recording
   stops; a live preview goes back to the setup and says why. */
function deviceEnded() {
  if (rec.recorder && rec.recorder.state !== "inactive") { stop(); return; }
  if (!rec.stream) return;
  const text = rec.screen ? SCREEN_ENDED : DEVICE_ENDED;
  stopTracks();
  show($("rec-live"), false);
  show($("rec-setup"), true);
  announce(text);
  $("rec-prepare").focus();
}

/* Ask for the devices and show the live preview; keepScreen when only a picker changed. */
async function prepare(cameraId, micId, keepScreen) {
  show($("rec-blocked"), false);
  const screen = mode() === Mode.SCREEN, micOnly = mode() === Mode.MICROPHONE;
  if ((!micOnly && frameWithholds(screen ? "display-capture" : "camera"))
      || frameWithholds("microphone")) {
    blocked(FRAME_BLOCKED);
    return false;
  }
  stopTracks(keepScreen);
  try {
    rec.stream = await acquire(cameraId, micId);
  } catch (err) {
    stopTracks();
    if (err && err.name === "NotFoundError") blocked(NO_DEVICE);
    else if (isFramed() && err && (err.name === "NotAllowedError" || err.name === "SecurityError")) {
      blocked(FRAME_BLOCKED);
    } else blocked(NOT_ALLOWED);
    return false;
  }
  // The screen shared can be ended from the browser's own bar (a property: a kept screen
  // is watched once).
  (rec.screen || rec.stream).getVideoTracks().forEach((t) => { t.onended = deviceEnded; });
  const preview = $("rec-preview");
  show(preview, !micOnly);  // no picture to show: the level meter and the clock remain
  preview.srcObject = rec.stream;
  preview.play().catch(() => {});
  startMeter(rec.stream);
  await fillDevices().catch(() => {});
  show($("rec-setup"), false);
  show($("rec-live"), true);
  return true;
}

// ---------- the clock ----------
function recordedSeconds() {
  const running = rec.recorder && rec.recorder.state === "recording";
  return rec.elapsed + (running ? (performance.now() - rec.startedAt) / SECOND_MS : 0);
}

function tick() {
  $("rec-timer").textContent = formatDuration(recordedSeconds());
}

/* Stop exactly at the longest length (a timer of its own: the clock's ticks are coarse). */
function armLimit() {
  clearTimeout(rec.limitTimer);
  if (!maxSeconds) return;
  rec.limitTimer = setTimeout(() => {
    stop(`The recording reached the longest length allowed, ${formatDuration(maxSeconds)}, ` +
      "and stopped.");
    rec.elapsed = maxSeconds;  // the timer fired at the limit (a clock read may be a ms short)
    $("rec-timer").textContent = formatDuration(maxSeconds);
  }, Math.max(0, (maxSeconds - recordedSeconds()) * SECOND_MS));
}

function setState(text, say) {
  $("rec-state").textContent = text;
  if (say) announce(say === true ? text : say);
}

function buttons(state) {
  const recording = state === "recording", paused = state === "paused";
  show($("rec-start"), state === "ready");
  show($("rec-pause"), recording);
  show($("rec-resume"), paused);
  show($("rec-stop"), recording || paused);
  show($("rec-off"), state === "ready");
  $("rec-camera").disabled = $("rec-mic").disabled = state !== "ready";
  root.classList.toggle("rec-recording", recording);
}

// ---------- recording ----------
function countdown() {
  const face = $("rec-countdown");
  return new Promise((resolve) => {
    let left = COUNTDOWN_FROM;
    face.textContent = String(left);
    show(face, true);
    announce(`Recording starts in ${COUNTDOWN_FROM} seconds.`);
    rec.countdown = setInterval(() => {
      left -= 1;
      if (left > 0) { face.textContent = String(left); return; }
      clearInterval(rec.countdown);
      rec.countdown = null;
      show(face, false);
      resolve();
    }, SECOND_MS);
  });
}

async function start() {
  if (!rec.stream) return;
  buttons("counting");
  show($("rec-off"), false);
  rec.mimeType = pickMimeType();
  rec.parts = [];
  rec.elapsed = 0;
  rec.uploadFailed = null;
  notKept(null);
  $("rec-timer").textContent = formatDuration(0);
  const mimeType = rec.mimeType || "video/webm";
  const named = { userId: page.user_id, assignmentId: page.assignment_id,
                  filename: recordingName(mimeType), mimeType };
  // Opening the upload (or the hold) runs alongside the countdown; the first chunk waits for it.
  const opened = page.upload_while_recording
    ? RecordingUpload.create({ api, store, urls: page.urls, headers: api.launchHeaders(), ...named })
    : RecordingHold.create(store, { ...named, onRefused: notKept });
  await countdown();
  try {
    const kept = await opened;
    rec.upload = page.upload_while_recording ? kept : null;
    rec.hold = page.upload_while_recording ? null : kept;
  } catch (err) {
    buttons("ready");
    setState("Ready to record.");
    announceError(err.message || "The recording could not be started.");
    return;
  }
  if (!rec.stream) {
    // The screen share or the camera ended during the countdown (deviceEnded went back to
    // the setup): what was opened for the recording is let go, nothing is left open.
    const { upload, hold } = rec;
    rec.upload = rec.hold = null;
    if (upload) await upload.cancel().catch(() => {});
    if (hold) await hold.drop();
    return;
  }
  claimRecording((rec.upload || rec.hold).session.id);
  if (rec.upload) { watchUpload(rec.upload); rec.upload.onNotKept = notKept; }
  const recorder = new MediaRecorder(rec.stream, rec.mimeType ? { mimeType: rec.mimeType } : {});
  rec.recorder = recorder;
  recorder.addEventListener("dataavailable", (e) => {
    if (!e.data || !e.data.size) return;
    rec.parts.push(e.data);
    if (rec.upload) rec.upload.add(e.data, recordedSeconds());
    if (rec.hold) rec.hold.add(e.data, recordedSeconds());
  });
  recorder.addEventListener("stop", stopped);
  recorder.start(TIMESLICE_MS);
  rec.startedAt = performance.now();
  rec.clock = setInterval(tick, TICK_MS);
  armLimit();
  holdWake();
  buttons("recording");
  setState("Recording.", true);
}

function pause() {
  if (!rec.recorder || rec.recorder.state !== "recording") return;
  rec.elapsed = recordedSeconds();
  clearTimeout(rec.limitTimer);
  rec.recorder.pause();
  buttons("paused");
  setState("Paused.", "Recording paused.");
  $("rec-resume").focus();
}

function resume() {
  if (!rec.recorder || rec.recorder.state !== "paused") return;
  rec.startedAt = performance.now();
  rec.recorder.resume();
  armLimit();
  buttons("recording");
  setState("Recording.", "Recording resumed.");
  $("rec-pause").focus();
}

function stop(reason) {
  if (!rec.recorder || rec.recorder.state === "inactive") return;
  rec.elapsed = Math.min(recordedSeconds(), maxSeconds || Infinity);
  clearInterval(rec.clock);
  clearTimeout(rec.limitTimer);
  $("rec-timer").textContent = formatDuration(rec.elapsed);
  rec.stopReason = typeof reason === "string" ? reason + " " : "";
  rec.recorder.stop();  // a last "dataavailable", then "stop"
}

function stopped() {
  stopTracks();
  rec.recorder = null;
  show($("rec-live"), false);
  const blob = new Blob(rec.parts, { type: (rec.mimeType || "video/webm").split(";")[0] });
  const playback = $("rec-playback");
  if (playback.src) URL.revokeObjectURL(playback.src);
  playback.src = URL.createObjectURL(blob);
  $("rec-review-text").textContent = `Your recording: ${formatDuration(rec.elapsed)}, ` +
    `${formatSize(blob.size)}. Watch it, then submit it or record again.`;
  show($("rec-review"), true);
  $("rec-review-text").focus();
  announce((rec.stopReason || "Recording stopped. ") + "Watch it, then submit it or record again.");
  if (!wakeWanted()) releaseWake();
}

/* Say (once, and on the page) that the browser keeps none of the recording; null: hide it. */
function notKept(err) {
  const line = $("rec-not-kept");
  if (!err) { show(line, false); return; }
  if (!line.hidden) return;
  line.textContent = NOT_KEPT;
  show(line, true);
  announceError(NOT_KEPT);
}

// ---------- sending ----------
const KEPT = "Your recording is kept in this browser";

/* What the line under the recorder says of the upload while recording. */
function uploadLine(upload) {
  const trouble = upload.trouble;
  if (!trouble) return `${formatSize(upload.confirmed)} of the recording already sent.`;
  if (upload.halted) return `${trouble.message} ${KEPT}; Submit sends it again.`;
  if (trouble.kind !== ErrorKind.HTTP) {
    return `The connection was interrupted. ${KEPT} and is sent when the connection returns.`;
  }
  return `The video storage is busy or refused part of the recording. ${KEPT} and is sent ` +
    "again shortly.";
}

function watchUpload(upload) {
  const line = $("rec-upload-line");
  upload.onChange = () => {
    const text = uploadLine(upload);
    line.textContent = text;
    show(line, !upload.cancelled);
    if (upload.trouble && !upload.saidTrouble) { announce(text); upload.saidTrouble = true; }
    if (!upload.trouble && upload.saidTrouble) {
      upload.saidTrouble = false;
      announce("Sending the recording again.");
    }
  };
  upload.onFailure = (err) => {
    rec.uploadFailed = err;
    if (err.status === HttpStatus.TOO_LARGE) { tooLarge(err); return; }
    announceError(`The recording could not be sent: ${err.message} ${KEPT}; Submit sends it ` +
      "again, or reopen the assignment later to send it.");
  };
}

/* The recording passed the assignment's size limit (its upload is ended, nothing kept):
   stop recording, say why, and offer only a retake. */
function tooLarge(err) {
  const text = `${err.message} The recording stopped and cannot be submitted; record ` +
    "again, shorter.";
  show($("rec-submit"), false);
  const recorder = rec.recorder;
  if (!recorder || recorder.state === "inactive") {
    $("rec-review-text").textContent = text;
    $("rec-review-text").focus();  // Submit, which had it, is gone
    announceError(text);
    return;
  }
  // After stopped() (its listener came first): the review says why, and only that is said.
  recorder.addEventListener("stop", () => {
    $("rec-review-text").textContent = text;
    announce(text);
  });
  stop(text);
}

async function submit() {
  $("rec-submit").disabled = $("rec-retake").disabled = true;
  holdWake();
  if (!rec.upload) {
    // This storage needs the size up front: the file uploader sends the whole recording,
    // from memory; its hold (every chunk kept) stays until the uploader says it is sent.
    const hold = rec.hold;
    const file = hold.fileOf(rec.parts);
    await hold.saving;  // the last chunk kept too, before the page may close
    resetRecorder();
    handOver(file, hold.id);
    releaseWake();
    return;
  }
  announce("Sending the rest of your recording.");
  $("rec-review-text").textContent = "Sending the rest of your recording…";
  await finishUpload(rec.upload);
}

async function finishUpload(upload) {
  try {
    await upload.finish();
  } catch (err) {
    $("rec-submit").disabled = $("rec-retake").disabled = false;
    releaseWake();
    const text = err.status === HttpStatus.UNAUTHORIZED
      ? "Your session has expired. Open this assignment again from your course page; the " +
        "recording is kept in this browser and is offered to you there."
      : "The recording could not be sent: " + err.message;
    $("rec-review-text").textContent = text;
    announceError(text);
    return;
  }
  releaseWake();
  const videoId = upload.videoId;
  resetRecorder();
  notKept(null);
  document.dispatchEvent(new CustomEvent(RecorderEvent.UPLOADED, { detail: { videoId } }));
}

/* Give the file uploader a recording's file; `holdId` names its hold, forgotten once sent. */
function handOver(file, holdId) {
  document.dispatchEvent(new CustomEvent(RecorderEvent.FILE, { detail: { file, holdId } }));
}

async function retake() {
  const upload = rec.upload, hold = rec.hold;
  resetRecorder();
  notKept(null);
  if (upload) await upload.cancel();
  if (hold) await hold.drop();
  announce("Recording discarded.");
  if (await prepare()) {
    buttons("ready");
    setState("Ready to record.");
    $("rec-start").focus();
  }
}

function resetRecorder() {
  const playback = $("rec-playback");
  if (playback.src) { URL.revokeObjectURL(playback.src); playback.removeAttribute("src"); }
  rec.parts = [];
  rec.upload = null;
  rec.hold = null;
  show($("rec-review"), false);
  show($("rec-live"), false);
  show($("rec-upload-line"), false);
  show($("rec-submit"), true);
  show($("rec-setup"), true);
  $("rec-submit").disabled = $("rec-retake").disabled = false;
  $("rec-timer").textContent = formatDuration(0);
}

// ---------- a recording a closed tab left ----------
/* Claim a kept recording for this tab, for as long as it is open (a Web Lock, released by
   the browser when the tab closes or crashes); resolve false when another tab holds it.
   Where the browser has no Web Locks, every tab may claim it, as before. */
function claimRecording(sessionId) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks.request(`${RECORDING_LOCK}${sessionId}`, { ifAvailable: true }, (lock) => {
      resolve(!!lock);
      return lock ? new Promise(() => {}) : null;
    }).catch(() => resolve(true));
  });
}

async function offerRecovery() {
  let sessions;
  try { sessions = await store.sessions(page.user_id, page.assignment_id); } catch (e) { return; }
  // A recording another open tab is making or sending is its own: neither offered nor
  // deleted here. What this tab claims, no tab opened later offers.
  const claimed = await Promise.all(sessions.map((s) => claimRecording(s.id)));
  sessions = sessions.filter((s, i) => claimed[i]);
  const held = sessions.filter((s) => s.held);
  sessions = sessions.filter((s) => !s.held);
  const open = new Set((page.state.attempts || []).filter(
    (a) => a.status === "pending" || a.status === "uploading").map((a) => a.id));
  for (const s of sessions) {
    if (!open.has(s.videoId)) await store.deleteSession(s.id).catch(() => {});  // gone or done
  }
  const session = sessions.filter((s) => open.has(s.videoId)).pop();
  if (!session) { offerHeld(held); return; }
  const when = new Date(session.createdAt).toLocaleString();
  $("rec-recovery-text").textContent = `Your recording from ${when} ` +
    (session.seconds ? `(${formatDuration(session.seconds)}) ` : "") +
    "was not completely sent. It is kept in this browser: finish sending it, or discard it.";
  show($("rec-recovery"), true);
  $("rec-recover").onclick = async () => {
    $("rec-recover").disabled = $("rec-discard").disabled = true;
    $("rec-recovery-text").textContent = "Sending the rest of your recording…";
    announce("Sending the rest of your recording.");
    holdWake();
    try {
      const upload = await RecordingUpload.resume(store, session, api.launchHeaders());
      watchUpload(upload);
      rec.upload = upload;
      await upload.finish();
    } catch (err) {
      $("rec-recover").disabled = $("rec-discard").disabled = false;
      const text = "The recording could not be sent: " + err.message;
      $("rec-recovery-text").textContent = text;
      announceError(text);
      releaseWake();
      return;
    }
    releaseWake();
    rec.upload = null;
    show($("rec-recovery"), false);
    document.dispatchEvent(new CustomEvent(RecorderEvent.UPLOADED,
      { detail: { videoId: session.videoId } }));
  };
  $("rec-discard").onclick = async () => {
    const upload = new RecordingUpload(store, session, api.launchHeaders(), []);
    await upload.cancel();
    show($("rec-recovery"), false);
    announce("The unsent recording was discarded.");
    $("rec-prepare").focus();
  };
}

/* Offer the newest recording held for the file uploader (a closed tab before it was sent). */
function offerHeld(held) {
  // A hold whose attempt the server already has whole (uploaded, processing, ready or
  // refused by its checks) was sent: the tab closed before the uploader said so.
  const received = new Set((page.state.attempts || []).filter(
    (a) => a.status !== "pending" && a.status !== "uploading").map((a) => a.id));
  const sent = (s) => s.videoId && received.has(s.videoId);
  // A hold with nothing kept (refused from its first chunk) has nothing to offer.
  held.filter((s) => !s.recorded || sent(s)).forEach(
    (s) => store.deleteSession(s.id).catch(() => {}));
  const session = held.filter((s) => s.recorded > 0 && !sent(s)).pop();
  if (!session) return;
  const when = new Date(session.createdAt).toLocaleString();
  $("rec-recovery-text").textContent = `Your recording from ${when} ` +
    (session.seconds ? `(${formatDuration(session.seconds)}) ` : "") +
    "was not uploaded. It is kept in this browser: upload it, or discard it.";
  $("rec-recover").textContent = "Upload it";
  $("rec-recover").disabled = $("rec-discard").disabled = false;
  show($("rec-recovery"), true);
  $("rec-recover").onclick = async () => {
    $("rec-recover").disabled = $("rec-discard").disabled = true;
    let file;
    try {
      file = await RecordingHold.file(store, session);
    } catch (err) {
      $("rec-recover").disabled = $("rec-discard").disabled = false;
      announceError("The recording could not be read from this browser: " + err.message);
      return;
    }
    show($("rec-recovery"), false);
    handOver(file, session.id);
  };
  $("rec-discard").onclick = async () => {
    $("rec-recover").disabled = $("rec-discard").disabled = true;
    await store.deleteSession(session.id).catch(() => {});
    show($("rec-recovery"), false);
    announce("The unsent recording was discarded.");
    $("rec-prepare").focus();
  };
}

/* The file uploader opened an attempt for a recording's file: the hold keeps its id. */
function linkHold(e) {
  const { holdId, videoId } = e.detail || {};
  if (holdId && videoId) store.updateSession(holdId, { videoId }).catch(() => {});
}

/* The file uploader sent a recording's file, or the student cancelled it: forget its hold. */
function forgetHold(e) {
  const holdId = e.detail && e.detail.holdId;
  if (holdId) store.deleteSession(holdId).catch(() => {});
  notKept(null);
}

// ---------- wiring ----------
function wire() {
  $("rec-prepare").addEventListener("click", async () => {
    if (await prepare()) {
      buttons("ready");
      setState("Ready to record.", `${DEVICES_SAID[mode()]} on. Press Start recording when ready.`);
      $("rec-start").focus();
    }
  });
  const reacquire = () => prepare($("rec-camera").value, $("rec-mic").value, true)
    .then((ok) => { if (ok) buttons("ready"); });
  $("rec-camera").addEventListener("change", reacquire);
  $("rec-mic").addEventListener("change", reacquire);
  $("rec-start").addEventListener("click", () => start().then(() => {
    if (!$("rec-pause").hidden) $("rec-pause").focus();
  }));
  $("rec-pause").addEventListener("click", pause);
  $("rec-resume").addEventListener("click", resume);
  $("rec-stop").addEventListener("click", () => stop());
  $("rec-off").addEventListener("click", () => {
    stopTracks();
    show($("rec-live"), false);
    show($("rec-setup"), true);
    announce(`${DEVICES_SAID[mode()]} off.`);
    $("rec-prepare").focus();
  });
  $("rec-submit").addEventListener("click", submit);
  $("rec-retake").addEventListener("click", retake);
  document.querySelectorAll("input[name='rec-mode']").forEach((r) => r.addEventListener("change", () => {
    $("rec-prepare").textContent = mode() === Mode.SCREEN ? "Choose the screen to record"
      : "Get ready to record";
    show($("rec-corner-row"), mode() === Mode.SCREEN && canComposite());
  }));
  document.addEventListener(RecorderEvent.FILE_STARTED, linkHold);
  document.addEventListener(RecorderEvent.FILE_SENT, forgetHold);
  document.addEventListener(RecorderEvent.FILE_DROPPED, forgetHold);
  window.addEventListener("online", () => { if (rec.upload) rec.upload.retryNow(); });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && wakeWanted()) holdWake();
  });
  window.addEventListener("beforeunload", (e) => {
    if (wakeWanted() || rec.parts.length) { e.preventDefault(); e.returnValue = ""; }
  });
}

if (canRecord()) {
  if (!navigator.mediaDevices.getDisplayMedia) show($("rec-mode-screen"), false);
  $("rec-prepare").textContent = "Get ready to record";
  wire();
  show(root, true);
  offerRecovery().finally(() => { root.dataset.ready = "true"; });
}
