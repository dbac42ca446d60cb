/* The review pages: filters that apply as you choose them, forms that ask before a big step
   (data-confirm), and on a submission the time-coded comments (add, edit, delete, seek)
   around the player, and the grade form: checked, and saved by fetch so the video keeps
   playing where it was and focus stays on Save ("Save and next", release and retry are
   plain form posts). Calls go through api.js. */
import { ApiClient, secondsToWait } from "./api.js";
import { formatDuration, localizeMoments } from "./format.js";
import { announce } from "./live.js";
import { Player } from "./player.js";

const FILTERS_ID = "filters";
const DATA_ID = "review-data";
// The page names the comment URL of comment 0; a comment's own URL ends in its id instead.
const COMMENT_ID_PLACEHOLDER = /\/0$/;

function wireFilters() {
  const form = document.getElementById(FILTERS_ID);
  if (!form) return;
  form.querySelectorAll("select").forEach((sel) => {
    sel.addEventListener("change", () => form.submit());
  });
}

/* A form with data-confirm asks its question first (Release all held grades). */
function wireConfirmations() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  });
}

function button(className, text) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = text;
  return b;
}

class ReviewPage {
  constructor(data) {
    this.data = data;
    this.api = new ApiClient(data.launch);
    this.comments = data.comments.slice();
    this.list = document.getElementById("comments");
    this.composer = document.getElementById("composer");
    this.body = document.getElementById("comment-body");
    this.composerError = document.getElementById("composer-error");
    const root = document.getElementById("player");
    this.player = root ? new Player(root, {
      api: this.api,
      onCommentKey: data.canComment ? () => this.openComposer() : null,
      onMarker: (m) => this.highlight(m.id)
    }) : null;
    const addBtn = document.getElementById("add-comment");
    if (addBtn) addBtn.addEventListener("click", () => this.openComposer());
    if (this.composer) this._wireComposer();
    this.render();
    this._wireGradeForm();
    // Leaving with an unsaved comment or edit asks first.
    window.addEventListener("beforeunload", (ev) => {
      if (this.hasDraft()) { ev.preventDefault(); ev.returnValue = ""; }
    });
  }

  /** Tell whether a comment or an edit holds text not saved yet. */
  hasDraft() {
    const composing = this.composer && !this.composer.hidden && this.body.value.trim();
    const editing = this.editing && this.editing.area.value !== this.editing.comment.body;
    return !!(composing || editing);
  }

  currentVideoComments() {
    const vid = this.data.videoId;
    return this.comments.filter((c) => !vid || !c.video_id || c.video_id === vid)
      .sort((a, b) => a.at_seconds - b.at_seconds);
  }

  render() {
    const shown = this.currentVideoComments();
    const editing = this.editing;  // an edit in progress survives the redraw, draft and all
    this.editing = null;
    this.list.textContent = "";
    shown.forEach((c) => {
      const li = this._item(c);
      this.list.appendChild(li);
      if (editing && editing.comment.id === c.id) {
        this.editComment(c, li, editing.area.value, editing.area === document.activeElement);
      }
    });
    document.getElementById("no-comments").hidden = shown.length > 0;
    document.getElementById("comment-count").textContent = shown.length ? `(${shown.length})` : "";
    if (this.player) this.player.setMarkers(shown);
  }

  _item(c) {
    const li = document.createElement("li");
    li.className = "comment";
    li.dataset.commentId = c.id;
    const at = formatDuration(c.at_seconds);
    const seek = button("comment-time", at);
    seek.setAttribute("aria-label", `Go to ${at}`);
    seek.addEventListener("click", () => {
      if (this.player) this.player.seek(c.at_seconds);
      this.highlight(c.id);
    });
    const text = document.createElement("div");
    text.className = "comment-body";
    text.textContent = c.body;
    const meta = document.createElement("div");
    meta.className = "comment-meta small muted";
    meta.textContent = c.author + (c.edited ? " · edited" : "");
    li.append(seek, text, meta);
    if (c.mine) {
      const edit = button("link-btn small", "Edit");
      edit.addEventListener("click", () => this.editComment(c, li));
      const del = button("link-btn small danger", "Delete");
      del.addEventListener("click", () => this.deleteComment(c));
      meta.append(" · ", edit, " · ", del);
    }
    return li;
  }

  highlight(id) {
    this.list.querySelectorAll(".comment").forEach((li) => {
      li.classList.toggle("comment-active", String(li.dataset.commentId) === String(id));
    });
  }

  openComposer() {
    if (!this.composer) return;
    const p = this.player;
    this.resumeAfter = p && !p.paused();
    if (p) p.pause();   // the video waits while the grader types
    this.at = p ? p.currentTime() : 0;
    document.getElementById("composer-time").textContent = formatDuration(this.at);
    this.composer.hidden = false;
    this.composerError.hidden = true;
    this.body.focus();
  }

  closeComposer(resume) {
    this.composer.hidden = true;
    this.body.value = "";
    if (resume && this.resumeAfter && this.player) this.player.play();
    const play = document.getElementById("play");
    if (play) play.focus();  // keyboard shortcuts work again at once
  }

  _wireComposer() {
    this.composer.addEventListener("submit", (ev) => { ev.preventDefault(); this.saveComment(); });
    document.getElementById("composer-cancel").addEventListener("click", () => this.closeComposer(true));
    this.body.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); this.saveComment(); }
      else if (ev.key === "Escape") { ev.preventDefault(); this.closeComposer(true); }
    });
  }

  _showComposerError(message) {
    this.composerError.textContent = message;
    this.composerError.hidden = false;
  }

  /** Options for a comment call: a busy server is waited out, and the grader told so. */
  _callOptions() {
    return { onBusy: (ms) => announce(`The server is busy. Saving again in ${secondsToWait(ms)} s…`) };
  }

  saveComment() {
    const text = this.body.value.trim();
    if (!text) { this._showComposerError("Type a comment first, or press Esc to cancel."); return; }
    this.api.post(this.data.addCommentUrl,
                  { at_seconds: this.at, body: text, video_id: this.data.videoId }, this._callOptions())
      .then((res) => {
        this.comments.push(res.comment);
        this.render();
        this.highlight(res.comment.id);
        this.closeComposer(true);
        announce(`Comment saved at ${formatDuration(res.comment.at_seconds)}.`);
      })
      .catch((e) => this._showComposerError(e.message));
  }

  commentUrl(id) {
    return this.data.commentUrl.replace(COMMENT_ID_PLACEHOLDER, "/" + id);
  }

  /* Edit a comment in place: Enter saves (Shift+Enter adds a line), Esc cancels. */
  editComment(c, li, draft = null, focus = true) {
    const area = document.createElement("textarea");
    area.value = draft === null ? c.body : draft;
    area.rows = 3; area.setAttribute("aria-label", `Edit comment at ${formatDuration(c.at_seconds)}`);
    const save = button("btn btn-small", "Save");
    const cancel = button("btn btn-secondary btn-small", "Cancel");
    const error = document.createElement("p");
    error.className = "form-error"; error.setAttribute("role", "alert"); error.hidden = true;
    li.querySelector(".comment-body").replaceWith(area);
    li.querySelector(".comment-meta").replaceChildren(save, " ", cancel, error);
    this.editing = { comment: c, area };
    if (focus) area.focus();
    const stop = () => { this.editing = null; this.render(); this._focusComment(c.id); };
    const submit = () => {
      this.api.patch(this.commentUrl(c.id), { body: area.value }, this._callOptions())
        .then((res) => { Object.assign(c, res.comment); stop(); announce("Comment changed."); })
        .catch((e) => { error.textContent = e.message; error.hidden = false; });
    };
    cancel.addEventListener("click", stop);
    save.addEventListener("click", submit);
    area.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submit(); }
      else if (ev.key === "Escape") { ev.preventDefault(); stop(); }
    });
  }

  _focusComment(id) {
    const time = this.list.querySelector(`li[data-comment-id="${id}"] .comment-time`);
    if (time) time.focus();
  }

  deleteComment(c) {
    if (!window.confirm("Delete this comment?")) return;
    this.api.delete(this.commentUrl(c.id), this._callOptions())
      .then(() => {
        this.comments = this.comments.filter((x) => x.id !== c.id);
        this.render();
        announce("Comment deleted.");
      })
      .catch((e) => window.alert(e.message));
  }

  _wireGradeForm() {
    const form = document.getElementById("grade-form");
    if (!form) return;
    const score = document.getElementById("score"), err = document.getElementById("score-error");
    const check = () => {
      const raw = score.value.trim(), max = parseFloat(score.max);
      const bad = raw !== "" && (Number.isNaN(Number(raw)) || Number(raw) < 0 || Number(raw) > max);
      err.textContent = bad ? `The grade must be a number between 0 and ${score.max}.` : "";
      err.hidden = !bad;
      score.setAttribute("aria-invalid", bad ? "true" : "false");
      return !bad;
    };
    score.addEventListener("input", check);
    form.addEventListener("submit", (ev) => {
      if (!check()) { ev.preventDefault(); score.focus(); return; }
      const then = ev.submitter && ev.submitter.value;
      if (then === "next") return;  // off to the next student: a plain post
      ev.preventDefault();
      this.saveGrade(form, ev.submitter, err);
    });
  }

  /* Save by fetch: the player keeps playing where it was, focus stays on the button. */
  saveGrade(form, submitter, err) {
    const fields = Object.fromEntries(new FormData(form).entries());
    fields.release = document.getElementById("release").checked ? "1" : "0";
    fields.then = "stay";
    if (submitter) submitter.disabled = true;
    this.api.post(form.action, fields, this._callOptions()).then((res) => {
      const status = document.getElementById("grade-status");
      if (status && res.status_html !== undefined) {
        status.innerHTML = res.status_html;  // rendered (and escaped) by the server
        localizeMoments(status);
      }
      err.hidden = true;
      announce(res.message);
    }).catch((e) => {
      err.textContent = e.message;
      err.hidden = false;  // role=alert: said at once
    }).then(() => {
      if (submitter) { submitter.disabled = false; submitter.focus(); }
    });
  }
}

wireFilters();
wireConfirmations();
const dataEl = document.getElementById(DATA_ID);
if (dataEl) new ReviewPage(JSON.parse(dataEl.textContent));
