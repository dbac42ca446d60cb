"""Accessibility checks and screenshots for browser tests.

`assert_accessible(page, state_name)` runs axe-core (npm, from node_modules: it is a test
tool, never served) inside the page and fails on any serious or critical violation.
The script is handed to the page through Playwright's `evaluate`, which runs in the page's
JavaScript world over the DevTools protocol: the page's Content-Security-Policy stays on
(axe itself needs no eval), so a page that breaks the policy still fails its test.

`snapshot(page, name)` writes docs/img/<name>-1280.png and docs/img/<name>-390.png (desktop
and phone widths), the pictures the docs show; at 390 px it also checks that the page does
not scroll sideways.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
IMAGES = ROOT / "docs" / "img"
FAILING_IMPACTS = ("serious", "critical")
WIDTHS = (1280, 390)
PAGE_HEIGHT = 900

# Run the rules for WCAG 2.0/2.1 A and AA, axe's best practices and its experimental rules
# (label-content-name-mismatch, WCAG 2.5.3, is one); report only what fails.
RUN_AXE = """async () => {
  const result = await window.axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice",
                                     "experimental"]},
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""
# Elements marked hidden that are drawn all the same (a class's display rule beat `hidden`).
SHOWN_THOUGH_HIDDEN = """() => [...document.querySelectorAll("[hidden]")]
  .filter((e) => getComputedStyle(e).display !== "none")
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""))"""
SIDEWAYS_SCROLL = ("() => document.documentElement.scrollWidth"
                   " - document.documentElement.clientWidth")

# The innermost elements that reach past the viewport's right edge (to say what to fix).
TOO_WIDE = """(width) => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > width
          && ![...e.children].some((c) => c.getBoundingClientRect().right > width))
  .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                        + (e.className ? "." + e.className : ""))"""


@lru_cache(maxsize=1)
def axe_source() -> str:
    """Return axe-core's browser build (fail with the fix when npm packages are missing)."""
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run `npm ci` (the setup does it).")
    return AXE.read_text(encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """Run axe-core in the page and return its violations (every impact)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(RUN_AXE)


def assert_accessible(page, state_name: str) -> None:
    """Fail when axe-core finds a serious or critical violation in the page as it is now."""
    serious = [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]
    if serious:
        pytest.fail(f"axe-core: {len(serious)} serious/critical violation(s) in state "
                    f"{state_name!r}:\n{json.dumps(serious, indent=2)}")


def snapshot(page, name: str) -> list[Path]:
    """Save the page at 1280 and 390 px wide into docs/img/; fail if it scrolls sideways at 390."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    paths = []
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": PAGE_HEIGHT})
            page.wait_for_timeout(50)  # let the layout settle
            if width < 600:
                overflow = page.evaluate(SIDEWAYS_SCROLL)
                assert overflow <= 0, (f"{name}: the page is {overflow}px wider than a {width}px"
                                       f" phone; too wide: {page.evaluate(TOO_WIDE, width)}")
            path = IMAGES / f"{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
            paths.append(path)
    finally:
        if original:
            page.set_viewport_size(original)
    return paths


def assert_hidden_is_hidden(page, state_name: str) -> None:
    """Fail when an element with the `hidden` attribute is drawn on the page."""
    shown = page.evaluate(SHOWN_THOUGH_HIDDEN)
    assert not shown, f"{state_name}: hidden yet shown: {shown}"


def check_state(page, name: str) -> None:
    """Check one page state: hidden means hidden, axe-core at desktop width, then screenshots
    at both widths."""
    assert_hidden_is_hidden(page, name)
    assert_accessible(page, name)
    snapshot(page, name)
