/* The tus transport of the video uploader: tus-js-client behind the uploader's transport
   interface. Another transport (S3 multipart) registers the same shape:
     findPrevious(file, ctx) -> Promise<[{videoId, bytesSent, size, createdAt, handle}]>
     start(file, ticket, ctx, callbacks) -> controller
     resume(file, previous, ctx, callbacks) -> controller
     controller: pause(), resume(), cancel() -> Promise
     callbacks: onProgress(sent, total), onRetry(delayMs, attempt), onSuccess(), onError(failure)
   failure: {kind: "network"|"http"|"unsupported", status, message}
   A ticket whose tus URL is on another origin (Cloudflare Stream's one-time direct creator
   upload URL) names an upload already created for this student: it is resumed (HEAD, then
   PATCH in chunks) instead of created, and the launch id never goes to that origin. */
(function () {
  "use strict";
  var VU = (window.VideoUpload = window.VideoUpload || { transports: {} });

  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000];
  // Stream takes chunks of 5 to 200 MiB in multiples of 256 KiB; 50 MiB is its advice.
  var FOREIGN_CHUNK = 50 * 1024 * 1024;

  function isForeign(url) {
    try { return new URL(url, window.location.href).origin !== window.location.origin; }
    catch (e) { return false; }
  }

  /* The launch header is for our own origin only; another origin gets its own chunk size. */
  function ctxFor(url, ctx, chunkSize) {
    if (!url || !isForeign(url)) return ctx;
    return Object.assign({}, ctx, { headers: {}, chunkSize: chunkSize || FOREIGN_CHUNK });
  }

  function fingerprintFor(ctx) {
    // Includes the user and assignment, so two students on one computer never collide.
    return function (file) {
      return Promise.resolve(["video-upload", "u" + ctx.userId, "a" + ctx.assignmentId,
        file.name, file.type, file.size, file.lastModified].join("-"));
    };
  }

  function failureFrom(err) {
    var res = err && err.originalResponse;
    var status = res ? res.getStatus() : 0;
    if (!status) return { kind: "network", status: 0, message: "" };
    var message = "";
    try {
      var body = JSON.parse(res.getBody() || "{}");
      message = (body.error && body.error.message) || "";
    } catch (e) { /* not JSON */ }
    return { kind: "http", status: status, message: message };
  }

  function shouldRetry(err) {
    var status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    if (!status) return true; // network down or connection dropped
    return status === 409 || status === 423 || status >= 500;
  }

  function options(ctx, cb, extra) {
    var opts = {
      endpoint: ctx.endpoint,
      chunkSize: ctx.chunkSize || Infinity,
      retryDelays: ctx.retryDelays || RETRY_DELAYS,
      headers: ctx.headers || {},
      fingerprint: fingerprintFor(ctx),
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: function (sent, total) { cb.onProgress(sent, total); },
      onShouldRetry: function (err, attempt) {
        var retry = shouldRetry(err);
        if (retry && cb.onRetry) {
          var delays = ctx.retryDelays || RETRY_DELAYS;
          cb.onRetry(delays[Math.min(attempt, delays.length - 1)], attempt);
        }
        return retry;
      },
      onSuccess: function () { cb.onSuccess(); },
      onError: function (err) { cb.onError(failureFrom(err)); }
    };
    for (var k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) opts[k] = extra[k];
    return opts;
  }

  function resumeUpload(file, previous, ctx, cb) {
    var upload = new window.tus.Upload(file, options(ctx, cb, {
      metadata: previous.handle.metadata
    }));
    upload.resumeFromPreviousUpload(previous.handle);
    upload.start();
    return controller(upload);
  }

  function controller(upload) {
    return {
      pause: function () { return upload.abort(false); },
      resume: function () { upload.start(); },
      cancel: function () { return upload.abort(true); }
    };
  }

  VU.transports.tus = {
    supported: function () { return !!(window.tus && window.tus.isSupported); },

    findPrevious: function (file, ctx) {
      var probe = new window.tus.Upload(file, { endpoint: ctx.endpoint,
        fingerprint: fingerprintFor(ctx) });
      return probe.findPreviousUploads().then(function (list) {
        return list.map(function (prev) {
          return { videoId: parseInt((prev.metadata || {}).video_id, 10), size: prev.size,
                   createdAt: prev.creationTime, handle: prev };
        }).filter(function (p) { return p.videoId > 0; });
      });
    },

    forget: function (previous) {
      var storage = window.tus.defaultOptions && window.tus.defaultOptions.urlStorage;
      if (storage && previous.handle.urlStorageKey) {
        return storage.removeUpload(previous.handle.urlStorageKey);
      }
      return Promise.resolve();
    },

    start: function (file, ticket, ctx, cb) {
      if (ticket.endpoint && isForeign(ticket.endpoint)) {
        var created = { videoId: ticket.video_id, size: file.size,
          handle: { uploadUrl: ticket.endpoint, urlStorageKey: null, size: file.size,
                    metadata: ticket.metadata } };
        return resumeUpload(file, created, ctxFor(ticket.endpoint, ctx, ticket.chunk_size), cb);
      }
      var upload = new window.tus.Upload(file, options(ctx, cb, {
        endpoint: ticket.endpoint || ctx.endpoint,
        chunkSize: ticket.chunk_size || Infinity,
        headers: Object.assign({}, ctx.headers || {}, ticket.headers || {}),
        metadata: ticket.metadata
      }));
      upload.start();
      return controller(upload);
    },

    resume: function (file, previous, ctx, cb) {
      return resumeUpload(file, previous, ctxFor(previous.handle.uploadUrl, ctx), cb);
    }
  };
})();
