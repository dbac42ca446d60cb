"""Every iframe in the templates asks for fullscreen through `allow` alone: with the legacy
`allowfullscreen` beside `allow="...fullscreen"` Chromium warns on every page load."""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
IFRAME = re.compile(r"<iframe\b[^>]*>", re.S)


def iframes() -> list[tuple[str, str]]:
    return [(str(path.relative_to(TEMPLATES)), tag) for path in sorted(TEMPLATES.rglob("*.html"))
            for tag in IFRAME.findall(path.read_text(encoding="utf-8"))]


def test_the_admin_player_frame_is_among_those_checked():
    assert any(name == "admin/video.html" for name, _ in iframes())


def test_no_iframe_has_allowfullscreen_beside_allow():
    both = [name for name, tag in iframes()
            if re.search(r"\ballowfullscreen\b", tag) and re.search(r'\ballow="[^"]*fullscreen', tag)]
    assert both == []
