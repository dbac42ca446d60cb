"""gunicorn's access log never records launch ids or signed grants (query strings)."""
from __future__ import annotations

import urllib.request

from tests.test_concurrent_launches import _wait_healthy
from tests.test_gunicorn_jobs import _start, _stop


def test_the_access_log_leaves_out_query_strings_and_referers(app, tmp_path):
    proc, log, port = _start(app, tmp_path, "--workers", "1", "--access-logfile", "-")
    try:
        _wait_healthy(port, proc)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz?launch=SECRET-LAUNCH-ID&token=SECRET-GRANT",
            headers={"Referer": f"http://127.0.0.1:{port}/assignment?launch=SECRET-REFERER"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 200
    finally:
        _stop(proc)
    text = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in text
    assert "SECRET" not in text
