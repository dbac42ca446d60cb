/* What the page (composite.js) and its compositing worker (composite-worker.js) say to each
   other: each message's `type`. */
export const CompositeMessage = Object.freeze({
  START: "start",              // page -> worker: {screen, camera, output} streams, transferred
  STOP: "stop",                // page -> worker: release the frames and close
  FIRST_FRAME: "first-frame",  // worker -> page: the composited track has its first picture
  FAILED: "failed"             // worker -> page: {message}; the pipeline broke
});
