/* The review player: plays a submitted video from its short-lived playback grant, renews
   the grant before it expires, and offers what graders need: jumps, speed, keyboard
   shortcuts, comment markers on the timeline. Cloudflare Stream plays in its own iframe,
   driven through Cloudflare's player SDK (seeking, play/pause, time). The student page's
   preview uses the same Player (options: keys: false, title), so renewal is written once.
   Grants come through the page's ApiClient (api.js); times are written by format.js. */
import { formatDuration } from "./format.js";

/* Sent on the document (by captions.js) when a video's captions changed: the player asks
   for a new grant, whose tracks list them. */
export const CAPTIONS_CHANGED = "captions:changed";

const CLOUDFLARE_SDK = "https://embed.cloudflarestream.com/embed/sdk.latest.js";
const IFRAME_ALLOW = "accelerometer; autoplay; encrypted-media; picture-in-picture; fullscreen";
const GRANT_IFRAME = "iframe";
const RENEW_BEFORE_MS = 60 * 1000;
// The player of a sound-only submission (a poster over an audio track) is named as what it is.
const SOUND_ONLY_LABEL = "Audio recording";
const MIN_RENEW_DELAY_MS = 5000;
const ENGINE_EVENTS = ["timeupdate", "play", "pause", "loadedmetadata", "durationchange", "seeked",
                       "volumechange"];
const SHORTCUT_JUMPS = { j: -10, l: 10, ArrowLeft: -5, ArrowRight: 5 };
const TOGGLE_KEY = "k", COMMENT_KEY = "c", MUTE_KEY = "m", FULLSCREEN_KEY = "f";
// The timeline slider's keys: seconds to move, or where to go.
const SLIDER_STEPS = { ArrowLeft: -5, ArrowDown: -5, ArrowRight: 5, ArrowUp: 5,
                       PageDown: -30, PageUp: 30 };
// Single-key shortcuts can be turned off (WCAG 2.1.4); the choice is kept in this browser.
const SHORTCUTS_STORE = "video-review-shortcuts";
const SHORTCUTS_OFF = "off";
// Keys a focused control answers itself: Space presses a button, Enter follows a link.
const CONTROL_SELECTOR = "button, a[href], summary, select, input, textarea, [role=slider]";
const FULLSCREEN_LABEL = "Full screen", EXIT_FULLSCREEN_LABEL = "Exit full screen";
const PLAY_LABEL = "Play", PAUSE_LABEL = "Pause";
const PLAY_SYMBOL = "▶", PAUSE_SYMBOL = "❚❚";
const NO_DURATION = "–";
const DEFAULT_TITLE = "Submitted video";
const SDK_FAILED = "Cloudflare's player controls could not be loaded: the video plays, " +
  "but comments cannot move it; use the times shown in the list.";
const PLAY_FAILED = "The video could not be played in this browser. Try Chrome, Edge, " +
  "Firefox or Safari; if it does not play there either, the file is damaged: the student " +
  "should export it again as MP4 and upload the new file.";

let active = null;  // the page's player, which [data-seek] links move

/** Tell whether keys typed now go into a form field (shortcuts stay out of its way). */
export function isTyping(el) {
  if (!el) return false;
  const tag = el.tagName;
  return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (window.Stream) { resolve(); return; }
    const s = document.createElement("script");
    s.src = src; s.async = true; s.onload = resolve; s.onerror = reject;
    document.head.appendChild(s);
  });
}

function quietly(promise) {
  if (promise && promise.catch) promise.catch(() => {});  // autoplay refused: nothing to do
}

/** Return Cloudflare's player URL for a renewed token, starting where the viewer was
    (startTime in seconds) and playing only if they were playing. */
export function iframeUrl(url, resume) {
  const u = new URL(url, window.location.href);
  u.searchParams.set("startTime", String(Math.max(0, Math.floor(resume.t))));
  if (resume.paused) u.searchParams.delete("autoplay");
  else u.searchParams.set("autoplay", "true");
  return u.toString();
}

/* One player in `root` (an element with data-playback-url). Options: api (the page's
   ApiClient), keys (false: no page-wide shortcuts), title (the iframe's accessible name),
   onCommentKey, onMarker. */
export class Player {
  constructor(root, options = {}) {
    this.root = root;
    this.opts = options;
    this.api = options.api;
    this.video = root.querySelector("video");
    this.engine = null;            // the <video> element or the Cloudflare SDK player
    this.knownDuration = parseFloat(root.dataset.duration) || 0;
    this.markers = [];
    this.listeners = [];
    this.renewTimer = null;
    this.timeline = root.querySelector("#timeline");
    this.seekBar = root.querySelector("#timeline-seek");
    this.markerLayer = root.querySelector("#timeline-markers") || this.timeline;
    this.progress = root.querySelector("#timeline-progress");
    this.muteBtn = root.querySelector("#mute");
    this.volume = root.querySelector("#volume");
    this.fullscreenBtn = root.querySelector("#fullscreen");
    this.shortcutsBox = root.querySelector("#shortcuts-on");
    this.clock = root.querySelector("#clock");
    this.playBtn = root.querySelector("#play");
    this.errorBox = root.querySelector("#player-error");
    active = this;
    this._wireControls();
    this.load();
  }

  /** Stop renewing and let [data-seek] links go (the page shows another video). */
  destroy() {
    this.destroyed = true;
    clearTimeout(this.renewTimer);
    if (active === this) active = null;
  }

  /** Ask for a playback grant and play from it. */
  load() {
    return this.api.get(this.root.dataset.playbackUrl)
      .then((grant) => { if (!this.destroyed) this._apply(grant); })
      .catch((err) => this.showError(err.message));
  }

  _apply(grant) {
    if (grant.kind === GRANT_IFRAME) {
      this._useIframe(grant.url);
    } else {
      const resume = this.engine ? { t: this.currentTime(), paused: this.paused() } : null;
      this.engine = this.video;
      if (grant.thumbnail_url && !this.video.poster) this.video.poster = grant.thumbnail_url;
      if (grant.sound_only) this.video.setAttribute("aria-label", SOUND_ONLY_LABEL);
      this.video.src = grant.url;
      this._setTracks(grant.tracks || []);
      if (resume) {
        this.video.addEventListener("loadedmetadata", () => {
          this.seek(resume.t);
          if (!resume.paused) this.play();
        }, { once: true });
      }
      if (!this._videoWired) this._wireVideo();
    }
    this._scheduleRenew(grant.expires_at);
  }

  /* Show Cloudflare's player. A signed token is checked on every request the player makes,
     so a renewed grant means a new iframe URL: load it where the viewer was (startTime)
     and as they were (autoplay only when playing), then drive it through the SDK again. */
  _useIframe(url) {
    let resume = null;
    if (this.iframe) {
      resume = { t: this.currentTime(), paused: this.paused() };
      url = iframeUrl(url, resume);
    }
    const iframe = document.createElement("iframe");
    iframe.src = url;
    iframe.title = this.opts.title || DEFAULT_TITLE;
    iframe.allow = IFRAME_ALLOW;
    iframe.setAttribute("allowfullscreen", "");
    iframe.className = "player-iframe";
    (this.iframe || this.video).replaceWith(iframe);
    this.iframe = iframe;
    this.engine = null;
    this._resume = resume;  // what to report until the new player says where it is
    loadScript(CLOUDFLARE_SDK).then(() => {
      if (this.iframe !== iframe) return;  // renewed again meanwhile
      const engine = window.Stream(iframe);
      this.engine = engine;
      if (resume) {  // the URL asked already; this covers a pause meanwhile or blocked autoplay
        quietly(resume.paused ? engine.pause() : engine.play());
      }
      ENGINE_EVENTS.forEach((ev) => {
        engine.addEventListener(ev, () => {
          if (this.engine !== engine) return;
          if (this._resume && (ev === "seeked" || ev === "play" ||
                               (engine.currentTime || 0) > 0)) this._resume = null;
          this._tick();
        });
      });
    }).catch(() => this.showError(SDK_FAILED));
  }

  /* Captions this app serves, as <track>s (the grant signs their URLs); the language on
     show stays on show across renewals. Without native controls, a menu picks one. */
  _setTracks(tracks) {
    const video = this.video;
    let shown = "";
    Array.from(video.textTracks).forEach((t) => { if (t.mode === "showing") shown = t.language; });
    video.querySelectorAll("track").forEach((el) => el.remove());
    tracks.forEach((t) => {
      const el = document.createElement("track");
      el.kind = "captions";
      el.srclang = t.language;
      el.label = t.label;
      el.src = t.url;
      video.appendChild(el);
    });
    if (!video.controls) this._captionsMenu(tracks);
    this.showCaptions(tracks.some((t) => t.language === shown) ? shown : "");
  }

  /** Show the captions in `language` ("" for none). */
  showCaptions(language) {
    Array.from(this.video.textTracks).forEach((t) => {
      t.mode = language && t.language === language ? "showing" : "disabled";
    });
    if (this.captionsSelect) this.captionsSelect.value = language;
  }

  _captionsMenu(tracks) {
    const bar = this.root.querySelector(".controls");
    if (!bar) return;
    if (!this.captionsSelect) {
      const label = document.createElement("label");
      label.className = "speed-label";
      label.htmlFor = "captions-select";
      label.textContent = "Captions";
      const select = document.createElement("select");
      select.id = "captions-select";
      select.className = "speed";
      select.addEventListener("change", () => this.showCaptions(select.value));
      bar.append(label, select);
      this.captionsSelect = select;
      this.captionsLabel = label;
    }
    const menu = this.captionsSelect;
    menu.textContent = "";
    [{ language: "", label: "Off" }, ...tracks].forEach((t) => {
      const option = document.createElement("option");
      option.value = t.language;
      option.textContent = t.label;
      menu.appendChild(option);
    });
    menu.hidden = this.captionsLabel.hidden = !tracks.length;
  }

  _wireVideo() {
    this._videoWired = true;
    ENGINE_EVENTS.forEach((ev) => this.video.addEventListener(ev, () => this._tick()));
    this.video.addEventListener("error", () => {
      // An expired grant shows up as a media error: ask for a fresh one once.
      if (this._retried) { this.showError(PLAY_FAILED); return; }
      this._retried = true;
      this.load();
    });
    // Native controls toggle on click themselves; a second toggle would undo theirs.
    if (!this.video.controls) this.video.addEventListener("click", () => this.toggle());
  }

  _scheduleRenew(expiresAt) {
    clearTimeout(this.renewTimer);
    const when = Date.parse(expiresAt) - Date.now() - RENEW_BEFORE_MS;
    if (!Number.isFinite(when)) return;
    this.renewTimer = setTimeout(() => { this._retried = false; this.load(); },
      Math.max(MIN_RENEW_DELAY_MS, when));
  }

  _wireControls() {
    this.root.querySelectorAll("[data-jump]").forEach((btn) => {
      btn.addEventListener("click", () => this.jump(parseFloat(btn.dataset.jump)));
    });
    if (this.playBtn) this.playBtn.addEventListener("click", () => this.toggle());
    const speed = this.root.querySelector("#speed");
    if (speed) speed.addEventListener("change", () => this.setRate(parseFloat(speed.value)));
    if (this.seekBar) this._wireSeekBar(this.seekBar);
    if (this.muteBtn) this.muteBtn.addEventListener("click", () => this.toggleMute());
    if (this.volume) {
      this.volume.addEventListener("input", () => this.setVolume(parseFloat(this.volume.value)));
    }
    if (this.fullscreenBtn) {
      this.fullscreenBtn.addEventListener("click", () => this.toggleFullscreen());
      document.addEventListener("fullscreenchange", () => this._tick());
    }
    if (this.shortcutsBox) {
      this.shortcutsBox.checked = window.localStorage.getItem(SHORTCUTS_STORE) !== SHORTCUTS_OFF;
      this.shortcutsBox.addEventListener("change", () => {
        if (this.shortcutsBox.checked) window.localStorage.removeItem(SHORTCUTS_STORE);
        else window.localStorage.setItem(SHORTCUTS_STORE, SHORTCUTS_OFF);
      });
    }
    document.addEventListener(CAPTIONS_CHANGED, () => {
      if (!this.destroyed && this.engine === this.video) this.load();  // new <track> list
    });
    if (this.opts.keys !== false) {
      document.addEventListener("keydown", (ev) => { if (!this.destroyed) this._onKey(ev); });
    }
  }

  /** Tell whether single-key shortcuts are on (the grader may turn them off). */
  shortcutsOn() {
    return window.localStorage.getItem(SHORTCUTS_STORE) !== SHORTCUTS_OFF;
  }

  /* Shortcuts answer only while focus is in the player, never in a field, and never take a
     key the focused control answers itself (Space on a button presses that button). */
  _onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || isTyping(ev.target)) return;
    if (!this.root.contains(ev.target) || !this.shortcutsOn()) return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if ((key === " " || key === "Enter") && ev.target.closest(CONTROL_SELECTOR)) return;
    if (ev.target.closest("[role=slider]") && key in SLIDER_STEPS) return;  // the slider's own
    let handled = true;
    if (key === TOGGLE_KEY || (key === " " && ev.target === this.video)) this.toggle();
    else if (key in SHORTCUT_JUMPS) this.jump(SHORTCUT_JUMPS[key]);
    else if (key === MUTE_KEY) this.toggleMute();
    else if (key === FULLSCREEN_KEY && this.fullscreenBtn) this.toggleFullscreen();
    else if (key === COMMENT_KEY && this.opts.onCommentKey) this.opts.onCommentKey();
    else handled = false;
    if (handled) ev.preventDefault();
  }

  /* The timeline: click or drag to a moment, or move with the arrow keys, Page Up/Down,
     Home and End (a slider, WAI-ARIA APG). */
  _wireSeekBar(bar) {
    const seekTo = (ev) => {
      const rect = bar.getBoundingClientRect();
      const d = this.duration();
      if (d && rect.width) {
        this.seek(Math.min(1, Math.max(0, (ev.clientX - rect.left) / rect.width)) * d);
      }
    };
    bar.addEventListener("pointerdown", (ev) => {
      bar.setPointerCapture(ev.pointerId);
      this._dragging = true;
      seekTo(ev);
    });
    bar.addEventListener("pointermove", (ev) => { if (this._dragging) seekTo(ev); });
    ["pointerup", "pointercancel"].forEach((type) => bar.addEventListener(type, () => {
      this._dragging = false;
    }));
    bar.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key in SLIDER_STEPS) this.jump(SLIDER_STEPS[ev.key]);
      else if (ev.key === "Home") this.seek(0);
      else if (ev.key === "End") this.seek(this.duration());
      else return;
      ev.preventDefault();
    });
  }

  muted() { return !!(this.engine && this.engine.muted); }

  toggleMute() {
    if (!this.engine) return;
    this.engine.muted = !this.muted();
    this._tick();
  }

  setVolume(level) {
    if (!this.engine) return;
    this.engine.volume = level;
    this.engine.muted = level === 0;
    this._tick();
  }

  toggleFullscreen() {
    if (document.fullscreenElement) quietly(document.exitFullscreen());
    else if (this.root.requestFullscreen) quietly(this.root.requestFullscreen());
  }

  /** Call `fn(seconds)` whenever the position or state changes. */
  on(fn) { this.listeners.push(fn); }

  _tick() {
    const t = this.currentTime(), d = this.duration();
    if (this.clock) this.clock.textContent = `${formatDuration(t)} / ${d ? formatDuration(d) : NO_DURATION}`;
    if (this.progress && d) this.progress.style.width = Math.min(100, (t / d) * 100) + "%";
    if (this.seekBar) {
      this.seekBar.setAttribute("aria-valuenow", String(Math.round(t * 10) / 10));
      if (d) this.seekBar.setAttribute("aria-valuemax", String(Math.round(d * 10) / 10));
      this.seekBar.setAttribute("aria-valuetext",
        `${formatDuration(t)} of ${d ? formatDuration(d) : NO_DURATION}`);
    }
    if (this.muteBtn) {
      const muted = this.muted();
      this.muteBtn.setAttribute("aria-pressed", muted ? "true" : "false");
    }
    if (this.fullscreenBtn) {
      this.fullscreenBtn.textContent = document.fullscreenElement === this.root
        ? EXIT_FULLSCREEN_LABEL : FULLSCREEN_LABEL;
    }
    if (this.playBtn) {
      const paused = this.paused();
      this.playBtn.textContent = paused ? PLAY_SYMBOL : PAUSE_SYMBOL;
      this.playBtn.setAttribute("aria-label", paused ? PLAY_LABEL : PAUSE_LABEL);
    }
    if (d && d !== this._markersFor) this.renderMarkers();
    this.listeners.forEach((fn) => fn(t));
  }

  currentTime() {
    if (this._resume) return this._resume.t;
    return this.engine ? (this.engine.currentTime || 0) : 0;
  }

  duration() {
    const d = this.engine && this.engine.duration;
    return (d && Number.isFinite(d)) ? d : this.knownDuration;
  }

  paused() {
    if (this._resume) return this._resume.paused;
    return !this.engine || this.engine.paused !== false;
  }

  play() {
    if (this.engine) quietly(this.engine.play());
  }

  pause() {
    if (this._resume) this._resume.paused = true;
    if (this.engine) this.engine.pause();
  }

  toggle() {
    if (this.paused()) this.play(); else this.pause();
  }

  seek(t) {
    if (!this.engine) return;
    this._resume = null;
    const d = this.duration();
    this.engine.currentTime = Math.max(0, d ? Math.min(t, d) : t);
    this._tick();
  }

  jump(delta) { this.seek(this.currentTime() + delta); }

  setRate(rate) {
    if (this.engine && "playbackRate" in this.engine) this.engine.playbackRate = rate;
  }

  /** Show these comments ({id, at_seconds, body}) as markers on the timeline. */
  setMarkers(markers) {
    this.markers = markers || [];
    this.renderMarkers();
  }

  renderMarkers() {
    if (!this.markerLayer) return;
    const d = this.duration();
    this._markersFor = d;
    this.markerLayer.querySelectorAll(".marker").forEach((m) => m.remove());
    if (!d) return;
    this.markers.forEach((m) => {
      const at = formatDuration(m.at_seconds);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "marker";
      b.dataset.commentId = m.id;
      b.style.left = Math.min(100, (m.at_seconds / d) * 100) + "%";
      b.title = `${at} — ${m.body}`;
      b.setAttribute("aria-label", `Comment at ${at}: ${m.body}`);
      b.addEventListener("click", () => {
        this.seek(m.at_seconds);
        if (this.opts.onMarker) this.opts.onMarker(m);
      });
      this.markerLayer.appendChild(b);
    });
  }

  /** Show an error under the player (an error only: the box is role=alert). */
  showError(message) {
    if (!this.errorBox) return;
    this.errorBox.textContent = message;
    this.errorBox.hidden = false;
  }
}

/** Make [data-seek] buttons inside `root` seek `player`, else the page's player (the
    student's preview: a <video>, or Cloudflare's iframe through the SDK). */
export function bindSeekLinks(root, player = null) {
  root.addEventListener("click", (ev) => {
    const btn = ev.target.closest("[data-seek]");
    if (!btn) return;
    const target = player || active;
    if (!target) return;
    target.seek(parseFloat(btn.dataset.seek));
    if (!player) {
      target.root.scrollIntoView({ block: "nearest" });
      (target.iframe || target.video).focus();
    }
  });
}
