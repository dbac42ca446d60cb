/* The S3 multipart transport of the video uploader, with the same shape as tus-transport.js:
     findPrevious(file, ctx), start(file, ticket, ctx, cb), resume(file, previous, ctx, cb),
     forget(previous); controller: pause(), resume(), cancel().
   The tool signs part URLs (POST .../multipart/sign); parts go straight from the browser to
   the bucket with PUT, a few at a time; each part's ETag (the bucket's CORS must expose it)
   is kept; POST .../multipart/complete joins them. The upload id stays on the server: this
   page remembers only which attempt a file belongs to (localStorage, by file fingerprint),
   and after a reload asks the server which parts arrived (GET .../multipart/parts). */
(function () {
  "use strict";
  var VU = (window.VideoUpload = window.VideoUpload || { transports: {} });

  var CONCURRENCY = 4;
  var SIGN_BATCH = 20;
  var RETRY_DELAYS = [1000, 3000, 5000, 10000, 20000, 30000, 60000];
  var URL_MARGIN_MS = 60000; // re-sign a part URL this long before it expires
  var STORE_PREFIX = "video-upload-multipart::";

  function fingerprint(file, ctx) {
    // Includes the user and assignment, so two students on one computer never collide.
    return STORE_PREFIX + ["u" + ctx.userId, "a" + ctx.assignmentId, file.name, file.type,
      file.size, file.lastModified].join("-");
  }

  function remember(key, record) {
    try { window.localStorage.setItem(key, JSON.stringify(record)); } catch (e) { /* private mode */ }
  }
  function recall(key) {
    try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function forgetKey(key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* nothing to forget */ }
  }

  function apiBase(ticket) {
    return ticket.complete_url.replace(/\/complete$/, "/multipart");
  }

  /* A JSON call to the tool (same origin, launch header); rejects with a failure object. */
  function call(ctx, method, url, body) {
    var opts = { method: method, credentials: "same-origin",
      headers: Object.assign({ "Accept": "application/json", "X-Requested-With": "fetch" },
        ctx.headers || {}) };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          throw { kind: "http", status: res.status, code: data.error && data.error.code,
                  message: (data.error && data.error.message) || "" };
        }
        return data;
      });
    }, function () { throw { kind: "network", status: 0, message: "" }; });
  }

  function Multipart(file, ctx, cb, record) {
    this.file = file;
    this.ctx = ctx;
    this.cb = cb;
    this.record = record;          // {videoId, api, partSize, size, createdAt}
    this.count = Math.max(1, Math.ceil(file.size / record.partSize));
    this.done = {};                // part number -> etag
    this.doneBytes = 0;
    this.inflight = {};            // part number -> {xhr, loaded}
    this.urls = {};                // part number -> {url, until}
    this.failures = 0;
    this.running = false;
    this.finished = false;
    this.signing = null;
  }

  Multipart.prototype.partRange = function (n) {
    var start = (n - 1) * this.record.partSize;
    return [start, Math.min(start + this.record.partSize, this.file.size)];
  };

  Multipart.prototype.progress = function () {
    var sent = this.doneBytes;
    for (var n in this.inflight) sent += this.inflight[n].loaded;
    this.cb.onProgress(Math.min(sent, this.file.size), this.file.size);
  };

  /* Ask the server which parts the bucket already holds, and keep those. */
  Multipart.prototype.sync = function () {
    var self = this;
    return call(this.ctx, "GET", this.record.api + "/parts").then(function (data) {
      self.done = {};
      self.doneBytes = 0;
      (data.parts || []).forEach(function (p) {
        var range = self.partRange(p.part_number);
        if (p.size === range[1] - range[0]) {
          self.done[p.part_number] = p.etag;
          self.doneBytes += p.size;
        }
      });
      self.progress();
    });
  };

  Multipart.prototype.missing = function () {
    var list = [];
    for (var n = 1; n <= this.count; n++) {
      if (!this.done[n] && !this.inflight[n]) list.push(n);
    }
    return list;
  };

  Multipart.prototype.signNext = function () {
    var self = this;
    if (this.signing) return this.signing;
    var now = Date.now();
    var wanted = this.missing().filter(function (n) {
      return !self.urls[n] || self.urls[n].until < now;
    }).slice(0, SIGN_BATCH);
    if (!wanted.length) return Promise.resolve();
    this.signing = call(this.ctx, "POST", this.record.api + "/sign", { part_numbers: wanted })
      .then(function (data) {
        var until = Date.now() + (data.expires_in || 3600) * 1000 - URL_MARGIN_MS;
        (data.parts || []).forEach(function (p) { self.urls[p.part_number] = { url: p.url, until: until }; });
      }).then(function () { self.signing = null; }, function (err) { self.signing = null; throw err; });
    return this.signing;
  };

  Multipart.prototype.pump = function () {
    var self = this;
    if (!this.running || this.finished) return;
    var busy = Object.keys(this.inflight).length;
    var missing = this.missing();
    if (!missing.length && !busy) { this.complete(); return; }
    if (busy >= CONCURRENCY || !missing.length) return;
    var now = Date.now();
    var ready = missing.filter(function (n) { return self.urls[n] && self.urls[n].until > now; });
    if (!ready.length) {
      this.signNext().then(function () { self.pump(); }, function (err) { self.fail(err); });
      return;
    }
    ready.slice(0, CONCURRENCY - busy).forEach(function (n) { self.put(n); });
    if (ready.length < missing.length) this.signNext().catch(function () { /* retried by pump */ });
  };

  Multipart.prototype.put = function (n) {
    var self = this;
    var range = this.partRange(n);
    var xhr = new XMLHttpRequest();
    var entry = { xhr: xhr, loaded: 0 };
    this.inflight[n] = entry;
    xhr.open("PUT", this.urls[n].url);
    xhr.upload.onprogress = function (e) { entry.loaded = e.loaded; self.progress(); };
    xhr.onload = function () {
      delete self.inflight[n];
      if (xhr.status >= 200 && xhr.status < 300) {
        var etag = xhr.getResponseHeader("ETag");
        if (!etag) {
          self.fail({ kind: "http", status: 500, message: "The video storage does not let " +
            "this page read upload receipts (its CORS settings must expose ETag). Please " +
            "tell your site administrator." });
          return;
        }
        self.done[n] = etag;
        self.doneBytes += range[1] - range[0];
        self.failures = 0;
        self.progress();
        self.pump();
      } else if (xhr.status === 403) {
        delete self.urls[n]; // the signature expired (a long pause): sign again
        self.retry({ kind: "http", status: 403, message: "" });
      } else if (xhr.status === 429 || xhr.status >= 500) {
        self.retry({ kind: "http", status: xhr.status, message: "" });
      } else {
        self.fail({ kind: "http", status: xhr.status, message: "The video storage refused a part." });
      }
    };
    xhr.onerror = function () {
      delete self.inflight[n];
      self.retry({ kind: "network", status: 0, message: "" });
    };
    xhr.onabort = function () { delete self.inflight[n]; };
    xhr.send(this.file.slice(range[0], range[1]));
  };

  Multipart.prototype.retry = function (failure) {
    var self = this;
    if (!this.running) return;
    if (this.failures >= RETRY_DELAYS.length) { this.fail(failure); return; }
    var delay = RETRY_DELAYS[this.failures];
    this.failures += 1;
    if (this.cb.onRetry) this.cb.onRetry(delay, this.failures);
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.pump(); }, delay);
  };

  Multipart.prototype.complete = function () {
    var self = this;
    this.finished = true;
    var parts = Object.keys(this.done).map(function (n) {
      return { part_number: parseInt(n, 10), etag: self.done[n] };
    }).sort(function (a, b) { return a.part_number - b.part_number; });
    call(this.ctx, "POST", this.record.api + "/complete", { parts: parts }).then(function () {
      forgetKey(self.record.key);
      self.running = false;
      self.cb.onSuccess();
    }, function (err) {
      self.finished = false;
      if (err.status === 409 && err.code === "upload_incomplete") {
        self.sync().then(function () { self.pump(); }, function (e) { self.fail(e); });
      } else if (err.kind === "network") {
        self.retry(err);
      } else {
        self.fail(err);
      }
    });
  };

  Multipart.prototype.fail = function (failure) {
    if (!this.running) return;
    this.stop();
    if (failure.status === 404 || failure.status === 409) forgetKey(this.record.key);
    this.cb.onError(failure);
  };

  Multipart.prototype.stop = function () {
    this.running = false;
    clearTimeout(this.timer);
    for (var n in this.inflight) this.inflight[n].xhr.abort();
    this.inflight = {};
  };

  Multipart.prototype.begin = function (syncFirst) {
    var self = this;
    this.running = true;
    this.failures = 0;
    var ready = syncFirst ? this.sync() : Promise.resolve();
    ready.then(function () { self.pump(); }, function (err) {
      if (err.kind === "network") self.retry(err); else self.fail(err);
    });
  };

  function controller(upload) {
    return {
      pause: function () { upload.stop(); return Promise.resolve(); },
      resume: function () { if (!upload.running) upload.begin(true); },
      cancel: function () {
        upload.stop();
        forgetKey(upload.record.key);
        return call(upload.ctx, "POST", upload.record.api + "/abort").catch(function () {});
      }
    };
  }

  VU.transports.multipart = {
    supported: function () {
      return !!(window.XMLHttpRequest && window.Blob && Blob.prototype.slice && window.fetch);
    },

    findPrevious: function (file, ctx) {
      var record = recall(fingerprint(file, ctx));
      if (!record || record.size !== file.size) return Promise.resolve([]);
      return Promise.resolve([{ videoId: record.videoId, size: record.size,
        createdAt: record.createdAt, handle: record }]);
    },

    forget: function (previous) {
      forgetKey(previous.handle.key);
      return Promise.resolve();
    },

    start: function (file, ticket, ctx, cb) {
      var key = fingerprint(file, ctx);
      var record = { key: key, videoId: ticket.video_id, api: apiBase(ticket),
        partSize: ticket.chunk_size, size: file.size, createdAt: new Date().toString() };
      remember(key, record);
      var upload = new Multipart(file, ctx, cb, record);
      upload.begin(false);
      return controller(upload);
    },

    resume: function (file, previous, ctx, cb) {
      var upload = new Multipart(file, ctx, cb, previous.handle);
      upload.begin(true);
      return controller(upload);
    }
  };
})();
