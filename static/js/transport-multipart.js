/* The S3 multipart transport of the video uploader, with the same shape as tus-transport.js:
     supported(), findPrevious(file, ctx), forget(previous), start(file, ticket, ctx, cb),
     resume(file, previous, ctx, cb); controller: pause(), resume(), cancel().
   The tool signs part URLs (POST .../multipart/sign, through ctx.api); parts go straight
   from the browser to the bucket with PUT, a few at a time; each part's ETag (the bucket's
   CORS must expose it) is kept; POST .../multipart/complete joins them. The upload id stays
   on the server: this page remembers only which attempt a file belongs to (localStorage, by
   file fingerprint), and after a reload asks the server which parts arrived (GET
   .../multipart/parts). Every failure is an ApiError (api.js); a part refused with 429 or a
   5xx is sent again after its Retry-After, or the next of RETRY_DELAYS when longer. */
import { ApiError, ErrorKind, HttpStatus, connectionLost, errorFromAnswer, isBusyStatus } from "./api.js";

const CONCURRENCY = 4;
const SIGN_BATCH = 20;
const RETRY_DELAYS = [1000, 3000, 5000, 10000, 20000, 30000, 60000];
const URL_MARGIN_MS = 60000; // re-sign a part URL this long before it expires
const DEFAULT_URL_LIFETIME_S = 3600;
const STORE_PREFIX = "video-upload-multipart::";
const COMPLETE_SUFFIX = /\/complete$/;
const MULTIPART_SUFFIX = "/multipart";
const UPLOAD_INCOMPLETE = "upload_incomplete";
const EXPIRED_SIGNATURE = HttpStatus.FORBIDDEN;  // what the bucket answers a stale part URL
// The server no longer has this upload.
const FORGOTTEN_STATUSES = new Set([HttpStatus.NOT_FOUND, HttpStatus.CONFLICT]);

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
  return ticket.complete_url.replace(COMPLETE_SUFFIX, MULTIPART_SUFFIX);
}

function hiddenEtag() {
  return new ApiError({ kind: ErrorKind.HTTP, status: HttpStatus.SERVER_ERROR_MIN, code: "etag_hidden",
    message: "The video storage does not let this page read upload receipts (its CORS " +
      "settings must expose ETag). Please tell your site administrator." });
}

class Multipart {
  constructor(file, ctx, cb, record) {
    this.file = file;
    this.ctx = ctx;
    this.api = ctx.api;
    this.cb = cb;
    this.record = record;          // {key, videoId, api, partSize, size, createdAt}
    this.count = Math.max(1, Math.ceil(file.size / record.partSize));
    this.done = {};                // part number -> etag
    this.doneBytes = 0;
    this.inflight = {};            // part number -> {xhr, loaded}
    this.urls = {};                // part number -> {url, until}
    this.failures = 0;
    this.notBefore = 0;            // no new part starts before this (a retry's wait)
    this.running = false;
    this.finished = false;
    this.signing = null;
  }

  partRange(n) {
    const start = (n - 1) * this.record.partSize;
    return [start, Math.min(start + this.record.partSize, this.file.size)];
  }

  progress() {
    let sent = this.doneBytes;
    for (const n in this.inflight) sent += this.inflight[n].loaded;
    this.cb.onProgress(Math.min(sent, this.file.size), this.file.size);
  }

  /* Ask the server which parts the bucket already holds, and keep those. */
  sync() {
    return this.api.get(this.record.api + "/parts").then((data) => {
      this.done = {};
      this.doneBytes = 0;
      (data.parts || []).forEach((p) => {
        const [start, end] = this.partRange(p.part_number);
        if (p.size === end - start) {
          this.done[p.part_number] = p.etag;
          this.doneBytes += p.size;
        }
      });
      this.progress();
    });
  }

  missing() {
    const list = [];
    for (let n = 1; n <= this.count; n++) {
      if (!this.done[n] && !this.inflight[n]) list.push(n);
    }
    return list;
  }

  signNext() {
    if (this.signing) return this.signing;
    const now = Date.now();
    const wanted = this.missing().filter((n) => !this.urls[n] || this.urls[n].until < now)
      .slice(0, SIGN_BATCH);
    if (!wanted.length) return Promise.resolve();
    this.signing = this.api.post(this.record.api + "/sign", { part_numbers: wanted })
      .then((data) => {
        const until = Date.now() + (data.expires_in || DEFAULT_URL_LIFETIME_S) * 1000 - URL_MARGIN_MS;
        (data.parts || []).forEach((p) => { this.urls[p.part_number] = { url: p.url, until }; });
      }).then(() => { this.signing = null; }, (err) => { this.signing = null; throw err; });
    return this.signing;
  }

  pump() {
    if (!this.running || this.finished) return;
    const busy = Object.keys(this.inflight).length;
    const missing = this.missing();
    if (!missing.length && !busy) { this.complete(); return; }
    if (busy >= CONCURRENCY || !missing.length) return;
    const now = Date.now();
    // A part finishing during a retry's wait must not start the refused part early:
    // the retry's timer pumps when the wait is over.
    if (now < this.notBefore) return;
    const ready = missing.filter((n) => this.urls[n] && this.urls[n].until > now);
    if (!ready.length) {
      this.signNext().then(() => this.pump(),
        (err) => (worthRetrying(err) ? this.retry(err) : this.fail(err)));
      return;
    }
    ready.slice(0, CONCURRENCY - busy).forEach((n) => this.put(n));
    if (ready.length < missing.length) this.signNext().catch(() => { /* retried by pump */ });
  }

  put(n) {
    const [start, end] = this.partRange(n);
    const xhr = new XMLHttpRequest();
    const entry = { xhr, loaded: 0 };
    this.inflight[n] = entry;
    xhr.open("PUT", this.urls[n].url);
    xhr.upload.onprogress = (e) => { entry.loaded = e.loaded; this.progress(); };
    xhr.onload = () => {
      delete this.inflight[n];
      const status = xhr.status;
      if (status >= 200 && status < 300) {
        const etag = xhr.getResponseHeader("ETag");
        if (!etag) { this.fail(hiddenEtag()); return; }
        this.done[n] = etag;
        this.doneBytes += end - start;
        this.failures = 0;
        this.progress();
        this.pump();
        return;
      }
      const busyAnswer = isBusyStatus(status) || status >= HttpStatus.SERVER_ERROR_MIN;
      // Only a busy answer's Retry-After is read: the bucket's CORS may not expose it.
      const failure = errorFromAnswer(status, xhr.responseText,
        isBusyStatus(status) ? xhr.getResponseHeader("Retry-After") : null);
      if (status === EXPIRED_SIGNATURE) {
        delete this.urls[n]; // the signature expired (a long pause): sign again
        this.retry(failure);
      } else if (busyAnswer) {
        this.retry(failure);
      } else {
        failure.message = "The video storage refused a part.";
        this.fail(failure);
      }
    };
    xhr.onerror = () => {
      delete this.inflight[n];
      this.retry(connectionLost());
    };
    xhr.onabort = () => { delete this.inflight[n]; };
    xhr.send(this.file.slice(start, end));
  }

  retry(failure) {
    if (!this.running) return;
    if (this.failures >= RETRY_DELAYS.length) { this.fail(failure); return; }
    const delay = Math.max(RETRY_DELAYS[this.failures], failure.retryAfterMs || 0);
    this.failures += 1;
    this.notBefore = Date.now() + delay;
    if (this.cb.onRetry) this.cb.onRetry(delay, this.failures, failure.busy);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), delay);
  }

  complete() {
    this.finished = true;
    const parts = Object.keys(this.done)
      .map((n) => ({ part_number: parseInt(n, 10), etag: this.done[n] }))
      .sort((a, b) => a.part_number - b.part_number);
    this.api.post(this.record.api + "/complete", { parts }).then(() => {
      forgetKey(this.record.key);
      this.running = false;
      this.cb.onSuccess();
    }, (err) => {
      this.finished = false;
      if (err.status === HttpStatus.CONFLICT && err.code === UPLOAD_INCOMPLETE) {
        this.sync().then(() => this.pump(), (e) => this.fail(e));
      } else if (worthRetrying(err)) {
        this.retry(err);
      } else {
        this.fail(err);
      }
    });
  }

  fail(failure) {
    if (!this.running) return;
    this.stop();
    if (FORGOTTEN_STATUSES.has(failure.status)) forgetKey(this.record.key);
    this.cb.onError(failure);
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    for (const n in this.inflight) this.inflight[n].xhr.abort();
    this.inflight = {};
  }

  begin(syncFirst) {
    this.running = true;
    this.failures = 0;
    this.notBefore = 0;
    const ready = syncFirst ? this.sync() : Promise.resolve();
    ready.then(() => this.pump(), (err) => {
      if (worthRetrying(err)) this.retry(err);
      else this.fail(err);
    });
  }
}

/* A lost connection, a busy server (429/503, after its Retry-After) or a 5xx: try again. */
function worthRetrying(err) {
  return err.kind === ErrorKind.NETWORK || err.kind === ErrorKind.TIMEOUT ||
    isBusyStatus(err.status) || err.status >= HttpStatus.SERVER_ERROR_MIN;
}

function controller(upload) {
  return {
    pause: () => { upload.stop(); return Promise.resolve(); },
    resume: () => { if (!upload.running) upload.begin(true); },
    cancel: () => {
      upload.stop();
      forgetKey(upload.record.key);
      return upload.api.post(upload.record.api + "/abort").catch(() => {});
    }
  };
}

export const multipartTransport = {
  supported: () => !!(window.XMLHttpRequest && window.Blob && Blob.prototype.slice && window.fetch),

  findPrevious(file, ctx) {
    const record = recall(fingerprint(file, ctx));
    if (!record || record.size !== file.size) return Promise.resolve([]);
    return Promise.resolve([{ videoId: record.videoId, size: record.size,
      createdAt: record.createdAt, handle: record }]);
  },

  forget(previous) {
    forgetKey(previous.handle.key);
    return Promise.resolve();
  },

  start(file, ticket, ctx, cb) {
    const key = fingerprint(file, ctx);
    const record = { key, videoId: ticket.video_id, api: apiBase(ticket),
      partSize: ticket.chunk_size, size: file.size, createdAt: new Date().toString() };
    remember(key, record);
    const upload = new Multipart(file, ctx, cb, record);
    upload.begin(false);
    return controller(upload);
  },

  resume(file, previous, ctx, cb) {
    const upload = new Multipart(file, ctx, cb, previous.handle);
    upload.begin(true);
    return controller(upload);
  }
};
