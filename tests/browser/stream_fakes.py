"""Stand-ins for Cloudflare Stream's player page and its player SDK, for Chromium tests.

The fake player keeps a clock, honours `startTime` and `autoplay`, and talks to the fake
SDK over postMessage as the real one does; `stream_page` routes both to the page, and
`token_and_query` reads a player URL's signed token and query.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from tests import cloudflare_fake as cf

SDK_URL = "https://embed.cloudflarestream.com/**"

FAKE_PLAYER = """<!doctype html><html><body style="background:#000">
<script>
var q = new URLSearchParams(location.search);
var state = {t: parseFloat(q.get("startTime") || "0"), paused: q.get("autoplay") !== "true",
             duration: 600};
var last = performance.now();
function send(type) { parent.postMessage({fake: "stream", type: type, state: state}, "*"); }
setInterval(function () {
  var now = performance.now();
  if (!state.paused) state.t += (now - last) / 1000;
  last = now;
  send("timeupdate");
}, 100);
window.addEventListener("message", function (e) {
  var m = e.data || {};
  if (m.cmd === "play") { state.paused = false; send("play"); }
  if (m.cmd === "pause") { state.paused = true; send("pause"); }
  if (m.cmd === "seek") { state.t = m.t; send("seeked"); }
});
send("loadedmetadata");
</script></body></html>"""

FAKE_SDK = """window.Stream = function (iframe) {
  var listeners = {}, st = {t: 0, paused: true, duration: 0};
  function fire(type) { (listeners[type] || []).forEach(function (f) { f(); }); }
  window.addEventListener("message", function (e) {
    var m = e.data;
    if (e.source !== iframe.contentWindow || !m || m.fake !== "stream") return;
    st = m.state;
    fire(m.type);
  });
  function send(msg) { if (iframe.contentWindow) iframe.contentWindow.postMessage(msg, "*"); }
  return {
    get currentTime() { return st.t; },
    set currentTime(v) { st.t = v; send({cmd: "seek", t: v}); },
    get paused() { return st.paused; },
    get duration() { return st.duration; },
    playbackRate: 1,
    play: function () { st.paused = false; send({cmd: "play"}); return Promise.resolve(); },
    pause: function () { st.paused = true; send({cmd: "pause"}); },
    addEventListener: function (ev, f) { (listeners[ev] = listeners[ev] || []).push(f); }
  };
};"""


@pytest.fixture
def stream_page(page):
    """The page, with Cloudflare's player and SDK answered by the fakes."""
    page.route(f"https://{cf.SUBDOMAIN}/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body=FAKE_PLAYER))
    page.route(SDK_URL, lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=FAKE_SDK))
    return page


def token_and_query(src: str) -> tuple[dict, dict]:
    parts = urlsplit(src)
    assert parts.netloc == cf.SUBDOMAIN
    token = parts.path.strip("/").split("/")[0]
    claims = jwt.decode(token, options={"verify_signature": False})
    return claims, {k: v[0] for k, v in parse_qs(parts.query).items()}
