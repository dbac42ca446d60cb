"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright, for page tests.

Playwright's own browser download is not used: it cannot be fetched here, and the
system Chromium is what CI installs.

Every page runs under the tool's Content-Security-Policy, and a test fails on any violation.
Give `page.wait_for_function` a function (`"() => expr"`), not a bare expression: Playwright
eval()s a bare expression on every poll, which the policy (no 'unsafe-eval') refuses.
"""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    """Start one headless Chromium for the session."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; run the README's setup command.")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# Every frame of every page reports its Content-Security-Policy violations to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolation({directive: e.effectiveDirective, blocked: e.blockedURI,
                         document: e.documentURI, sample: e.sample});
});
"""
CSP_CONSOLE_WORDS = "Content Security Policy"


@pytest.fixture
def csp_violations() -> list:
    """Collect the CSP violations the `page` fixture sees (a test may inspect or clear them)."""
    return []


def _watch_console(page, violations: list) -> None:
    page.on("console", lambda msg: violations.append({"console": msg.text})
            if msg.type == "error" and CSP_CONSOLE_WORDS in msg.text else None)


@pytest.fixture
def page(browser, csp_violations):
    """Open a fresh browser context (no shared cookies) and page for one test.

    The test fails when any page of the context reports a Content-Security-Policy
    violation (the `securitypolicyviolation` event, or Chromium's console error about it).
    """
    context = browser.new_context()
    context.expose_binding("__cspViolation",
                           lambda source, report: csp_violations.append(report))
    context.add_init_script(CSP_LISTENER)
    context.on("page", lambda new_page: _watch_console(new_page, csp_violations))
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
    if csp_violations:
        pytest.fail(f"Content-Security-Policy violations: {csp_violations}")
