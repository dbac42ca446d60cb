/* The review pages: filters that apply as you choose them, local times, and on a submission
   the time-coded comments (add, edit, delete, seek) and the grade form. Every call carries
   the launch id in the X-LTI-Launch header so the page works without third-party cookies. */
(function () {
  "use strict";

  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) { el.title = el.textContent; el.textContent = d.toLocaleString(); }
    });
  }

  function wireFilters() {
    var form = document.getElementById("filters");
    if (!form) return;
    form.querySelectorAll("select").forEach(function (sel) {
      sel.addEventListener("change", function () { form.submit(); });
    });
  }

  function send(method, url, launch, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: {"Accept": "application/json", "Content-Type": "application/json",
                "X-Requested-With": "fetch", "X-LTI-Launch": launch},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || ("The server answered " + r.status + "."));
        return data;
      });
    });
  }

  function ReviewPage(data) {
    this.data = data;
    this.launch = data.launch;
    this.comments = data.comments.slice();
    this.list = document.getElementById("comments");
    this.composer = document.getElementById("composer");
    this.body = document.getElementById("comment-body");
    var root = document.getElementById("player");
    var self = this;
    this.player = root ? new window.VAPlayer.Player(root, {
      launch: this.launch,
      onCommentKey: data.canComment ? function () { self.openComposer(); } : null,
      onMarker: function (m) { self.highlight(m.id); }
    }) : null;
    var addBtn = document.getElementById("add-comment");
    if (addBtn) addBtn.addEventListener("click", function () { self.openComposer(); });
    if (this.composer) this._wireComposer();
    this.render();
    this._wireGradeForm();
  }

  ReviewPage.prototype.currentVideoComments = function () {
    var vid = this.data.videoId;
    return this.comments.filter(function (c) { return !vid || !c.video_id || c.video_id === vid; })
      .sort(function (a, b) { return a.at_seconds - b.at_seconds; });
  };

  ReviewPage.prototype.render = function () {
    var self = this, fmt = window.VAPlayer.formatTime, shown = this.currentVideoComments();
    this.list.innerHTML = "";
    shown.forEach(function (c) {
      var li = document.createElement("li");
      li.className = "comment";
      li.dataset.commentId = c.id;
      var seek = document.createElement("button");
      seek.type = "button"; seek.className = "comment-time"; seek.textContent = fmt(c.at_seconds);
      seek.setAttribute("aria-label", "Go to " + fmt(c.at_seconds));
      seek.addEventListener("click", function () { if (self.player) self.player.seek(c.at_seconds); self.highlight(c.id); });
      var text = document.createElement("div");
      text.className = "comment-body"; text.textContent = c.body;
      var meta = document.createElement("div");
      meta.className = "comment-meta small muted";
      meta.textContent = c.author + (c.edited ? " · edited" : "");
      li.append(seek, text, meta);
      if (c.mine) {
        var edit = document.createElement("button");
        edit.type = "button"; edit.className = "link-btn small"; edit.textContent = "Edit";
        edit.addEventListener("click", function () { self.editComment(c, li); });
        var del = document.createElement("button");
        del.type = "button"; del.className = "link-btn small danger"; del.textContent = "Delete";
        del.addEventListener("click", function () { self.deleteComment(c); });
        meta.append(" · ", edit, " · ", del);
      }
      self.list.appendChild(li);
    });
    document.getElementById("no-comments").hidden = shown.length > 0;
    document.getElementById("comment-count").textContent = shown.length ? "(" + shown.length + ")" : "";
    if (this.player) this.player.setMarkers(shown);
  };

  ReviewPage.prototype.highlight = function (id) {
    this.list.querySelectorAll(".comment").forEach(function (li) {
      li.classList.toggle("comment-active", String(li.dataset.commentId) === String(id));
    });
  };

  ReviewPage.prototype.openComposer = function () {
    if (!this.composer) return;
    var p = this.player;
    this.resumeAfter = p && !p.paused();
    if (p) p.pause();   // the video waits while the grader types
    this.at = p ? p.currentTime() : 0;
    document.getElementById("composer-time").textContent = window.VAPlayer.formatTime(this.at);
    this.composer.hidden = false;
    document.getElementById("composer-error").hidden = true;
    this.body.focus();
  };

  ReviewPage.prototype.closeComposer = function (resume) {
    this.composer.hidden = true;
    this.body.value = "";
    if (resume && this.resumeAfter && this.player) this.player.play();
    var play = document.getElementById("play");
    if (play) play.focus();  // keyboard shortcuts work again at once
  };

  ReviewPage.prototype._wireComposer = function () {
    var self = this;
    this.composer.addEventListener("submit", function (ev) { ev.preventDefault(); self.saveComment(); });
    document.getElementById("composer-cancel").addEventListener("click", function () { self.closeComposer(true); });
    this.body.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); self.saveComment(); }
      else if (ev.key === "Escape") { ev.preventDefault(); self.closeComposer(true); }
    });
  };

  ReviewPage.prototype.saveComment = function () {
    var self = this, err = document.getElementById("composer-error");
    var text = this.body.value.trim();
    if (!text) { err.textContent = "Type a comment first, or press Esc to cancel."; err.hidden = false; return; }
    send("POST", this.data.addCommentUrl, this.launch,
         {at_seconds: this.at, body: text, video_id: this.data.videoId})
      .then(function (res) { self.comments.push(res.comment); self.render(); self.highlight(res.comment.id); self.closeComposer(true); })
      .catch(function (e) { err.textContent = e.message; err.hidden = false; });
  };

  ReviewPage.prototype.commentUrl = function (id) {
    return this.data.commentUrl.replace(/\/0$/, "/" + id);
  };

  ReviewPage.prototype.editComment = function (c, li) {
    var self = this;
    var area = document.createElement("textarea");
    area.value = c.body; area.rows = 3; area.setAttribute("aria-label", "Edit comment");
    var save = document.createElement("button");
    save.type = "button"; save.className = "btn btn-small"; save.textContent = "Save";
    var cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "btn btn-secondary btn-small"; cancel.textContent = "Cancel";
    var body = li.querySelector(".comment-body");
    body.replaceWith(area);
    li.querySelector(".comment-meta").replaceChildren(save, " ", cancel);
    area.focus();
    cancel.addEventListener("click", function () { self.render(); });
    save.addEventListener("click", function () {
      send("PATCH", self.commentUrl(c.id), self.launch, {body: area.value})
        .then(function (res) { Object.assign(c, res.comment); self.render(); })
        .catch(function (e) { window.alert(e.message); });
    });
  };

  ReviewPage.prototype.deleteComment = function (c) {
    var self = this;
    if (!window.confirm("Delete this comment?")) return;
    send("DELETE", this.commentUrl(c.id), this.launch)
      .then(function () { self.comments = self.comments.filter(function (x) { return x.id !== c.id; }); self.render(); })
      .catch(function (e) { window.alert(e.message); });
  };

  ReviewPage.prototype._wireGradeForm = function () {
    var form = document.getElementById("grade-form");
    if (!form) return;
    var score = document.getElementById("score"), err = document.getElementById("score-error");
    function check() {
      var raw = score.value.trim(), max = parseFloat(score.max);
      var bad = raw !== "" && (isNaN(Number(raw)) || Number(raw) < 0 || Number(raw) > max);
      err.textContent = bad ? "The grade must be a number between 0 and " + score.max + "." : "";
      err.hidden = !bad;
      score.setAttribute("aria-invalid", bad ? "true" : "false");
      return !bad;
    }
    score.addEventListener("input", check);
    form.addEventListener("submit", function (ev) { if (!check()) { ev.preventDefault(); score.focus(); } });
  };

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    wireFilters();
    var dataEl = document.getElementById("review-data");
    if (dataEl) window.reviewPage = new ReviewPage(JSON.parse(dataEl.textContent));
  });
})();
