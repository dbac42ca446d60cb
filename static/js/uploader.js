/* The student's uploader: file checks, progress, pause/resume, retries, resume after reload,
   status polling, the preview player and the attempts history. The bytes move through a
   transport object chosen by the server's answer (`method: "tus"` or `"multipart"`); see
   tus-transport.js for the interface. Works in an LMS iframe: the launch id goes in a
   header, never only in a cookie. The preview is player.js's Player (load it first). */
(function () {
  "use strict";
  var VU = (window.VideoUpload = window.VideoUpload || { transports: {} });
  VU.registerTransport = function (method, transport) { VU.transports[method] = transport; };

  var page = JSON.parse(document.getElementById("page-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var state = page.state;
  var launchHeaders = { "X-LTI-Launch": page.launch_id };
  var ctx = {
    userId: page.user_id, assignmentId: page.assignment_id, endpoint: page.urls.tus,
    chunkSize: page.chunk_size || null, headers: launchHeaders
  };
  var POLL_MS = [1000, 1500, 2000, 3000, 5000];

  var current = null;       // {controller, file, videoId, statusUrl, completeUrl}
  var samples = [];         // [time ms, bytes] for speed
  var pollTimer = null;

  // ---------- small helpers ----------
  function humanSize(n) {
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][1]) {
        var v = n / units[i][1];
        return (v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)) + " " + units[i][0];
      }
    }
    return n + " bytes";
  }
  function humanDuration(s) {
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return h + " h " + (m ? m + " min" : "");
    if (m) return m + " min" + (sec ? " " + sec + " s" : "");
    return sec + " s";
  }
  function formatTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  function show(el, on) { el.hidden = !on; }
  function notice(kind, text) {
    var n = $("notice");
    n.className = "alert alert-" + kind;
    n.textContent = text;
    show(n, !!text);
  }
  function api(method, url, body) {
    var opts = { method: method, headers: Object.assign({ "Accept": "application/json",
      "X-Requested-With": "fetch" }, launchHeaders), credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error((data.error && data.error.message) || ("HTTP " + res.status));
          err.status = res.status;
          err.code = data.error && data.error.code;
          throw err;
        }
        return data;
      });
    }, function () {
      var err = new Error("The network connection was lost. Check your connection and try again.");
      err.status = 0;
      throw err;
    });
  }
  function videoUrl(id, what) { return page.urls.videos + "/" + id + "/" + what; }
  function explain(err) {
    if (err.status === 401) {
      return "Your session has expired. Open this assignment again from your course page; " +
        "an unfinished upload continues where it stopped.";
    }
    return err.message;
  }

  // ---------- checks before any byte moves ----------
  function checkFile(file) {
    var ext = (file.name.split(".").pop() || "").toLowerCase();
    var formats = state.limits.formats;
    if (file.name.indexOf(".") < 0 || formats.indexOf(ext) < 0) {
      return "“" + file.name + "” is not an accepted video format. Accepted: " +
        formats.map(function (f) { return f.toUpperCase(); }).join(", ") + ".";
    }
    if (file.size === 0) return "The file is empty. Please choose the video file itself.";
    if (file.size > state.limits.max_bytes) {
      return "The file is " + humanSize(file.size) + ", larger than the " +
        humanSize(state.limits.max_bytes) + " this assignment accepts. Please compress or " +
        "shorten the video and try again.";
    }
    return null;
  }

  // ---------- rendering ----------
  var STATUS_TEXT = {
    pending: "Waiting for the upload to start", uploading: "Upload not finished",
    processing: "Checking your video…", ready: "Ready", error: "Not accepted",
    deleted: "Cancelled"
  };

  var replacing = false;

  function render() {
    var attempts = state.attempts || [];
    var latest = attempts[0];
    var currentVideo = attempts.filter(function (a) { return a.is_current; })[0];
    var busy = !!current;
    var latestOpen = !!latest && (latest.status === "pending" || latest.status === "uploading");
    var latestChecking = !!latest && latest.status === "processing";
    var latestFailed = !!latest && latest.status === "error" && latest !== currentVideo;
    var panel = !busy && (latestChecking || latestFailed || !!currentVideo);
    show($("current"), panel);
    if (panel) renderStatus(latestChecking || latestFailed ? latest : currentVideo, currentVideo);
    var wantsUploader = state.can_upload && !busy && !latestChecking &&
      (!currentVideo || latestOpen || latestFailed || replacing);
    show($("uploader"), wantsUploader);
    show($("replace-btn"), state.can_upload && !busy && !!currentVideo && !wantsUploader);
    var closed = $("closed");
    closed.textContent = state.can_upload ? "" : (state.assignment.locked
      ? "This assignment is closed: videos can no longer be submitted or replaced."
      : (state.submission && state.submission.graded
        ? "Your submission has been graded, so its video can no longer be replaced." : ""));
    show(closed, !!closed.textContent);
    renderUnfinished(attempts);
    renderHistory(attempts);
  }

  function renderStatus(v, currentVideo) {
    var line = $("current-status");
    var text = STATUS_TEXT[v.status] || v.status;
    if (v.status === "ready") {
      text = "Your video “" + v.filename + "” is submitted" +
        (v.duration_seconds ? " (" + humanDuration(v.duration_seconds) + ")" : "") + ".";
    } else if (v.status === "error") {
      text = "“" + v.filename + "” was not accepted: " + (v.error_message || "unknown problem.");
      if (currentVideo) text += " Your earlier video “" + currentVideo.filename + "” is still your submission.";
    } else if (v.status === "processing") {
      text = "Upload complete. Checking your video “" + v.filename + "”…";
    }
    line.textContent = text;
    line.className = "status-line status-" + v.status;
    line.dataset.status = v.status;
    if (currentVideo && currentVideo.status === "ready") loadPlayer(currentVideo.id);
    else show($("player-wrap"), false);
  }

  function renderUnfinished(attempts) {
    var el = $("unfinished");
    var open = attempts.filter(function (a) {
      return (a.status === "uploading" || a.status === "pending") && a.received_bytes > 0;
    })[0];
    if (open && !current) {
      var pct = Math.floor(100 * open.received_bytes / open.size_bytes);
      el.textContent = "Your upload of “" + open.filename + "” stopped at " + pct + " %. " +
        "Choose the same file again to continue where it stopped.";
      show(el, true);
    } else {
      show(el, false);
    }
  }

  function renderHistory(attempts) {
    var table = $("history");
    var body = table.querySelector("tbody");
    body.textContent = "";
    attempts.forEach(function (a) {
      var tr = document.createElement("tr");
      var status = STATUS_TEXT[a.status] || a.status;
      if (a.is_current) status += " (submitted)";
      var cells = ["#" + a.attempt, a.filename || "", a.size_bytes ? humanSize(a.size_bytes) : "",
        status, formatTime(a.uploaded_at || a.created_at)];
      cells.forEach(function (text, i) {
        var td = document.createElement("td");
        if (i === 3) {
          var badge = document.createElement("span");
          badge.className = "badge badge-" + a.status;
          badge.textContent = text;
          td.appendChild(badge);
          if (a.status === "error" && a.error_message) {
            var why = document.createElement("div");
            why.className = "small muted";
            why.textContent = a.error_message;
            td.appendChild(why);
          }
        } else {
          td.textContent = text;
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    show(table, attempts.length > 0);
    show($("history-title"), attempts.length > 0);
  }

  // ---------- preview player: the review page's Player (player.js), which renews the signed
  // grant before it expires, for a <video> and for Cloudflare's iframe alike ----------
  var preview = null;       // {videoId, player}
  var previewVideo = $("player").cloneNode(false);
  function loadPlayer(videoId) {
    show($("player-wrap"), true);
    if (preview && preview.videoId === videoId) return;
    if (preview) preview.player.destroy();
    var stage = $("player-stage");
    stage.textContent = "";
    stage.appendChild(previewVideo.cloneNode(false));
    show($("player-error"), false);
    $("player-wrap").dataset.playbackUrl = videoUrl(videoId, "playback");
    preview = { videoId: videoId, player: new window.VAPlayer.Player($("player-wrap"), {
      launch: page.launch_id, keys: false, title: "Preview of your submitted video" }) };
  }

  // ---------- status polling ----------
  function refreshState() {
    return api("GET", page.urls.uploads).then(function (data) { state = data; render(); });
  }
  function poll(videoId, round) {
    clearTimeout(pollTimer);
    api("GET", videoUrl(videoId, "status")).then(function (v) {
      if (v.final) {
        refreshState().then(function () {
          if (v.status === "ready") notice("success", "Your video is submitted.");
          else if (v.status === "error") notice("error", v.error_message || "Your video was not accepted.");
        });
        return;
      }
      state.attempts = [v].concat((state.attempts || []).filter(function (a) { return a.id !== v.id; }));
      render();
      pollTimer = setTimeout(function () { poll(videoId, round + 1); },
        POLL_MS[Math.min(round, POLL_MS.length - 1)]);
    }).catch(function (err) {
      notice("error", explain(err));
      if (err.status !== 401) {
        pollTimer = setTimeout(function () { poll(videoId, round + 1); }, 5000);
      }
    });
  }

  // ---------- progress ----------
  function progressStart(file) {
    samples = [];
    $("progress-file").textContent = file.name;
    $("progress-size").textContent = humanSize(file.size);
    setProgress(0, file.size);
    show($("progress-area"), true);
    show($("pause-btn"), true);
    show($("resume-btn"), false);
    $("cancel-btn").disabled = false;
  }
  function setProgress(sent, total) {
    var pct = total ? Math.floor((100 * sent) / total) : 0;
    var bar = $("progress");
    bar.setAttribute("aria-valuenow", String(pct));
    bar.setAttribute("aria-valuetext", pct + " percent, " + humanSize(sent) + " of " + humanSize(total));
    $("progress-fill").style.width = pct + "%";
    $("progress-percent").textContent = pct + " %";
    var now = Date.now();
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
    var first = samples[0];
    var rate = now > first[0] ? ((sent - first[1]) * 1000) / (now - first[0]) : 0;
    $("progress-speed").textContent = rate > 0 ? humanSize(rate) + "/s" : "";
    $("progress-eta").textContent = rate > 0 && sent < total
      ? "about " + humanDuration((total - sent) / rate) + " left" : "";
  }

  // ---------- the upload itself ----------
  function callbacks(videoId) {
    return {
      onProgress: function (sent, total) { setProgress(sent, total); notice("", ""); },
      onRetry: function (delayMs) {
        notice("warning", "The connection was interrupted. Retrying" +
          (delayMs ? " in " + Math.round(delayMs / 1000) + " s" : "") + "…");
      },
      onSuccess: function () { finished(videoId); },
      onError: function (failure) { failed(videoId, failure); }
    };
  }

  function transportFor(method) {
    var t = VU.transports[method];
    if (!t || (t.supported && !t.supported())) {
      throw new Error("This browser cannot upload here (the uploader for '" + method +
        "' is missing). Please reload the page, or try another browser.");
    }
    return t;
  }

  function begin(file) {
    notice("", "");
    var problem = checkFile(file);
    if (problem) { notice("error", problem); return; }
    var transport;
    try { transport = transportFor(page.upload_method); } catch (e) { notice("error", e.message); return; }
    var finder = transport.findPrevious ? transport.findPrevious(file, ctx) : Promise.resolve([]);
    finder.catch(function () { return []; }).then(function (previous) {
      var open = previous.filter(function (p) {
        return (state.attempts || []).some(function (a) {
          return a.id === p.videoId && (a.status === "pending" || a.status === "uploading");
        });
      })[0];
      if (open) offerResume(file, transport, open, previous); else startNew(file, previous);
    });
  }

  function offerResume(file, transport, previous, all) {
    var attempt = state.attempts.filter(function (a) { return a.id === previous.videoId; })[0];
    var pct = attempt && attempt.size_bytes ? Math.floor(100 * (attempt.received_bytes || 0) / attempt.size_bytes) : 0;
    $("resume-text").textContent = "You already started uploading “" + file.name + "” (" +
      pct + " % arrived). Continue where it stopped, or start over?";
    show($("resume-offer"), true);
    $("resume-yes").focus();
    $("resume-yes").onclick = function () {
      show($("resume-offer"), false);
      run(file, previous.videoId, function (cb) { return transport.resume(file, previous, ctx, cb); });
    };
    $("resume-no").onclick = function () {
      show($("resume-offer"), false);
      startNew(file, all);
    };
  }

  function startNew(file, stale) {
    var forget = (stale || []).map(function (p) {
      var t = VU.transports[page.upload_method];
      return t && t.forget ? t.forget(p) : null;
    });
    Promise.all(forget).catch(function () {}).then(function () {
      return api("POST", page.urls.uploads, { filename: file.name, size_bytes: file.size,
        content_type: file.type || "" });
    }).then(function (ticket) {
      var transport = transportFor(ticket.method);
      run(file, ticket.video_id, function (cb) { return transport.start(file, ticket, ctx, cb); });
    }).catch(function (err) {
      notice("error", err.status === 413 || err.status === 415 || err.status === 403
        ? err.message : "The server refused the upload: " + explain(err));
    });
  }

  function run(file, videoId, launch) {
    current = { file: file, videoId: videoId };
    render();
    progressStart(file);
    current.controller = launch(callbacks(videoId));
  }

  function finished(videoId) {
    setProgress(current ? current.file.size : 1, current ? current.file.size : 1);
    show($("pause-btn"), false);
    $("cancel-btn").disabled = true;
    notice("info", "Upload complete. Checking your video…");
    api("POST", page.urls.uploads + "/" + videoId + "/complete").catch(function () {})
      .then(function () {
        current = null;
        replacing = false;
        show($("progress-area"), false);
        poll(videoId, 0);
      });
  }

  function failed(videoId, failure) {
    show($("pause-btn"), false);
    var msg;
    if (failure.kind === "network") {
      msg = "The network connection was lost. Your upload is paused; it continues when " +
        "you press Resume (or by itself when the connection returns).";
      show($("resume-btn"), true);
      window.addEventListener("online", onlineAgain, { once: true });
    } else if (failure.status === 401) {
      msg = explain({ status: 401 });
    } else if (failure.status === 404 || failure.status === 410) {
      msg = "This upload expired on the server. Please start the upload again.";
      resetUploader();
    } else if (failure.status === 413) {
      msg = failure.message || "The file is too large for this assignment.";
      resetUploader();
    } else if (failure.status >= 500) {
      msg = "The server had a problem receiving your video. Press Resume to try again.";
      show($("resume-btn"), true);
    } else {
      msg = "The server refused the upload: " + (failure.message || "HTTP " + failure.status);
      resetUploader();
    }
    notice("error", msg);
  }

  function onlineAgain() {
    if (current && current.controller && !$("resume-btn").hidden) $("resume-btn").click();
  }

  function resetUploader() {
    current = null;
    show($("progress-area"), false);
    refreshState();
  }

  // ---------- controls ----------
  $("pause-btn").addEventListener("click", function () {
    if (!current) return;
    current.controller.pause();
    show($("pause-btn"), false);
    show($("resume-btn"), true);
    $("resume-btn").focus();
    notice("info", "Upload paused. Press Resume to continue.");
  });
  $("resume-btn").addEventListener("click", function () {
    if (!current) return;
    notice("", "");
    samples = [];
    current.controller.resume();
    show($("resume-btn"), false);
    show($("pause-btn"), true);
    $("pause-btn").focus();
  });
  $("cancel-btn").addEventListener("click", function () {
    if (!current) return;
    var c = current;
    Promise.resolve(c.controller.cancel()).catch(function () {}).then(function () {
      notice("info", "Upload cancelled.");
      resetUploader();
    });
  });
  $("replace-btn").addEventListener("click", function () {
    replacing = true;
    render();
    $("dropzone").focus();
  });

  var input = $("file-input");
  var zone = $("dropzone");
  zone.addEventListener("click", function () { input.click(); });
  zone.addEventListener("keydown", function (e) {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  input.addEventListener("change", function () {
    if (input.files && input.files[0]) begin(input.files[0]);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (e) {
    var files = e.dataTransfer && e.dataTransfer.files;
    if (!files || !files.length) return;
    if (files.length > 1) { notice("error", "Please drop one video file at a time."); return; }
    begin(files[0]);
  });
  window.addEventListener("beforeunload", function (e) {
    if (current && current.controller && $("resume-btn").hidden) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  document.querySelectorAll("[data-local-time]").forEach(function (el) {
    el.textContent = formatTime(el.getAttribute("datetime"));
  });
  document.querySelectorAll("[data-duration]").forEach(function (el) {
    el.textContent = humanDuration(parseInt(el.getAttribute("data-duration"), 10));
  });

  render();
  var processing = (state.attempts || []).filter(function (a) { return a.status === "processing"; })[0];
  if (processing) poll(processing.id, 0);
  VU.page = { state: function () { return state; } };
})();
