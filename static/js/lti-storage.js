/* LTI Platform Storage over postMessage (1EdTech "LTI Client Side postMessages" and
 * "LTI Platform Storage"): keep the login's state and nonce in the platform's frame when the
 * browser blocks this tool's cookies inside the LMS iframe.
 *
 * Pages opt in with an element carrying data attributes:
 *   #lti-storage-login  data-target data-origin data-state data-nonce data-auth-url
 *   #lti-storage-launch data-target data-origin data-state data-nonce  (inside the re-post form)
 * Both subject names are sent and accepted: "lti.*" and Brightspace's "org.imsglobal.lti.*".
 */
(function () {
  "use strict";
  var TIMEOUT_MS = 4000;
  var PREFIXES = ["", "org.imsglobal."];

  function targetFrame(name) {
    if (!window.parent || window.parent === window) { return null; }
    if (name && name !== "_parent") {
      try {
        if (window.parent.frames[name]) { return window.parent.frames[name]; }
      } catch (e) { /* cross-origin access to frames by name may throw */ }
    }
    return window.parent;
  }

  function newId() {
    return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /* Send one request under both subject names; resolve with the first answer. */
  function send(target, origin, subject, fields) {
    return new Promise(function (resolve, reject) {
      var frame = targetFrame(target);
      if (!frame) { reject(new Error("not inside an LMS frame")); return; }
      var ids = {};
      var timer = window.setTimeout(function () { done(new Error("no answer")); }, TIMEOUT_MS);
      function done(err, value) {
        window.clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        if (err) { reject(err); } else { resolve(value); }
      }
      function onMessage(event) {
        var data = event.data;
        if (event.origin !== origin || !data || typeof data !== "object" || !ids[data.message_id]) {
          return;
        }
        if (data.subject !== ids[data.message_id] + ".response") { return; }
        if (data.error) { done(new Error(data.error.message || data.error.code || "error")); return; }
        done(null, data.value);
      }
      window.addEventListener("message", onMessage);
      PREFIXES.forEach(function (prefix) {
        var id = newId();
        var message = { subject: prefix + subject, message_id: id };
        Object.keys(fields).forEach(function (k) { message[k] = fields[k]; });
        ids[id] = prefix + subject;
        try { frame.postMessage(message, origin); } catch (e) { /* try the other name */ }
      });
    });
  }

  function put(target, origin, key, value) {
    return send(target, origin, "lti.put_data", { key: key, value: value });
  }

  function get(target, origin, key) {
    return send(target, origin, "lti.get_data", { key: key });
  }

  function onLoginPage(el) {
    var d = el.dataset;
    Promise.all([put(d.target, d.origin, "state_" + d.state, d.state),
                 put(d.target, d.origin, "nonce_" + d.nonce, d.nonce)])
      .catch(function () { /* the cookie may still work: go on */ })
      .then(function () { window.location.replace(d.authUrl); });
  }

  function onLaunchPage(el) {
    var d = el.dataset;
    var form = el.closest("form");
    Promise.all([get(d.target, d.origin, "state_" + d.state),
                 get(d.target, d.origin, "nonce_" + d.nonce)])
      .then(function (values) {
        if (values[0] !== d.state || values[1] !== d.nonce) { throw new Error("mismatch"); }
        form.querySelector("[name=lti_storage_state]").value = values[0];
        form.querySelector("[name=lti_storage_nonce]").value = values[1];
        form.submit();
      })
      .catch(function () {
        document.getElementById("lti-storage-working").hidden = true;
        document.getElementById("lti-storage-failed").hidden = false;
      });
  }

  window.ltiStorage = { put: put, get: get };
  document.addEventListener("DOMContentLoaded", function () {
    var login = document.getElementById("lti-storage-login");
    var launch = document.getElementById("lti-storage-launch");
    if (login) { onLoginPage(login); }
    if (launch) { onLaunchPage(launch); }
  });
})();
