/* Direct tus uploads to a provider (Cloudflare Stream's one-time upload URL) through the tus
   transport. When the server's ticket names a tus URL at another origin, that URL is an
   upload already created for this student (direct creator upload): tus-js-client resumes
   it (HEAD, then PATCH in chunks) instead of creating one, and our launch id is never sent
   to the other origin. Same-origin tickets (the local tus server) are left to the tus
   transport unchanged. Load after tus-transport.js. */
(function () {
  "use strict";
  var VU = window.VideoUpload;
  var base = VU && VU.transports.tus;
  if (!base) return;

  // Stream takes chunks of 5 to 200 MiB in multiples of 256 KiB; 50 MiB is its advice.
  var DIRECT_CHUNK = 50 * 1024 * 1024;

  function isForeign(url) {
    try { return new URL(url, window.location.href).origin !== window.location.origin; }
    catch (e) { return false; }
  }

  function directCtx(ctx, chunkSize) {
    // No launch header for the provider; the fingerprint (user, assignment, file) is kept.
    return Object.assign({}, ctx, { headers: {}, chunkSize: chunkSize || DIRECT_CHUNK });
  }

  VU.transports.tus = Object.assign({}, base, {
    start: function (file, ticket, ctx, cb) {
      if (!ticket.endpoint || !isForeign(ticket.endpoint)) return base.start(file, ticket, ctx, cb);
      var created = { videoId: ticket.video_id, size: file.size,
        handle: { uploadUrl: ticket.endpoint, urlStorageKey: null, size: file.size,
                  metadata: ticket.metadata } };
      return base.resume(file, created, directCtx(ctx, ticket.chunk_size), cb);
    },

    resume: function (file, previous, ctx, cb) {
      var url = previous.handle && previous.handle.uploadUrl;
      if (!url || !isForeign(url)) return base.resume(file, previous, ctx, cb);
      return base.resume(file, previous, directCtx(ctx), cb);
    }
  });
})();
