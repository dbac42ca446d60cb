/* The one way pages call the tool's JSON API, and the one shape of every failure.

   ApiClient sends the launch id in the X-LTI-Launch header (pages work inside an LMS
   iframe without third-party cookies), JSON in and out, with a deadline per call. Every
   failure is an ApiError: {kind, status, code, message, hint, retryAfterMs}, whether the
   server answered {"error": {"code", "message", "hint"}}, the connection was lost, the
   deadline passed, or the answer was not JSON. The storage transfers (tus, S3 parts) build
   the same ApiError from what they saw (errorFromAnswer, connectionLost).

   A 429 or 503 with Retry-After is waited out and the call sent again, at most
   BUSY_RETRIES times and for at most BUSY_MAX_WAIT_MS each; a call may pass `onBusy(ms)` to
   tell the person, or `busy: BusyPolicy.REPORT` to get the ApiError at once and use its
   retryAfterMs itself (a countdown, the next poll). */

export const LAUNCH_HEADER = "X-LTI-Launch";

export const ErrorKind = Object.freeze({
  HTTP: "http",            // the server answered with an error status
  NETWORK: "network",      // no answer: offline, connection dropped, blocked
  TIMEOUT: "timeout",      // no answer before the deadline
  BAD_ANSWER: "bad_answer" // a success status, but not JSON
});

export const BusyPolicy = Object.freeze({ WAIT: "wait", REPORT: "report" });

/* The HTTP statuses the pages and transports tell apart. */
export const HttpStatus = Object.freeze({
  OK: 200, CREATED: 201, NO_CONTENT: 204, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409,
  GONE: 410, TOO_LARGE: 413, UNSUPPORTED_TYPE: 415, LOCKED: 423, TOO_MANY_REQUESTS: 429,
  SERVER_ERROR_MIN: 500, UNAVAILABLE: 503
});

/** Tell whether a status means the server is busy (and may say when to come back). */
export function isBusyStatus(status) {
  return status === HttpStatus.TOO_MANY_REQUESTS || status === HttpStatus.UNAVAILABLE;
}

export const REQUEST_TIMEOUT_MS = 30000;
export const BUSY_RETRIES = 2;
export const BUSY_MAX_WAIT_MS = 20000;
const MS_PER_SECOND = 1000;
const DELTA_SECONDS = /^\d+$/;
// An HTTP date as servers send it (IMF-fixdate, RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

const JSON_TYPE = "application/json";
// The server answers a script's errors in JSON when it sees this header (errors.wants_json).
export const REQUESTED_WITH = { "X-Requested-With": "fetch" };

const NETWORK_MESSAGE = "The tool could not be reached. Check your connection and try again.";
const TIMEOUT_MESSAGE = "The tool took too long to answer. Please try again.";
const BAD_ANSWER_MESSAGE = "The tool's answer could not be read. Please reload the page and try again.";

/** A failed call, whatever failed. */
export class ApiError extends Error {
  constructor({ kind, status = 0, code, message, hint = "", retryAfterMs = null }) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.hint = hint;
    this.retryAfterMs = retryAfterMs;
  }

  /** Tell whether the server is busy and said how long to wait (retryAfterMs). */
  get busy() {
    return isBusyStatus(this.status) && this.retryAfterMs !== null;
  }

  /** Tell whether sending the same call again later may succeed. */
  get retryable() {
    return this.kind === ErrorKind.NETWORK || this.kind === ErrorKind.TIMEOUT ||
      isBusyStatus(this.status) || this.status >= HttpStatus.SERVER_ERROR_MIN;
  }
}

/** Return the wait a Retry-After value asks for in ms (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (!text) return null;
  if (DELTA_SECONDS.test(text)) return Number(text) * MS_PER_SECOND;
  if (!HTTP_DATE.test(text)) return null;
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, when - now);
}

/** Return the ApiError for an error answer: its status, body text and Retry-After value. */
export function errorFromAnswer(status, bodyText, retryAfter) {
  let detail = null;
  try {
    const body = JSON.parse(bodyText || "null");
    detail = body && typeof body === "object" && body.error && typeof body.error === "object"
      ? body.error : null;
  } catch (e) { /* an HTML page or nothing: the status says enough */ }
  return new ApiError({
    kind: ErrorKind.HTTP, status,
    code: (detail && detail.code) || `http_${status}`,
    message: (detail && detail.message) || `The server answered with an error (HTTP ${status}).`,
    hint: (detail && detail.hint) || "",
    retryAfterMs: parseRetryAfter(retryAfter)
  });
}

/** Return the ApiError for a call that got no answer. */
export function connectionLost() {
  return new ApiError({ kind: ErrorKind.NETWORK, code: "network_error", message: NETWORK_MESSAGE });
}

function timedOut() {
  return new ApiError({ kind: ErrorKind.TIMEOUT, code: "timeout", message: TIMEOUT_MESSAGE });
}

function unreadable(status) {
  return new ApiError({ kind: ErrorKind.BAD_ANSWER, status, code: "bad_answer",
    message: BAD_ANSWER_MESSAGE });
}

/** Return a wait in whole seconds, rounded up, for telling people ("again in 3 s"). */
export function secondsToWait(ms) {
  return Math.ceil(ms / MS_PER_SECOND);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls to the tool's JSON API on behalf of one launch. */
export class ApiClient {
  constructor(launchId, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    this.launchId = launchId;
    this.timeoutMs = timeoutMs;
  }

  /** Return the headers that name the launch (for calls to the tool's own origin only). */
  launchHeaders() {
    return { [LAUNCH_HEADER]: this.launchId };
  }

  get(url, options) { return this.request("GET", url, options); }
  post(url, json, options) { return this.request("POST", url, { ...options, json }); }
  patch(url, json, options) { return this.request("PATCH", url, { ...options, json }); }
  delete(url, options) { return this.request("DELETE", url, options); }

  /** Send one call; resolve with the answer's JSON, reject with an ApiError.

      options: json (a body to send as JSON) or form (a FormData), busy (BusyPolicy),
      onBusy(ms) (told before each wait), timeoutMs. */
  async request(method, url, options = {}) {
    const { busy = BusyPolicy.WAIT, onBusy = null } = options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(method, url, options);
      } catch (err) {
        const wait = err.retryAfterMs;
        const waitable = err.busy && busy === BusyPolicy.WAIT && attempt < BUSY_RETRIES &&
          wait <= BUSY_MAX_WAIT_MS;
        if (!waitable) throw err;
        if (onBusy) onBusy(wait);
        await sleep(wait);
      }
    }
  }

  /** Send one call once (no waiting out a busy server). */
  async send(method, url, { json, form, timeoutMs = this.timeoutMs } = {}) {
    const headers = { Accept: JSON_TYPE, ...REQUESTED_WITH, ...this.launchHeaders() };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = JSON_TYPE;
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form;  // the browser writes the multipart Content-Type with its boundary
    }
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    let response, text;
    try {
      response = await fetch(url, { method, headers, body, credentials: "same-origin",
        signal: deadline.signal });
      text = await response.text();
    } catch (e) {
      throw deadline.signal.aborted ? timedOut() : connectionLost();
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      throw errorFromAnswer(response.status, text, response.headers.get("Retry-After"));
    }
    if (response.status === HttpStatus.NO_CONTENT || !text) return {};
    try {
      return JSON.parse(text);
    } catch (e) {
      throw unreadable(response.status);
    }
  }
}
