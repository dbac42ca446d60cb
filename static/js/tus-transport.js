/* The tus transport of the video uploader: tus-js-client behind the uploader's transport
   interface (transport-multipart.js has the same shape):
     supported() -> boolean
     findPrevious(file, ctx) -> Promise<[{videoId, size, createdAt, handle}]>
     forget(previous) -> Promise
     start(file, ticket, ctx, callbacks) -> controller
     resume(file, previous, ctx, callbacks) -> controller
     controller: pause(), resume(), cancel() -> Promise
     callbacks: onProgress(sent, total), onRetry(delayMs, attempt, busy), onSuccess(),
       onError(ApiError); busy: the storage answered busy (429/503), not a lost connection
     ctx: {userId, assignmentId, endpoint, chunkSize, headers (the launch's), api (ApiClient)}
   A ticket whose tus URL is on another origin (Cloudflare Stream's one-time direct creator
   upload URL) names an upload already created for this student: it is resumed (HEAD, then
   PATCH in chunks) instead of created, and the launch id never goes to that origin.
   tus-js-client is the vendored UMD build (static/vendor/tus-js-client/tus.min.js, a
   classic script loaded before the page's modules): its ESM build imports bare package
   names, which a browser cannot resolve without a bundler or an inline import map. */
import { HttpStatus, connectionLost, errorFromAnswer, isBusyStatus, parseRetryAfter } from "./api.js";

const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000];
// Stream takes chunks of 5 to 200 MiB in multiples of 256 KiB; 50 MiB is its advice.
const FOREIGN_CHUNK = 50 * 1024 * 1024;
// Answers worth trying again: locked or conflicting offsets, a busy or failing server.
const RETRY_STATUSES = new Set([HttpStatus.CONFLICT, HttpStatus.LOCKED,
                                HttpStatus.TOO_MANY_REQUESTS]);
const FINGERPRINT_PREFIX = "video-upload";

function tus() {
  return window.tus;  // the vendored UMD build's global
}

function isForeign(url) {
  try { return new URL(url, window.location.href).origin !== window.location.origin; }
  catch (e) { return false; }
}

/* The launch header is for our own origin only; another origin gets its own chunk size. */
function ctxFor(url, ctx, chunkSize) {
  if (!url || !isForeign(url)) return ctx;
  return { ...ctx, headers: {}, chunkSize: chunkSize || FOREIGN_CHUNK };
}

function fingerprintFor(ctx) {
  // Includes the user and assignment, so two students on one computer never collide.
  return (file) => Promise.resolve([FINGERPRINT_PREFIX, "u" + ctx.userId, "a" + ctx.assignmentId,
    file.name, file.type, file.size, file.lastModified].join("-"));
}

function statusOf(err) {
  return err && err.originalResponse ? err.originalResponse.getStatus() : 0;
}

/* Only a busy answer's Retry-After is read (reading a header another origin does not
   expose makes the browser log a complaint). */
function retryAfterOf(err) {
  return isBusyStatus(statusOf(err)) ? err.originalResponse.getHeader("Retry-After") : null;
}

/* The ApiError for what tus-js-client reports: the answer it got, or none at all. */
function failureFrom(err) {
  const status = statusOf(err);
  if (!status) return connectionLost();
  return errorFromAnswer(status, err.originalResponse.getBody(), retryAfterOf(err));
}

function shouldRetry(err) {
  const status = statusOf(err);
  if (!status) return true; // network down or connection dropped
  return RETRY_STATUSES.has(status) || status >= HttpStatus.SERVER_ERROR_MIN;
}

function options(ctx, cb, extra) {
  const base = ctx.retryDelays || RETRY_DELAYS;
  // tus-js-client waits retryDelays[attempt] after onShouldRetry agrees; this upload's own
  // copy of the list holds, for that attempt, the server's Retry-After when it is longer.
  const delays = base.slice();
  return {
    endpoint: ctx.endpoint,
    chunkSize: ctx.chunkSize || Infinity,
    retryDelays: delays,
    headers: ctx.headers || {},
    fingerprint: fingerprintFor(ctx),
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onProgress: (sent, total) => cb.onProgress(sent, total),
    onShouldRetry: (err, attempt) => {
      const retry = shouldRetry(err);
      if (retry) {
        const index = Math.min(attempt, delays.length - 1);
        delays[index] = Math.max(base[index], parseRetryAfter(retryAfterOf(err)) || 0);
        if (cb.onRetry) cb.onRetry(delays[index], attempt, isBusyStatus(statusOf(err)));
      }
      return retry;
    },
    onSuccess: () => cb.onSuccess(),
    onError: (err) => cb.onError(failureFrom(err)),
    ...extra
  };
}

function controller(upload) {
  return {
    pause: () => upload.abort(false),
    resume: () => upload.start(),
    cancel: () => upload.abort(true)
  };
}

function resumeUpload(file, previous, ctx, cb) {
  const upload = new (tus().Upload)(file, options(ctx, cb, { metadata: previous.handle.metadata }));
  upload.resumeFromPreviousUpload(previous.handle);
  upload.start();
  return controller(upload);
}

export const tusTransport = {
  supported: () => !!(tus() && tus().isSupported),

  findPrevious(file, ctx) {
    const probe = new (tus().Upload)(file, { endpoint: ctx.endpoint, fingerprint: fingerprintFor(ctx) });
    return probe.findPreviousUploads().then((list) => list.map((prev) => ({
      videoId: parseInt((prev.metadata || {}).video_id, 10), size: prev.size,
      createdAt: prev.creationTime, handle: prev
    })).filter((p) => p.videoId > 0));
  },

  forget(previous) {
    const storage = tus().defaultOptions && tus().defaultOptions.urlStorage;
    if (storage && previous.handle.urlStorageKey) {
      return storage.removeUpload(previous.handle.urlStorageKey);
    }
    return Promise.resolve();
  },

  start(file, ticket, ctx, cb) {
    if (ticket.endpoint && isForeign(ticket.endpoint)) {
      const created = { videoId: ticket.video_id, size: file.size,
        handle: { uploadUrl: ticket.endpoint, urlStorageKey: null, size: file.size,
                  metadata: ticket.metadata } };
      return resumeUpload(file, created, ctxFor(ticket.endpoint, ctx, ticket.chunk_size), cb);
    }
    const upload = new (tus().Upload)(file, options(ctx, cb, {
      endpoint: ticket.endpoint || ctx.endpoint,
      chunkSize: ticket.chunk_size || Infinity,
      headers: { ...(ctx.headers || {}), ...(ticket.headers || {}) },
      metadata: ticket.metadata
    }));
    upload.start();
    return controller(upload);
  },

  resume(file, previous, ctx, cb) {
    return resumeUpload(file, previous, ctxFor(previous.handle.uploadUrl, ctx), cb);
  }
};
