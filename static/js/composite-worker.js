/* Draws the camera's picture into a corner of the screen's (composite.js starts it): each
   new frame of either source is drawn on an OffscreenCanvas and written out as a VideoFrame.
   It runs on the frames, not on timers, so a hidden tab (the screen being shared is usually
   another one) does not slow it down; it writes at most MAX_FPS pictures a second and
   skips a picture while the previous one is still being taken. */
import { CompositeMessage } from "./composite-protocol.js";

const MAX_FPS = 30;
const FRAME_MS = 1000 / MAX_FPS;
const CORNER_SHARE = 0.25;   // the camera's picture is a quarter of the screen's width
const MARGIN_SHARE = 0.02;   // and sits this far (of the width) from the bottom-right edges
const MICROSECONDS_PER_MS = 1000;

const latest = { screen: null, camera: null };
let canvas = null, context = null, writer = null, writing = false, lastOut = -Infinity;
let readers = [], said = false, stopped = false;

function keep(source, frame) {
  if (latest[source]) latest[source].close();
  latest[source] = frame;
}

function layout(width, height, camera) {
  const w = Math.round(width * CORNER_SHARE);
  const h = Math.round(w * camera.displayHeight / camera.displayWidth);
  const margin = Math.round(width * MARGIN_SHARE);
  return [width - w - margin, height - h - margin, w, h];
}

function draw() {
  const screen = latest.screen;
  const now = performance.now();
  if (!screen || writing || stopped || now - lastOut < FRAME_MS) return;
  const width = screen.displayWidth, height = screen.displayHeight;
  if (!canvas || canvas.width !== width || canvas.height !== height) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext("2d", { alpha: false });
  }
  context.drawImage(screen, 0, 0, width, height);
  if (latest.camera) context.drawImage(latest.camera, ...layout(width, height, latest.camera));
  lastOut = now;
  const frame = new VideoFrame(canvas, { timestamp: Math.round(now * MICROSECONDS_PER_MS) });
  writing = true;
  writer.write(frame).then(() => {
    if (!said) { said = true; self.postMessage({ type: CompositeMessage.FIRST_FRAME }); }
  }, () => frame.close()).finally(() => { writing = false; });
}

async function pump(source, readable) {
  const reader = readable.getReader();
  readers.push(reader);
  for (;;) {
    const { value, done } = await reader.read();
    if (done || stopped) { if (value) value.close(); return; }
    keep(source, value);
    draw();
  }
}

function start({ screen, camera, output }) {
  writer = output.getWriter();
  // The camera ending (unplugged) leaves the screen alone; the screen ending ends it all.
  pump("camera", camera).catch(() => {}).finally(() => keep("camera", null));
  pump("screen", screen).then(finish, (err) => {
    self.postMessage({ type: CompositeMessage.FAILED, message: String(err && err.message) });
    finish();
  });
}

function finish() {
  if (stopped) return;
  stopped = true;
  readers.forEach((r) => r.cancel().catch(() => {}));
  Object.keys(latest).forEach((source) => keep(source, null));
  if (writer) writer.close().catch(() => {});
  self.close();
}

self.addEventListener("message", (e) => {
  if (e.data.type === CompositeMessage.START) start(e.data);
  else if (e.data.type === CompositeMessage.STOP) finish();
});
