"""The review page plays a Cloudflare Stream video in real Chromium and renews its signed
token before it expires: the player reloads with the new token where the grader was
(startTime) and as they were (playing or paused), and an unsaved comment survives.

Cloudflare's player page and its SDK are stood in for by a small fake served through
Playwright's routing: the fake player keeps a clock, honours `startTime` and `autoplay`,
and talks to the fake SDK over postMessage as the real one does.
"""
from __future__ import annotations

import json

import pytest
import responses

from lti_tool.extensions import db
from tests import cloudflare_fake as cf
from tests.browser.stream_fakes import stream_page, token_and_query  # noqa: F401
from tests.factories import Classroom
from tests.review_fixtures import ready_video

UID = "ea95132c15732412d22c1476fa83f27a"
# Renewal happens a minute before expiry, but at least 5 s after the grant: 61 s -> ~5 s.
TTL_SECONDS = 61


@pytest.fixture
def app_config(app_config):
    app_config.update(cf.settings(PLAYBACK_URL_TTL_SECONDS=TTL_SECONDS))
    return app_config


@pytest.fixture
def review_url(app, live_server):
    with app.app_context():
        room = Classroom()
        video = ready_video(room, duration=600.0)
        video.backend, video.storage_uid = "cloudflare", UID
        db.session.commit()
        launch = room.launch(room.instructor)
        url = f"{live_server.url}/review/students/{room.student.id}?launch={launch.id}"
        db.session.remove()
    return url


def iframe_src(page) -> str:
    return page.get_attribute("#player-stage iframe", "src")


def wait_for_new_src(page, old: str) -> str:
    page.wait_for_function(
        "old => { const f = document.querySelector('#player-stage iframe');"
        " return f && f.src !== old; }", arg=old, timeout=20000)
    return iframe_src(page)


CLOCK_SECONDS = ("(() => { const [m, s] = document.getElementById('clock').textContent"
                 ".split(' / ')[0].split(':').map(Number); return m * 60 + s; })()")


def test_token_renewal_keeps_the_position_play_state_and_unsaved_comment(stream_page, review_url):
    page = stream_page
    page.goto(review_url)
    first = iframe_src(page)
    first_claims, first_query = token_and_query(first)
    assert first_claims["sub"] == UID and "startTime" not in first_query
    page.wait_for_function("() => document.getElementById('clock').textContent.includes('10:00')")

    # Jump to 0:20 with the keyboard and play.
    page.locator("#play").focus()
    page.keyboard.press("l")
    page.keyboard.press("l")
    page.wait_for_function("() => document.getElementById('clock').textContent.startsWith('0:20')")
    page.keyboard.press("k")
    page.wait_for_function(
        "() => document.getElementById('play').getAttribute('aria-label') === 'Pause'")

    second = wait_for_new_src(page, first)
    claims, query = token_and_query(second)
    assert claims["sub"] == UID and claims["exp"] > first_claims["exp"]
    assert 20 <= int(query["startTime"]) <= 30  # where the grader was, not 0:00
    assert query["autoplay"] == "true"  # it was playing, so it keeps playing
    # The new player goes on from there: the clock never falls back to 0:00.
    page.wait_for_timeout(300)
    assert page.evaluate(CLOCK_SECONDS) >= 20
    assert page.get_attribute("#play", "aria-label") == "Pause"

    # Start a comment (which pauses) and leave it unsaved across the next renewal.
    page.locator("#play").focus()  # shortcuts answer while the player has focus
    page.keyboard.press("c")
    box = page.locator("#comment-body")
    box.type("Lovely transition here")
    page.wait_for_function(
        "() => document.getElementById('play').getAttribute('aria-label') === 'Play'")
    paused_at = page.evaluate(CLOCK_SECONDS)

    third = wait_for_new_src(page, second)
    _, query = token_and_query(third)
    assert "autoplay" not in query  # paused stays paused
    assert abs(int(query["startTime"]) - paused_at) <= 1
    assert box.is_visible() and box.input_value() == "Lovely transition here"
    page.wait_for_timeout(500)  # the new player has reported in; still paused, same place
    assert page.evaluate(CLOCK_SECONDS) == paused_at
    assert page.get_attribute("#play", "aria-label") == "Play"


# --- the captions panel ---------------------------------------------------------------------

def test_captions_panel_uploads_generates_and_deletes(stream_page, review_url, tmp_path):
    page = stream_page
    captions_url = f"{cf.STREAM}/{UID}/captions"
    held: dict[str, dict] = {}

    def listing(request):
        return 200, {}, json.dumps(cf.envelope(list(held.values())))

    def put(language, status="ready", generated=False):
        def callback(request):
            held[language] = {"language": language, "label": language, "generated": generated,
                              "status": status}
            return 200, {}, json.dumps(cf.envelope(held[language]))
        return callback

    def remove(request):
        held.pop(request.url.rsplit("/", 1)[1], None)
        return 200, {}, '{"success": true, "result": ""}'

    vtt = tmp_path / "talk.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nHello, class.\n")
    srt = tmp_path / "talk.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:04,000\nHello\n")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add_callback(responses.GET, captions_url, callback=listing)
        api.add_callback(responses.PUT, f"{captions_url}/en", callback=put("en"))
        api.add_callback(responses.POST, f"{captions_url}/fr/generate",
                         callback=put("fr", "inprogress", True))
        api.add_callback(responses.DELETE, f"{captions_url}/en", callback=remove)
        page.goto(review_url)
        panel = page.locator("#captions-panel")
        page.locator("#captions-empty").wait_for()

        # A file that is not WebVTT is refused with the server's explanation.
        page.set_input_files("#captions-file", str(srt))
        page.locator("#captions-upload button[type=submit]").click()
        page.wait_for_selector("#captions-error:not([hidden])")
        assert "first line must be WEBVTT" in page.inner_text("#captions-error")

        # Keyboard: choose the language, the file, then Enter on the button.
        page.select_option("#captions-upload-language", "en")
        page.set_input_files("#captions-file", str(vtt))
        page.locator("#captions-upload button[type=submit]").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#captions-list li[data-language=en]")
        assert page.inner_text("#captions-status") == "English captions uploaded."
        assert page.locator("#captions-error").is_hidden()
        assert "Ready" in page.inner_text("#captions-list li[data-language=en]")

        page.select_option("#captions-generate-language", "fr")
        page.locator("#captions-generate button[type=submit]").click()
        page.wait_for_selector("#captions-list li[data-language=fr]")
        assert "Generating" in page.inner_text("#captions-list li[data-language=fr]")

        page.once("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name="Delete English captions").click()
        page.wait_for_selector("#captions-list li[data-language=en]", state="detached")
        assert page.inner_text("#captions-status") == "English captions deleted."
        assert "en" not in held and "fr" in held
