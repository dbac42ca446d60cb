/* The screen with the camera's picture in a corner, as one video track (the recorder's
   "Show my camera in a corner", static/js/recorder.js).

   A shared screen usually hides this tab, where timers and requestAnimationFrame are
   throttled, so the drawing happens in a dedicated worker (composite-worker.js) that runs
   on the frames themselves: Chromium's insertable streams. Chromium exposes
   MediaStreamTrackProcessor and MediaStreamTrackGenerator on the window only (the
   specification's worker-side VideoTrackGenerator and transferable tracks are not in it),
   so the page makes them and hands their streams to the worker, which draws on an
   OffscreenCanvas and writes VideoFrames to the generator. Browsers without them (Firefox,
   Safari) record the screen alone: canComposite() tells the page to leave the choice out. */
import { CompositeMessage } from "./composite-protocol.js";

const WORKER_URL = new URL("./composite-worker.js", import.meta.url);

/* Tell whether this browser can draw the camera over the screen off the main thread. */
export function canComposite() {
  return typeof window.MediaStreamTrackProcessor === "function"
    && typeof window.MediaStreamTrackGenerator === "function"
    && typeof window.VideoFrame === "function"
    && typeof window.OffscreenCanvas === "function"
    && typeof window.Worker === "function";
}

/* Start drawing cameraTrack into a corner of screenTrack; resolve, once the first picture is
   out, to {track, stop()}: the composited video track and what ends it. The sources are
   cloned, so stopping the composite leaves the caller's tracks running. */
export function compositeCorner(screenTrack, cameraTrack) {
  const sources = [screenTrack.clone(), cameraTrack.clone()];
  const [screen, camera] = sources.map(
    (track) => new MediaStreamTrackProcessor({ track }).readable);
  const generator = new MediaStreamTrackGenerator({ kind: "video" });
  const worker = new Worker(WORKER_URL, { type: "module" });
  const stop = () => {
    worker.postMessage({ type: CompositeMessage.STOP });
    sources.forEach((t) => t.stop());
    generator.stop();
  };
  return new Promise((resolve, reject) => {
    let started = false;
    // Before the first picture a failure is the caller's to handle (the screen alone); after
    // it the track keeps its last picture: a recording under way is not cut.
    const fail = (message) => {
      if (started) return;
      stop();
      worker.terminate();
      reject(new Error(message));
    };
    worker.addEventListener("error", (e) => fail(e.message || "The compositing worker failed."));
    worker.addEventListener("message", (e) => {
      if (e.data.type === CompositeMessage.FIRST_FRAME) {
        started = true;
        resolve({ track: generator, stop });
      } else if (e.data.type === CompositeMessage.FAILED) fail(e.data.message);
    });
    worker.postMessage({ type: CompositeMessage.START, screen, camera, output: generator.writable },
      [screen, camera, generator.writable]);
  });
}
