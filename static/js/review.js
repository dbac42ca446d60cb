/* The review pages: filters that apply as you choose them, and on a submission the
   time-coded comments (add, edit, delete, seek) around the player, and the grade form's
   check. Comments go through api.js; the grade, release and retry are plain form posts. */
import { ApiClient, secondsToWait } from "./api.js";
import { formatDuration } from "./format.js";
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
  }

  currentVideoComments() {
    const vid = this.data.videoId;
    return this.comments.filter((c) => !vid || !c.video_id || c.video_id === vid)
      .sort((a, b) => a.at_seconds - b.at_seconds);
  }

  render() {
    const shown = this.currentVideoComments();
    this.list.textContent = "";
    shown.forEach((c) => this.list.appendChild(this._item(c)));
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

  editComment(c, li) {
    const area = document.createElement("textarea");
    area.value = c.body; area.rows = 3; area.setAttribute("aria-label", "Edit comment");
    const save = button("btn btn-small", "Save");
    const cancel = button("btn btn-secondary btn-small", "Cancel");
    li.querySelector(".comment-body").replaceWith(area);
    li.querySelector(".comment-meta").replaceChildren(save, " ", cancel);
    area.focus();
    cancel.addEventListener("click", () => this.render());
    save.addEventListener("click", () => {
      this.api.patch(this.commentUrl(c.id), { body: area.value }, this._callOptions())
        .then((res) => { Object.assign(c, res.comment); this.render(); announce("Comment changed."); })
        .catch((e) => window.alert(e.message));
    });
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
    form.addEventListener("submit", (ev) => { if (!check()) { ev.preventDefault(); score.focus(); } });
  }
}

wireFilters();
const dataEl = document.getElementById(DATA_ID);
if (dataEl) new ReviewPage(JSON.parse(dataEl.textContent));
