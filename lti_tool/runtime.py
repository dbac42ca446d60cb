"""What kind of process is running the app: a gunicorn server worker, or a command, a
script or the tests."""
from __future__ import annotations

import sys
from pathlib import Path


def in_server_worker() -> bool:
    """Tell whether a gunicorn process is loading the app (it serves; it never migrates)."""
    program = Path(sys.argv[0] if sys.argv else "")
    return "gunicorn" in (program.name, program.parent.name)
