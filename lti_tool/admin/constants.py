"""The admin area's names and limits, named once."""
from __future__ import annotations

# The navigation, in order: (endpoint, label).
ADMIN_PAGES: tuple[tuple[str, str], ...] = (
    ("admin.index", "Dashboard"),
    ("admin.videos", "Videos"),
    ("admin.audit_log", "Audit log"),
    ("admin.people", "People"),
    ("admin.platforms", "Platforms"),
    ("admin.settings", "Settings"),
)
PAGE_SIZE = 50
CSV_MIMETYPE = "text/csv"
# The longest list a CSV export writes (the filters narrow it further).
CSV_MAX_ROWS = 100_000
