/* The captions panel (templates/review/_captions.html): lists a video's captions with their
   status, uploads a WebVTT file, asks the storage to generate captions, deletes a language.
   Calls go through api.js; what changed is said in the page's live region, errors show in
   the panel's alert box. */
import { ApiClient, secondsToWait } from "./api.js";
import { formatSize } from "./format.js";
import { announce } from "./live.js";
import { CAPTIONS_CHANGED } from "./player.js";

const PANEL_ID = "captions-panel";
const POLL_MS = 10000;      // while a generated caption is in progress
const MAX_POLLS = 90;       // then stop: about 15 minutes
const IN_PROGRESS = "inprogress";
const STATUS_TEXT = { ready: "Ready", [IN_PROGRESS]: "Generating…", error: "Failed" };
const DONE = "Done.";

class CaptionsPanel {
  constructor(root) {
    this.root = root;
    this.url = root.dataset.url;
    this.api = new ApiClient(root.dataset.launch);
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

  request(method, path, form) {
    const options = { form, onBusy: (ms) => this.say(
      `The server is busy. Trying again in ${secondsToWait(ms)} s…`) };
    return this.api.request(method, this.url + (path || ""), options)
      .then((data) => { this.showError(""); return data; });
  }

  refresh() {
    return this.request("GET")
      .then((data) => this.render(data.captions || []))
      .catch((err) => { this.list.setAttribute("aria-busy", "false"); this.showError(err.message); });
  }

  render(captions) {
    this.list.textContent = "";
    this.list.setAttribute("aria-busy", "false");
    this.empty.hidden = captions.length > 0;
    captions.forEach((c) => this.list.appendChild(this._item(c)));
    this._schedulePoll(captions.some((c) => c.status === IN_PROGRESS));
  }

  _item(c) {
    const li = document.createElement("li");
    li.dataset.language = c.language;
    const name = document.createElement("span");
    name.className = "caption-name";
    name.textContent = `${c.name} (${c.language})`;
    const badge = document.createElement("span");
    badge.className = "badge badge-" + c.status;
    badge.textContent = STATUS_TEXT[c.status] || c.status;
    li.append(name, badge);
    if (c.generated) {
      const gen = document.createElement("span");
      gen.className = "small muted";
      gen.textContent = "generated";
      li.appendChild(gen);
    }
    if (this.canEdit) {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "btn btn-secondary btn-small";
      del.textContent = "Delete";
      del.setAttribute("aria-label", `Delete ${c.name} captions`);
      del.addEventListener("click", () => this.remove(c));
      li.appendChild(del);
    }
    return li;
  }

  _schedulePoll(needed) {
    clearTimeout(this.pollTimer);
    if (!needed) { this.polls = 0; return; }
    if (this.polls >= MAX_POLLS) {
      this.say("Captions are still being generated. Reload the page later to see them.");
      return;
    }
    this.polls += 1;
    this.pollTimer = setTimeout(() => this.refresh(), POLL_MS);
  }

  /** Show what the panel is doing, and say it in the page's live region. */
  say(message) {
    this.status.textContent = message;
    announce(message);
  }

  /** Tell the page's player, which shows the captions this app serves as <track>s. */
  changed() {
    document.dispatchEvent(new CustomEvent(CAPTIONS_CHANGED));
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
    if (message) this.status.textContent = "";
  }

  _busy(form, busy) {
    form.querySelectorAll("button, select, input").forEach((el) => { el.disabled = busy; });
  }

  _change(form, method, path, body, pending) {
    this._busy(form, true);
    this.say(pending);
    return this.request(method, path, body).then((data) => {
      this.render(data.captions || []);
      this.say(data.message || DONE);
      this.changed();
      return true;
    }).catch((err) => { this.showError(err.message); return false; })
      .then((ok) => { this._busy(form, false); return ok; });
  }

  remove(c) {
    if (!window.confirm(`Delete the ${c.name} captions? Viewers will no longer see them.`)) return;
    this.say(`Deleting ${c.name} captions…`);
    this.request("DELETE", "/" + encodeURIComponent(c.language)).then((data) => {
      this.render(data.captions || []);
      this.say(data.message);
      this.changed();
      const heading = this.root.querySelector("#captions-title");
      if (heading) { heading.tabIndex = -1; heading.focus(); }  // the button is gone
    }).catch((err) => this.showError(err.message));
  }

  _wire() {
    const upload = this.root.querySelector("#captions-upload");
    if (upload) upload.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = upload.querySelector("#captions-file");
      const file = input.files && input.files[0];
      if (!file) { this.showError("Choose a WebVTT (.vtt) caption file to upload."); input.focus(); return; }
      if (this.maxBytes && file.size > this.maxBytes) {
        this.showError(`The caption file is larger than ${formatSize(this.maxBytes)}. Caption ` +
                       "files are usually much smaller: check you chose the right file.");
        input.focus();
        return;
      }
      const language = upload.querySelector("select").value;
      const body = new FormData();
      body.append("file", file);
      this._change(upload, "POST", "/" + encodeURIComponent(language), body, "Uploading captions…")
        .then((ok) => { if (ok) input.value = ""; });
    });
    const generate = this.root.querySelector("#captions-generate");
    if (generate) generate.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const language = generate.querySelector("select").value;
      this._change(generate, "POST", "/" + encodeURIComponent(language) + "/generate", null,
                   "Asking the video service to generate captions…");
    });
  }
}

const root = document.getElementById(PANEL_ID);
if (root) new CaptionsPanel(root);
