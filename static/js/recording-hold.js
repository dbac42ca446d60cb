/* A browser recording held in IndexedDB where the storage needs a video's size before its
   first byte (Cloudflare Stream: its tus upload is created with the length, so nothing can
   be sent while recording). Every MediaRecorder chunk is kept as it comes, in
   RecordingStore's database (a session marked `held`, its chunks beside the sent-while-
   recording ones); the finished recording goes to the file uploader as now, and the hold
   is deleted only once the uploader says the upload finished (RecorderEvent.FILE_SENT) or
   the student cancelled it (RecorderEvent.FILE_DROPPED). A closed tab leaves the hold, and
   the page offers it again. A browser that refuses to keep a chunk (its storage full, or
   no IndexedDB in private mode) is reported through `onRefused`; the recording goes on in
   the page's memory, and later chunks are not kept either (a held recording has no gap). */

/* The same name, type and date for the same recording, so the file uploader's fingerprint
   finds an upload a closed tab left (tus-transport.js) and continues it. */
function fileFrom(session, blobs) {
  return new File(blobs, session.filename,
    { type: session.mimeType.split(";")[0], lastModified: session.createdAt });
}

/* One recording kept in this browser until the file uploader has sent it. */
export class RecordingHold {
  /** Start holding a recording (a refusal is reported by add(), never thrown). */
  static async create(store, { userId, assignmentId, filename, mimeType, onRefused }) {
    const createdAt = Date.now();
    const session = { id: `u${userId}-a${assignmentId}-held${createdAt}`, held: true, userId,
      assignmentId, videoId: null, filename, mimeType, createdAt, recorded: 0, seconds: 0 };
    const hold = new RecordingHold(store, session);
    if (onRefused) hold.onRefused = onRefused;
    hold.saving = store.putSession(session).catch((err) => { hold.refuse(err); });
    await hold.saving;
    return hold;
  }

  /** Return a user's held recordings for one assignment, oldest first. */
  static async list(store, userId, assignmentId) {
    return (await store.sessions(userId, assignmentId)).filter((s) => s.held);
  }

  /** Build the file the uploader sends from a held recording's kept chunks. */
  static async file(store, session) {
    return fileFrom(session, (await store.chunks(session.id)).map((c) => c.blob));
  }

  constructor(store, session) {
    this.store = store;
    this.session = session;
    this.saving = Promise.resolve();
    this.refused = null;          // the error with which the browser refused to keep a chunk
    this.onRefused = () => {};    // told once, at the first refusal
  }

  get id() { return this.session.id; }

  /** Keep a chunk, after the ones before it. */
  add(blob, seconds) {
    if (!blob.size) return this.saving;
    this.saving = this.saving.then(() => {
      if (this.refused) return null;
      const start = this.session.recorded;
      return this.store.addChunk({ ...this.session, recorded: start + blob.size, seconds }, start, blob)
        .then(() => { this.session.recorded = start + blob.size; this.session.seconds = seconds; });
    }).catch((err) => { this.refuse(err); });
    return this.saving;
  }

  /** Build the file the uploader sends from the recording in memory (named as the hold). */
  fileOf(parts) { return fileFrom(this.session, parts); }

  /** Forget the recording (sent, discarded or retaken). */
  drop() {
    return this.saving.then(() => this.store.deleteSession(this.id)).catch(() => {});
  }

  refuse(err) {
    if (this.refused) return;
    this.refused = err || new Error("IndexedDB refused");
    this.onRefused(this.refused);
  }
}
