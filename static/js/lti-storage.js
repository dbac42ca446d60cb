/* LTI Platform Storage over postMessage (1EdTech "LTI Client Side postMessages" and
 * "LTI Platform Storage"): keep the login's state and nonce in the platform's frame when the
 * browser blocks this tool's cookies inside the LMS iframe.
 *
 * Pages opt in with an element carrying data attributes:
 *   #lti-storage-login  data-target data-origin data-state data-nonce data-auth-url
 *   #lti-storage-launch data-target data-origin data-state data-nonce  (inside the re-post form)
 * Both subject names are sent and accepted: "lti.*" and Brightspace's "org.imsglobal.lti.*".
 */
const TIMEOUT_MS = 4000;
const PREFIXES = ["", "org.imsglobal."];
const PUT_DATA = "lti.put_data";
const GET_DATA = "lti.get_data";
const RESPONSE_SUFFIX = ".response";
const PARENT_TARGET = "_parent";
const STATE_KEY = "state_";
const NONCE_KEY = "nonce_";

function targetFrame(name) {
  if (!window.parent || window.parent === window) return null;
  if (name && name !== PARENT_TARGET) {
    try {
      if (window.parent.frames[name]) return window.parent.frames[name];
    } catch (e) { /* cross-origin access to frames by name may throw */ }
  }
  return window.parent;
}

function newId() {
  return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2);
}

/* Send one request under both subject names; resolve with the first answer. */
function send(target, origin, subject, fields) {
  return new Promise((resolve, reject) => {
    const frame = targetFrame(target);
    if (!frame) { reject(new Error("not inside an LMS frame")); return; }
    const ids = {};
    const timer = window.setTimeout(() => done(new Error("no answer")), TIMEOUT_MS);
    function done(err, value) {
      window.clearTimeout(timer);
      window.removeEventListener("message", onMessage);
      if (err) reject(err); else resolve(value);
    }
    function onMessage(event) {
      const data = event.data;
      if (event.origin !== origin || !data || typeof data !== "object" || !ids[data.message_id]) {
        return;
      }
      if (data.subject !== ids[data.message_id] + RESPONSE_SUFFIX) return;
      if (data.error) { done(new Error(data.error.message || data.error.code || "error")); return; }
      done(null, data.value);
    }
    window.addEventListener("message", onMessage);
    PREFIXES.forEach((prefix) => {
      const id = newId();
      ids[id] = prefix + subject;
      try {
        frame.postMessage({ subject: prefix + subject, message_id: id, ...fields }, origin);
      } catch (e) { /* try the other name */ }
    });
  });
}

/** Keep `value` under `key` in the platform's frame. */
export function put(target, origin, key, value) {
  return send(target, origin, PUT_DATA, { key, value });
}

/** Read the value kept under `key` in the platform's frame. */
export function get(target, origin, key) {
  return send(target, origin, GET_DATA, { key });
}

function onLoginPage(el) {
  const d = el.dataset;
  Promise.all([put(d.target, d.origin, STATE_KEY + d.state, d.state),
               put(d.target, d.origin, NONCE_KEY + d.nonce, d.nonce)])
    .catch(() => { /* the cookie may still work: go on */ })
    .then(() => window.location.replace(d.authUrl));
}

function onLaunchPage(el) {
  const d = el.dataset;
  const form = el.closest("form");
  Promise.all([get(d.target, d.origin, STATE_KEY + d.state),
               get(d.target, d.origin, NONCE_KEY + d.nonce)])
    .then(([state, nonce]) => {
      if (state !== d.state || nonce !== d.nonce) throw new Error("mismatch");
      form.querySelector("[name=lti_storage_state]").value = state;
      form.querySelector("[name=lti_storage_nonce]").value = nonce;
      form.submit();
    })
    .catch(() => {
      document.getElementById("lti-storage-working").hidden = true;
      document.getElementById("lti-storage-failed").hidden = false;
    });
}

const login = document.getElementById("lti-storage-login");
const launch = document.getElementById("lti-storage-launch");
if (login) onLoginPage(login);
if (launch) onLaunchPage(launch);
