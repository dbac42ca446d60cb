"""The admin pages' queries stay few and index-friendly at any size (bench/admin_bench.py).

The dashboard counts the window's uploads once for its chart, rates and breakdown; the videos
list, sorted by a column that is never empty, orders by that column alone so PostgreSQL can
walk its index and stop after a page; the list's count skips the user join it does not need.
"""
from __future__ import annotations

import re

import pytest

from tests.admin_fixtures import site  # noqa: F401  (fixture)
from tests.sql_statements import app_statements

pytestmark = pytest.mark.postgres  # query shapes: must hold on PostgreSQL too

DASHBOARD_STATEMENTS = 13  # the launch, the window, storage, delivery, playbacks, scores,
#                            failures, passback, jobs, the kept usage report, and the processing
#                            queue's counts, running and failed videos (three)


def test_dashboard_reads_the_window_of_uploads_once(app, client, site):
    site.get(client, "/admin/")  # the settings cache fills on the first page
    with app_statements(app) as seen:
        resp = site.get(client, "/admin/")
    assert resp.status_code == 200
    window_reads = [s for s in seen if "FROM video" in s and "GROUP BY" in s
                    and "video.created_at >=" in s]
    assert len(window_reads) == 1, window_reads
    # The settings cache checks its version token at most once a second per process
    # (lti_tool/process_cache.py): on a slow machine that read may fall inside this page.
    seen = [s for s in seen if not s.startswith("SELECT key_value.value FROM key_value")]
    assert len(seen) <= DASHBOARD_STATEMENTS, "\n".join(s[:90] for s in seen)


def test_videos_list_newest_first_orders_by_upload_time_alone(app, client, site):
    with app_statements(app) as seen:
        resp = site.get(client, "/admin/videos")
    assert resp.status_code == 200
    [page] = [s for s in seen if " LIMIT " in s and "FROM video" in s]
    assert re.search(r"ORDER BY video\.created_at DESC, video\.id DESC", page), page
    [count] = [s for s in seen if "count(" in s]
    assert not re.search(r'JOIN "?user"?', count), count


def test_videos_list_by_size_still_puts_unknown_sizes_last(app, client, site):
    with app_statements(app) as seen:
        resp = site.get(client, "/admin/videos?sort=size&desc=0")
    assert resp.status_code == 200
    [page] = [s for s in seen if " LIMIT " in s and "FROM video" in s]
    assert re.search(r"ORDER BY video\.size_bytes IS NULL, video\.size_bytes ASC", page), page


def test_the_count_filters_by_student_through_the_user(app, client, site):
    with app_statements(app) as seen:
        resp = site.get(client, "/admin/videos?student=nobody-matches-this")
    assert resp.status_code == 200
    [count] = [s for s in seen if "count(" in s]
    assert re.search(r'JOIN "?user"?', count), count
