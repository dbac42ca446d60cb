/* The review player: plays a submitted video from its short-lived playback grant, renews
   the grant before it expires, and offers what graders need: jumps, speed, keyboard
   shortcuts, comment markers on the timeline. Cloudflare Stream plays in its own iframe,
   driven through Cloudflare's player SDK (seeking, play/pause, time). The student page's
   preview uses the same Player (options: keys: false, title), so renewal is written once. */
(function () {
  "use strict";

  var CLOUDFLARE_SDK = "https://embed.cloudflarestream.com/embed/sdk.latest.js";
  var RENEW_BEFORE_MS = 60 * 1000;
  var CAPTIONS_CHANGED = "captions:changed";  // sent by captions.js after a change
  var active = null;  // the page's player, which [data-seek] links move

  function formatTime(seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.Stream) return resolve();
      var s = document.createElement("script");
      s.src = src; s.async = true; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  /* Cloudflare's player URL for a renewed token, starting where the viewer was
     (startTime in seconds) and playing only if they were playing. */
  function iframeUrl(url, resume) {
    var u = new URL(url, window.location.href);
    u.searchParams.set("startTime", String(Math.max(0, Math.floor(resume.t))));
    if (resume.paused) u.searchParams.delete("autoplay");
    else u.searchParams.set("autoplay", "true");
    return u.toString();
  }

  function fetchJson(url, launch) {
    return fetch(url, {
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-Requested-With": "fetch", "X-LTI-Launch": launch}
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var msg = (body.error && body.error.message) || ("The server answered " + r.status + ".");
          throw new Error(msg);
        }
        return body;
      });
    });
  }

  /* One player in `root` (an element with data-playback-url). Options: launch (the launch
     id), keys (false: no page-wide shortcuts), title (the iframe's accessible name),
     onCommentKey, onMarker. */
  function Player(root, options) {
    this.root = root;
    this.opts = options || {};
    this.launch = this.opts.launch;
    this.video = root.querySelector("video");
    this.engine = null;            // the <video> element or the Cloudflare SDK player
    this.knownDuration = parseFloat(root.dataset.duration) || 0;
    this.markers = [];
    this.listeners = [];
    this.renewTimer = null;
    this.timeline = root.querySelector("#timeline");
    this.progress = root.querySelector("#timeline-progress");
    this.clock = root.querySelector("#clock");
    this.playBtn = root.querySelector("#play");
    this.errorBox = root.querySelector("#player-error");
    active = this;
    this._wireControls();
    this.load();
  }

  /* Stop renewing and let [data-seek] links go (the page shows another video). */
  Player.prototype.destroy = function () {
    this.destroyed = true;
    clearTimeout(this.renewTimer);
    if (active === this) active = null;
  };

  Player.prototype.load = function () {
    var self = this;
    return fetchJson(this.root.dataset.playbackUrl, this.launch).then(function (grant) {
      if (!self.destroyed) self._apply(grant);
    }).catch(function (err) { self.showError(err.message); });
  };

  Player.prototype._apply = function (grant) {
    var self = this;
    if (grant.kind === "iframe") {
      this._useIframe(grant.url);
    } else {
      var resume = this.engine ? {t: this.currentTime(), paused: this.paused()} : null;
      this.engine = this.video;
      if (grant.thumbnail_url && !this.video.poster) this.video.poster = grant.thumbnail_url;
      this.video.src = grant.url;
      this._setTracks(grant.tracks || []);
      if (resume) {
        this.video.addEventListener("loadedmetadata", function once() {
          self.video.removeEventListener("loadedmetadata", once);
          self.seek(resume.t);
          if (!resume.paused) self.play();
        });
      }
      if (!this._videoWired) this._wireVideo();
    }
    this._scheduleRenew(grant.expires_at);
  };

  /* Show Cloudflare's player. A signed token is checked on every request the player makes,
     so a renewed grant means a new iframe URL: load it where the viewer was (startTime)
     and as they were (autoplay only when playing), then drive it through the SDK again. */
  Player.prototype._useIframe = function (url) {
    var self = this;
    var resume = null;
    if (this.iframe) {
      resume = {t: this.currentTime(), paused: this.paused()};
      url = iframeUrl(url, resume);
    }
    var iframe = document.createElement("iframe");
    iframe.src = url;
    iframe.title = this.opts.title || "Submitted video";
    iframe.allow = "accelerometer; autoplay; encrypted-media; picture-in-picture; fullscreen";
    iframe.setAttribute("allowfullscreen", "");
    iframe.className = "player-iframe";
    (this.iframe || this.video).replaceWith(iframe);
    this.iframe = iframe;
    this.engine = null;
    this._resume = resume;  // what to report until the new player says where it is
    loadScript(CLOUDFLARE_SDK).then(function () {
      if (self.iframe !== iframe) return;  // renewed again meanwhile
      var engine = window.Stream(iframe);
      self.engine = engine;
      if (resume) {  // the URL asked already; this covers a pause meanwhile or blocked autoplay
        var p = resume.paused ? engine.pause() : engine.play();
        if (p && p.catch) p.catch(function () {});
      }
      ["timeupdate", "play", "pause", "loadedmetadata", "durationchange", "seeked"].forEach(function (ev) {
        engine.addEventListener(ev, function () {
          if (self.engine !== engine) return;
          if (self._resume && (ev === "seeked" || ev === "play" ||
                               (engine.currentTime || 0) > 0)) self._resume = null;
          self._tick();
        });
      });
    }).catch(function () {
      self.showError("Cloudflare's player controls could not be loaded: the video plays, " +
                     "but comments cannot move it; use the times shown in the list.");
    });
  };

  /* Captions this app serves, as <track>s (the grant signs their URLs); the language on
     show stays on show across renewals. Without native controls, a menu picks one. */
  Player.prototype._setTracks = function (tracks) {
    var video = this.video, shown = "";
    Array.prototype.forEach.call(video.textTracks, function (t) {
      if (t.mode === "showing") shown = t.language;
    });
    video.querySelectorAll("track").forEach(function (el) { el.remove(); });
    tracks.forEach(function (t) {
      var el = document.createElement("track");
      el.kind = "captions";
      el.srclang = t.language;
      el.label = t.label;
      el.src = t.url;
      video.appendChild(el);
    });
    if (!video.controls) this._captionsMenu(tracks);
    this.showCaptions(tracks.some(function (t) { return t.language === shown; }) ? shown : "");
  };

  Player.prototype.showCaptions = function (language) {
    Array.prototype.forEach.call(this.video.textTracks, function (t) {
      t.mode = language && t.language === language ? "showing" : "disabled";
    });
    if (this.captionsSelect) this.captionsSelect.value = language;
  };

  Player.prototype._captionsMenu = function (tracks) {
    var self = this, bar = this.root.querySelector(".controls");
    if (!bar) return;
    if (!this.captionsSelect) {
      var label = document.createElement("label");
      label.className = "speed-label";
      label.htmlFor = "captions-select";
      label.textContent = "Captions";
      var select = document.createElement("select");
      select.id = "captions-select";
      select.className = "speed";
      select.addEventListener("change", function () { self.showCaptions(select.value); });
      bar.appendChild(label);
      bar.appendChild(select);
      this.captionsSelect = select;
      this.captionsLabel = label;
    }
    var menu = this.captionsSelect;
    menu.textContent = "";
    [{language: "", label: "Off"}].concat(tracks).forEach(function (t) {
      var option = document.createElement("option");
      option.value = t.language;
      option.textContent = t.label;
      menu.appendChild(option);
    });
    menu.hidden = this.captionsLabel.hidden = !tracks.length;
  };

  Player.prototype._wireVideo = function () {
    var self = this;
    this._videoWired = true;
    ["timeupdate", "play", "pause", "loadedmetadata", "durationchange", "seeked"].forEach(function (ev) {
      self.video.addEventListener(ev, function () { self._tick(); });
    });
    this.video.addEventListener("error", function () {
      // An expired grant shows up as a media error: ask for a fresh one once.
      if (self._retried) { self.showError("The video could not be played. Reload the page to try again."); return; }
      self._retried = true;
      self.load();
    });
    // Native controls toggle on click themselves; a second toggle would undo theirs.
    if (!this.video.controls) this.video.addEventListener("click", function () { self.toggle(); });
  };

  Player.prototype._scheduleRenew = function (expiresAt) {
    var self = this;
    clearTimeout(this.renewTimer);
    var when = Date.parse(expiresAt) - Date.now() - RENEW_BEFORE_MS;
    if (!isFinite(when)) return;
    this.renewTimer = setTimeout(function () { self._retried = false; self.load(); }, Math.max(5000, when));
  };

  Player.prototype._wireControls = function () {
    var self = this;
    this.root.querySelectorAll("[data-jump]").forEach(function (btn) {
      btn.addEventListener("click", function () { self.jump(parseFloat(btn.dataset.jump)); });
    });
    if (this.playBtn) this.playBtn.addEventListener("click", function () { self.toggle(); });
    var speed = this.root.querySelector("#speed");
    if (speed) speed.addEventListener("change", function () { self.setRate(parseFloat(speed.value)); });
    if (this.timeline) {
      this.timeline.addEventListener("click", function (ev) {
        if (ev.target.closest(".marker")) return;
        var rect = self.timeline.getBoundingClientRect();
        var d = self.duration();
        if (d && rect.width) self.seek(((ev.clientX - rect.left) / rect.width) * d);
      });
    }
    document.addEventListener(CAPTIONS_CHANGED, function () {
      if (!self.destroyed && self.engine === self.video) self.load();  // new <track> list
    });
    if (this.opts.keys !== false) {
      document.addEventListener("keydown", function (ev) { if (!self.destroyed) self._onKey(ev); });
    }
  };

  Player.prototype._onKey = function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || isTyping(ev.target)) return;
    var handled = true;
    switch (ev.key) {
      case " ": case "k": case "K": this.toggle(); break;
      case "j": case "J": this.jump(-10); break;
      case "l": case "L": this.jump(10); break;
      case "ArrowLeft": this.jump(-5); break;
      case "ArrowRight": this.jump(5); break;
      case "c": case "C":
        if (this.opts.onCommentKey) this.opts.onCommentKey(); else handled = false;
        break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  };

  Player.prototype.on = function (fn) { this.listeners.push(fn); };

  Player.prototype._tick = function () {
    var t = this.currentTime(), d = this.duration();
    if (this.clock) this.clock.textContent = formatTime(t) + " / " + (d ? formatTime(d) : "–");
    if (this.progress && d) this.progress.style.width = Math.min(100, (t / d) * 100) + "%";
    if (this.playBtn) {
      var paused = this.paused();
      this.playBtn.textContent = paused ? "▶" : "❚❚";
      this.playBtn.setAttribute("aria-label", paused ? "Play" : "Pause");
    }
    if (d && d !== this._markersFor) this.renderMarkers();
    this.listeners.forEach(function (fn) { fn(t); });
  };

  Player.prototype.currentTime = function () {
    if (this._resume) return this._resume.t;
    return this.engine ? (this.engine.currentTime || 0) : 0;
  };
  Player.prototype.duration = function () {
    var d = this.engine && this.engine.duration;
    return (d && isFinite(d)) ? d : this.knownDuration;
  };
  Player.prototype.paused = function () {
    if (this._resume) return this._resume.paused;
    return !this.engine || this.engine.paused !== false;
  };
  Player.prototype.play = function () {
    if (!this.engine) return;
    var p = this.engine.play();
    if (p && p.catch) p.catch(function () {});
  };
  Player.prototype.pause = function () {
    if (this._resume) this._resume.paused = true;
    if (this.engine) this.engine.pause();
  };
  Player.prototype.toggle = function () { if (this.paused()) this.play(); else this.pause(); };
  Player.prototype.seek = function (t) {
    if (!this.engine) return;
    this._resume = null;
    var d = this.duration();
    this.engine.currentTime = Math.max(0, d ? Math.min(t, d) : t);
    this._tick();
  };
  Player.prototype.jump = function (delta) { this.seek(this.currentTime() + delta); };
  Player.prototype.setRate = function (rate) {
    if (this.engine && "playbackRate" in this.engine) this.engine.playbackRate = rate;
  };

  Player.prototype.setMarkers = function (markers) { this.markers = markers || []; this.renderMarkers(); };
  Player.prototype.renderMarkers = function () {
    if (!this.timeline) return;
    var self = this, d = this.duration();
    this._markersFor = d;
    this.timeline.querySelectorAll(".marker").forEach(function (m) { m.remove(); });
    if (!d) return;
    this.markers.forEach(function (m) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "marker";
      b.dataset.commentId = m.id;
      b.style.left = Math.min(100, (m.at_seconds / d) * 100) + "%";
      b.title = formatTime(m.at_seconds) + " — " + m.body;
      b.setAttribute("aria-label", "Comment at " + formatTime(m.at_seconds) + ": " + m.body);
      b.addEventListener("click", function () { self.seek(m.at_seconds); if (self.opts.onMarker) self.opts.onMarker(m); });
      self.timeline.appendChild(b);
    });
  };

  Player.prototype.showError = function (message) {
    if (!this.errorBox) return;
    this.errorBox.textContent = message;
    this.errorBox.hidden = false;
  };

  /* Make [data-seek] buttons inside `root` seek `player`, else the page's player (the
     student's preview: a <video>, or Cloudflare's iframe through the SDK). */
  function bindSeekLinks(root, player) {
    root.addEventListener("click", function (ev) {
      var btn = ev.target.closest("[data-seek]");
      if (!btn) return;
      var target = player || active;
      if (!target) return;
      target.seek(parseFloat(btn.dataset.seek));
      if (!player) {
        target.root.scrollIntoView({block: "nearest"});
        (target.iframe || target.video).focus();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-seek-links]").forEach(function (el) { bindSeekLinks(el, null); });
  });

  window.VAPlayer = {Player: Player, formatTime: formatTime, fetchJson: fetchJson, iframeUrl: iframeUrl,
                     bindSeekLinks: bindSeekLinks, isTyping: isTyping};
})();
