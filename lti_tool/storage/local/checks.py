""""Test connection" for the local disk: the folder exists, takes a file, and has room."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from lti_tool.storage.base import CheckStatus, ConnectionCheck
from lti_tool.web.formatting import format_size

# Below this much free space, say so: a class's uploads of a few GB each fill it in a day.
LOW_SPACE_BYTES = 10 * 1000**3


def check_connection(root: Path, largest_upload: int) -> list[ConnectionCheck]:
    """Check the storage folder exists (or can be made), can be written, and has room."""
    checks = []
    if root.exists() and not root.is_dir():
        return [ConnectionCheck("Folder exists", CheckStatus.FAILED,
                                f"{root} is a file, not a folder. Point LOCAL_STORAGE_DIR at a "
                                "folder.")]
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return [ConnectionCheck("Folder exists", CheckStatus.FAILED,
                                f"The folder {root} does not exist and cannot be created "
                                f"({exc.strerror}). Create it, or point LOCAL_STORAGE_DIR at "
                                "a folder on a disk with room for the videos.")]
    checks.append(ConnectionCheck("Folder exists", CheckStatus.PASSED, f"{root} exists."))
    probe = root / f".connection-test-{os.getpid()}-{time.monotonic_ns()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        checks.append(ConnectionCheck(
            "Folder is writable", CheckStatus.FAILED,
            f"The tool cannot write in {root} ({exc.strerror}). Give the user the tool runs "
            "as write access to it (for example `chown -R` to that user)."))
        return checks
    checks.append(ConnectionCheck("Folder is writable", CheckStatus.PASSED,
                                  "The tool wrote and removed a test file there."))
    free = shutil.disk_usage(root).free
    if free < largest_upload:
        checks.append(ConnectionCheck(
            "Free space", CheckStatus.FAILED,
            f"Only {format_size(free)} free, less than one upload of the largest size allowed "
            f"({format_size(largest_upload)}). Make room (the retention and orphans jobs), "
            "grow the disk, or stop new uploads until then."))
    elif free < LOW_SPACE_BYTES:
        checks.append(ConnectionCheck(
            "Free space", CheckStatus.WARNING,
            f"{format_size(free)} free: enough for now, but a class's uploads can fill it. "
            "Plan more room, or a cloud storage."))
    else:
        checks.append(ConnectionCheck("Free space", CheckStatus.PASSED,
                                      f"{format_size(free)} free."))
    return checks
