/* The captions panel: lists a video's captions with their status, uploads a WebVTT file,
   asks the storage to generate captions, deletes a language. Every call carries the launch
   id in the X-LTI-Launch header; messages are announced in live regions. */
(function () {
  "use strict";

  var CHANGED_EVENT = "captions:changed";  // player.js listens
  var POLL_MS = 10000;      // while a generated caption is in progress
  var MAX_POLLS = 90;       // then stop: about 15 minutes
  var STATUS_TEXT = {ready: "Ready", inprogress: "Generating…", error: "Failed"};

  function Panel(root) {
    this.root = root;
    this.url = root.dataset.url;
    this.launch = root.dataset.launch;
    this.canEdit = root.dataset.canEdit === "true";
    this.maxBytes = parseInt(root.dataset.maxBytes, 10) || 0;
    this.list = root.querySelector("#captions-list");
    this.empty = root.querySelector("#captions-empty");
    this.status = root.querySelector("#captions-status");
    this.error = root.querySelector("#captions-error");
    this.polls = 0;
    this.pollTimer = null;
    this._wire();
    this.refresh();
  }

  Panel.prototype.request = function (method, path, body) {
    var self = this;
    var headers = {"Accept": "application/json", "X-Requested-With": "fetch",
                   "X-LTI-Launch": this.launch};
    return fetch(this.url + (path || ""), {method: method, body: body, headers: headers,
                                           credentials: "same-origin"}).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          throw new Error((data.error && data.error.message) ||
                          ("The server answered " + r.status + ". Please try again."));
        }
        return data;
      });
    }, function () {
      throw new Error("The tool could not be reached. Check your connection and try again.");
    }).then(function (data) { self.showError(""); return data; });
  };

  Panel.prototype.refresh = function () {
    var self = this;
    return this.request("GET").then(function (data) { self.render(data.captions || []); })
      .catch(function (err) { self.list.setAttribute("aria-busy", "false"); self.showError(err.message); });
  };

  Panel.prototype.render = function (captions) {
    var self = this;
    this.list.textContent = "";
    this.list.setAttribute("aria-busy", "false");
    this.empty.hidden = captions.length > 0;
    captions.forEach(function (c) {
      var li = document.createElement("li");
      li.dataset.language = c.language;
      var name = document.createElement("span");
      name.className = "caption-name";
      name.textContent = c.name + " (" + c.language + ")";
      var badge = document.createElement("span");
      badge.className = "badge badge-" + c.status;
      badge.textContent = STATUS_TEXT[c.status] || c.status;
      li.appendChild(name);
      li.appendChild(badge);
      if (c.generated) {
        var gen = document.createElement("span");
        gen.className = "small muted";
        gen.textContent = "generated";
        li.appendChild(gen);
      }
      if (self.canEdit) {
        var del = document.createElement("button");
        del.type = "button";
        del.className = "btn btn-secondary btn-small";
        del.textContent = "Delete";
        del.setAttribute("aria-label", "Delete " + c.name + " captions");
        del.addEventListener("click", function () { self.remove(c); });
        li.appendChild(del);
      }
      self.list.appendChild(li);
    });
    this._schedulePoll(captions.some(function (c) { return c.status === "inprogress"; }));
  };

  Panel.prototype._schedulePoll = function (needed) {
    var self = this;
    clearTimeout(this.pollTimer);
    if (!needed) { this.polls = 0; return; }
    if (this.polls >= MAX_POLLS) {
      this.say("Captions are still being generated. Reload the page later to see them.");
      return;
    }
    this.polls += 1;
    this.pollTimer = setTimeout(function () { self.refresh(); }, POLL_MS);
  };

  Panel.prototype.say = function (message) { this.status.textContent = message; };
  /* Tell the page's player, which shows the captions this app serves as <track>s. */
  Panel.prototype.changed = function () {
    document.dispatchEvent(new CustomEvent(CHANGED_EVENT));
  };
  Panel.prototype.showError = function (message) {
    this.error.textContent = message;
    this.error.hidden = !message;
    if (message) this.say("");
  };

  Panel.prototype._busy = function (form, busy) {
    form.querySelectorAll("button, select, input").forEach(function (el) { el.disabled = busy; });
  };

  Panel.prototype._change = function (form, method, path, body, pending) {
    var self = this;
    this._busy(form, true);
    this.say(pending);
    return this.request(method, path, body).then(function (data) {
      self.render(data.captions || []);
      self.say(data.message || "Done.");
      self.changed();
      return true;
    }).catch(function (err) { self.showError(err.message); return false; })
      .then(function (ok) { self._busy(form, false); return ok; });
  };

  Panel.prototype.remove = function (c) {
    if (!window.confirm("Delete the " + c.name + " captions? Viewers will no longer see them.")) return;
    var self = this;
    this.say("Deleting " + c.name + " captions…");
    this.request("DELETE", "/" + encodeURIComponent(c.language)).then(function (data) {
      self.render(data.captions || []);
      self.say(data.message);
      self.changed();
      var heading = self.root.querySelector("#captions-title");
      if (heading) { heading.tabIndex = -1; heading.focus(); }  // the button is gone
    }).catch(function (err) { self.showError(err.message); });
  };

  Panel.prototype._wire = function () {
    var self = this;
    var upload = this.root.querySelector("#captions-upload");
    if (upload) upload.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = upload.querySelector("#captions-file");
      var file = input.files && input.files[0];
      if (!file) { self.showError("Choose a WebVTT (.vtt) caption file to upload."); input.focus(); return; }
      if (self.maxBytes && file.size > self.maxBytes) {
        self.showError("The caption file is larger than " + Math.floor(self.maxBytes / 1024) +
                       " KB. Caption files are usually much smaller: check you chose the right file.");
        input.focus();
        return;
      }
      var language = upload.querySelector("select").value;
      var body = new FormData();
      body.append("file", file);
      self._change(upload, "POST", "/" + encodeURIComponent(language), body, "Uploading captions…")
        .then(function (ok) { if (ok) input.value = ""; });
    });
    var generate = this.root.querySelector("#captions-generate");
    if (generate) generate.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var language = generate.querySelector("select").value;
      self._change(generate, "POST", "/" + encodeURIComponent(language) + "/generate", null,
                   "Asking the video service to generate captions…");
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("captions-panel");
    if (root) window.VACaptions = new Panel(root);
  });
})();
