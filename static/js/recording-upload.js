/* A browser recording's upload while it records: the chunks MediaRecorder hands over are
   kept in IndexedDB and sent, in order, while recording; a chunk leaves IndexedDB only
   once the server says it holds it. A lost connection is waited out (what the server
   holds is asked for again); a closed tab leaves the session and its chunks in IndexedDB,
   and `RecordingUpload.resume` sends the rest. Two ways to send, by the storage:
   - the tool's own tus endpoint (Capability.DEFERRED_LENGTH): PATCHes of an upload created
     with `Upload-Defer-Length: 1` (tus creation-defer-length); Submit sends the length
     (`Upload-Length` in an empty last PATCH), which finishes the upload;
   - an S3 multipart upload of unknown size (Capability.DEFERRED_PARTS): chunks gather into
     parts of at least 5 MiB (the last may be smaller), each signed on its own with its size
     and PUT to the bucket; a part is held once its ETag is read; Submit sends the last
     part and completes the upload with the recording's size. A part whose answer was lost
     is found in the bucket's list of parts (not sent twice); a part URL the bucket refuses
     is signed again; a busy bucket's Retry-After is waited out.
   Answers that refuse (not a lost connection) are tried MAX_REFUSALS times in a row; then
   sending stops until Submit (or the page reopened) tries again, the recording kept in
   IndexedDB. A recording past the assignment's size limit (413) is ended: its upload
   aborted and forgotten here.
   Elsewhere (Cloudflare Stream) the recorder hands the finished recording to the file
   uploader instead, and holds it in IndexedDB meanwhile (recording-hold.js). */
import { ErrorKind, HttpStatus, REQUESTED_WITH, connectionLost, errorFromAnswer, isBusyStatus }
  from "./api.js";

// Events by which the recorder hands a recording to the file uploader (uploader.js), and
// the uploader says what became of a recording's file (its hold is then forgotten).
export const RecorderEvent = Object.freeze({ FILE: "recording:file", UPLOADED: "recording:uploaded",
  FILE_STARTED: "recording:file-started", FILE_SENT: "recording:file-sent",
  FILE_DROPPED: "recording:file-dropped" });

const DB_NAME = "video-recordings";
const DB_VERSION = 1;
const SESSIONS = "sessions";
const CHUNKS = "chunks";
const TUS = { "Tus-Resumable": "1.0.0" };
const OFFSET_TYPE = "application/offset+octet-stream";
const RETRY_MS = [1000, 2000, 4000, 8000, 15000];
const REQUEST_TIMEOUT_MS = 120000;
// Refusals in a row (busy, refused, failing: not a lost connection) before sending stops.
export const MAX_REFUSALS = 6;
// Answers after which waiting and asking again can help.
const PASSING = new Set([HttpStatus.CONFLICT, HttpStatus.LOCKED, HttpStatus.TOO_MANY_REQUESTS]);
const MULTIPART = "multipart";  // the ticket's method for S3 parts
const JSON_HEADERS = { Accept: "application/json", "Content-Type": "application/json",
                       ...REQUESTED_WITH };
const NO_ETAG = "The storage did not say it holds a part of the recording (its CORS " +
  "settings must expose the ETag header). Tell your administrator.";
const REFUSED_AGAIN = "The video storage refused the recording several times";

// ---------- IndexedDB: sessions by id, chunks by [session, start] ----------
function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDb() {
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    req.result.createObjectStore(SESSIONS, { keyPath: "id" });
    req.result.createObjectStore(CHUNKS, { keyPath: ["session", "start"] })
      .createIndex("session", "session");
  };
  return request(req);
}

/* The recordings kept in this browser until the server holds them. */
export class RecordingStore {
  constructor() { this.db = null; }

  async run(stores, mode, work) {
    if (!this.db) this.db = await openDb();
    const tx = this.db.transaction(stores, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    // Awaited below, unless work() fails first (a full storage aborts the transaction):
    // its refusal is work()'s, not an unhandled rejection in the console.
    done.catch(() => {});
    const result = await work(tx);
    await done;
    return result;
  }

  putSession(session) {
    return this.run([SESSIONS], "readwrite", (tx) => request(tx.objectStore(SESSIONS).put(session)));
  }

  addChunk(session, start, blob) {
    return this.run([CHUNKS, SESSIONS], "readwrite", (tx) => {
      tx.objectStore(CHUNKS).put({ session: session.id, start, blob });
      return request(tx.objectStore(SESSIONS).put(session));
    });
  }

  /** Return a user's unfinished recordings for one assignment, oldest first. */
  async sessions(userId, assignmentId) {
    const all = await this.run([SESSIONS], "readonly", (tx) => request(tx.objectStore(SESSIONS).getAll()));
    return all.filter((s) => s.userId === userId && s.assignmentId === assignmentId)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Return a session's chunks in order. */
  chunks(sessionId) {
    return this.run([CHUNKS], "readonly", (tx) => request(
      tx.objectStore(CHUNKS).index("session").getAll(sessionId)))
      .then((list) => list.sort((a, b) => a.start - b.start));
  }

  /** Forget the chunks the server holds entirely (they end at or before `offset`). */
  dropConfirmed(session) {
    return this.run([CHUNKS, SESSIONS], "readwrite", (tx) => {
      const range = IDBKeyRange.bound([session.id, 0], [session.id, session.confirmed]);
      const cursor = tx.objectStore(CHUNKS).openCursor(range);
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) return;
        if (c.value.start + c.value.blob.size <= session.confirmed) c.delete();
        c.continue();
      };
      return request(tx.objectStore(SESSIONS).put(session));
    });
  }

  /** Change a kept session's fields (nothing when it is gone). */
  updateSession(sessionId, fields) {
    return this.run([SESSIONS], "readwrite", async (tx) => {
      const session = await request(tx.objectStore(SESSIONS).get(sessionId));
      if (session) await request(tx.objectStore(SESSIONS).put({ ...session, ...fields }));
    });
  }

  deleteSession(sessionId) {
    return this.run([CHUNKS, SESSIONS], "readwrite", (tx) => {
      tx.objectStore(CHUNKS).delete(IDBKeyRange.bound([sessionId, 0], [sessionId, Infinity]));
      return request(tx.objectStore(SESSIONS).delete(sessionId));
    });
  }
}

// ---------- the tus side ----------
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function call(url, method, headers, body) {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), REQUEST_TIMEOUT_MS);
  try {
    return await fetch(url, { method, headers: { ...TUS, ...headers }, body,
      credentials: "same-origin", signal: deadline.signal });
  } catch (e) {
    throw connectionLost();
  } finally {
    clearTimeout(timer);
  }
}

async function refused(resp) {
  return errorFromAnswer(resp.status, await resp.text(), resp.headers.get("Retry-After"));
}

function b64(text) { return btoa(unescape(encodeURIComponent(text))); }

/* One recording's upload: add() chunks while recording, finish() to submit it. */
export class RecordingUpload {
  /** Open an attempt of unknown size and its tus upload; remember it in the store. */
  static async create({ api, store, urls, headers, userId, assignmentId, filename, mimeType }) {
    const ticket = await api.post(urls.uploads, { filename, size_bytes: null,
                                                  content_type: mimeType.split(";")[0] });
    const session = { id: `u${userId}-a${assignmentId}-v${ticket.video_id}`, userId, assignmentId,
      videoId: ticket.video_id, location: null, filename, mimeType,
      createdAt: Date.now(), recorded: 0, confirmed: 0, seconds: 0 };
    if (ticket.method === MULTIPART) {
      // The multipart endpoints sit beside the attempt's complete URL (.../multipart/sign).
      session.partsUrl = ticket.complete_url.replace(/\/complete$/, "/multipart");
      session.partSize = ticket.chunk_size;
      session.parts = [];
      await store.putSession(session).catch(() => {});  // refused: add() says so
      return new RecordingUpload(store, session, headers, []);
    }
    const meta = Object.entries(ticket.metadata).map(([k, v]) => `${k} ${b64(v)}`).join(",");
    const resp = await call(ticket.endpoint || urls.tus, "POST",
      { ...headers, "Upload-Defer-Length": "1", "Upload-Metadata": meta });
    if (resp.status !== HttpStatus.CREATED) throw await refused(resp);
    session.location = resp.headers.get("Location");
    await store.putSession(session).catch(() => {});  // refused: add() says so
    return new RecordingUpload(store, session, headers, []);
  }

  /** Pick up a session a closed tab left: its kept chunks, and the server's offset. */
  static async resume(store, session, headers) {
    const chunks = await store.chunks(session.id);
    const last = chunks[chunks.length - 1];
    if (last) session.recorded = Math.max(session.recorded, last.start + last.blob.size);
    const upload = new RecordingUpload(store, session, headers, chunks);
    await upload.sync();
    return upload;
  }

  constructor(store, session, headers, chunks) {
    this.store = store;
    this.session = session;
    this.headers = headers;
    this.queue = chunks.map((c) => ({ start: c.start, blob: c.blob }));
    this.saving = Promise.resolve();
    this.pumping = false;
    this.finishing = null;       // {resolve, reject} once submitted
    this.cancelled = false;
    this.halted = false;         // stopped after too many refusals: Submit tries again
    this.wake = null;            // resolves a wait for the network early
    this.onChange = () => {};    // told after each confirmed chunk and each trouble
    this.trouble = null;         // the last ApiError while retrying
    this.notKept = null;         // why the browser refused to keep a chunk
    this.onNotKept = () => {};   // told at that first refusal
  }

  get videoId() { return this.session.videoId; }
  get recorded() { return this.session.recorded; }
  get confirmed() { return this.session.confirmed; }

  /** Keep a chunk (IndexedDB first), then send it. */
  add(blob, seconds) {
    if (!blob.size || this.cancelled) return this.saving;
    const start = this.session.recorded;
    this.session.recorded += blob.size;
    if (seconds != null) this.session.seconds = seconds;
    this.queue.push({ start, blob });
    // A full or missing IndexedDB: the chunk still goes, from memory, and so do the later
    // ones, unkept (a kept run with a gap could not be resumed); the recorder is told.
    this.saving = this.saving.then(() => (this.notKept ? null
      : this.store.addChunk(this.session, start, blob)))
      .catch((err) => { if (!this.notKept) { this.notKept = err; this.onNotKept(err); } })
      .then(() => { this.pump(); });  // not awaited: the next chunk is kept at once

    return this.saving;
  }

  /** Send what is left and the length; resolve once the server has the whole recording. */
  finish() {
    if (this.cancelled) return Promise.reject(this.trouble);  // ended (too large, retake)
    this.halted = false;
    const done = new Promise((resolve, reject) => { this.finishing = { resolve, reject }; });
    this.saving.then(() => { this.pump(); });
    return done;
  }

  /** Stop sending and end the upload on the server (a retake). */
  async cancel() {
    this.cancelled = true;
    this.retryNow();
    if (this.multipart) await this.json("abort", {}).catch(() => null);
    else await call(this.session.location, "DELETE", this.headers).catch(() => null);
    await this.store.deleteSession(this.session.id).catch(() => {});
  }

  /** The network is back: end a wait at once. */
  retryNow() { if (this.wake) this.wake(); }

  get multipart() { return Array.isArray(this.session.parts); }

  async sync() {
    if (this.multipart) {
      // The parts the bucket holds, in an unbroken run from part 1, are what counts.
      const held = (await this.json("parts")).parts;
      const run = [];
      for (const p of held) if (p.part_number === run.length + 1) run.push(p);
      this.session.parts = run;
      this.confirm(run.reduce((sum, p) => sum + p.size, 0));
      return;
    }
    const resp = await call(this.session.location, "HEAD", this.headers);
    if (resp.status !== HttpStatus.OK) throw await refused(resp);
    this.confirm(parseInt(resp.headers.get("Upload-Offset"), 10));
  }

  confirm(offset) {
    this.session.confirmed = offset;
    while (this.queue.length && this.queue[0].start + this.queue[0].blob.size <= offset) {
      this.queue.shift();
    }
    this.store.dropConfirmed({ ...this.session }).catch(() => {});
    this.onChange();
  }

  async pump() {
    if (this.pumping || this.cancelled || this.halted) return;
    this.pumping = true;
    let failures = 0, refusals = 0;
    try {
      while (!this.cancelled) {
        const next = this.queue[0];
        if (!next && !this.finishing) break;
        if (next && this.multipart && !this.finishing &&
            this.session.recorded - this.session.confirmed < this.session.partSize) break;
        try {
          if (next) await this.send(next); else await this.sendLength();
          failures = refusals = 0;
          if (this.trouble) { this.trouble = null; this.onChange(); }
          if (!next) break;
        } catch (err) {
          if (err.retry && err.kind === ErrorKind.HTTP && ++refusals >= MAX_REFUSALS) {
            err.message = `${REFUSED_AGAIN} (HTTP ${err.status}).`;
            err.retry = false;
          }
          if (!err.retry) { this.fail(err); break; }
          this.trouble = err;
          this.onChange();
          // A busy answer says how long to wait (Retry-After); the way back online ends
          // only a wait for the network.
          const backoff = RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)];
          if (err.retryAfterMs !== null && err.retryAfterMs !== undefined) {
            await sleep(Math.max(err.retryAfterMs, RETRY_MS[0]));
          } else {
            await this.waitOut(backoff);
          }
          await this.sync().catch(() => {});
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  async waitOut(ms) {
    await Promise.race([sleep(ms), new Promise((resolve) => { this.wake = resolve; })]);
    this.wake = null;
  }

  async send(chunk) {
    if (this.multipart) { await this.sendPart(); return; }
    const skip = this.session.confirmed - chunk.start;  // the server holds part of it
    const body = skip > 0 ? chunk.blob.slice(skip) : chunk.blob;
    const resp = await this.patch(body, {}).catch((err) => { err.retry = true; throw err; });
    await this.answered(resp);
  }

  async sendLength() {
    if (this.multipart) {
      await this.json("complete", { parts: this.session.parts.map(
        (p) => ({ part_number: p.part_number, etag: p.etag })), size_bytes: this.session.recorded });
    } else {
      const resp = await this.patch(new Blob([]), { "Upload-Length": String(this.session.recorded) })
        .catch((err) => { err.retry = true; throw err; });
      await this.answered(resp);
    }
    await this.store.deleteSession(this.session.id).catch(() => {});
    const { resolve } = this.finishing;
    this.finishing = null;
    resolve(this.session);
  }

  /** Send every kept byte the bucket lacks as the next part: signed, PUT, held by its ETag. */
  async sendPart() {
    const from = this.session.confirmed;
    const body = new Blob(this.queue.map((c) => (c.start >= from ? c.blob : c.blob.slice(from - c.start))));
    const number = this.session.parts.length + 1;
    const [signed] = (await this.json("sign", { part_number: number, size: body.size })).parts;
    let resp;
    try {
      resp = await fetch(signed.url, { method: "PUT", body });
    } catch (e) {
      const err = connectionLost();
      err.retry = true;
      throw err;
    }
    if (!resp.ok) {
      // The bucket's CORS may not expose Retry-After: read only a busy answer's.
      const err = errorFromAnswer(resp.status, await resp.text(),
        isBusyStatus(resp.status) ? resp.headers.get("Retry-After") : null);
      err.retry = true;  // a part URL past its time or a passing fault: signed again
      throw err;
    }
    const etag = resp.headers.get("ETag");
    if (!etag) throw Object.assign(new Error(NO_ETAG), { retry: false });
    this.session.parts.push({ part_number: number, etag, size: body.size });
    this.confirm(from + body.size);
  }

  /** Call the attempt's multipart endpoint (`sign`, `parts`, `complete`, `abort`). */
  async json(action, payload) {
    const url = `${this.session.partsUrl}/${action}`;
    const resp = await call(url, payload === undefined ? "GET" : "POST",
      { ...this.headers, ...JSON_HEADERS }, payload === undefined ? undefined : JSON.stringify(payload))
      .catch((err) => { err.retry = true; throw err; });
    if (resp.ok) return resp.json();
    const err = await refused(resp);
    err.retry = PASSING.has(resp.status) || resp.status >= HttpStatus.SERVER_ERROR_MIN;
    throw err;
  }

  patch(body, extra) {
    return call(this.session.location, "PATCH", { ...this.headers, ...extra,
      "Upload-Offset": String(this.session.confirmed), "Content-Type": OFFSET_TYPE }, body);
  }

  async answered(resp) {
    if (resp.status === HttpStatus.NO_CONTENT) {
      this.confirm(parseInt(resp.headers.get("Upload-Offset"), 10));
      return;
    }
    const err = await refused(resp);
    err.retry = PASSING.has(resp.status) || resp.status >= HttpStatus.SERVER_ERROR_MIN;
    throw err;
  }

  fail(err) {
    this.trouble = err;
    this.halted = true;
    const ended = err.status === HttpStatus.TOO_LARGE;
    if (ended) this.cancel();  // it can only grow: ended
    this.onChange();
    // The recorder hears of an ended recording even at Submit (it offers no Submit then).
    if (this.onFailure && (ended || !this.finishing)) this.onFailure(err);
    if (this.finishing) {
      const { reject } = this.finishing;
      this.finishing = null;
      reject(err);
    }
  }
}
