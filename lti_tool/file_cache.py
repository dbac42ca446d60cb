"""Files parsed once per process while they stay the same file.

A file is known by its identity (inode, mtime in ns, size): a writer that replaces it whole
(os.replace, a new inode), in this process or any other, is noticed by the one stat() per
read. A file changed within the last moments is parsed again each time, since an edit in
place within one clock tick keeps its mtime. Used for the tool's key metadata
(lti_tool.lti.keys) and each local video's meta.json (lti_tool.storage.local).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

SETTLE_SECONDS = 2.0


class StableFileCache(Generic[T]):
    """Parsed files by path, each kept while its identity stays; at most `max_entries`."""

    def __init__(self, parse: Callable[[bytes], T], max_entries: int = 4096):
        self.parse = parse
        self.max_entries = max_entries
        self._entries: dict[Path, tuple[tuple[int, int, int], T]] = {}

    def read(self, path: Path) -> T:
        """Return the file's parsed content (not to be changed by the caller); raise
        OSError (FileNotFoundError when it is not there) as reading it would."""
        st = path.stat()
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._entries.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        value = self.parse(path.read_bytes())
        if time.time() - st.st_mtime > SETTLE_SECONDS:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[path] = (stamp, value)
        return value

    def forget(self, path: Path) -> None:
        """Drop a file this process has just replaced."""
        self._entries.pop(path, None)
