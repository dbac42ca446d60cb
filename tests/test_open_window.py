"""The framed page's "Open in a new window" link after a form post: the form's page with the
launch (the POST's own URL would be a 405 or a launch-less GET), never another site's page."""
from __future__ import annotations

import re

from tests.admin_fixtures import operator, site, text  # noqa: F401  (fixtures)


def window_href(page: str) -> str | None:
    found = re.search(r'id="open-window" href=""(?: data-href="([^"]*)")?', page)
    assert found, "the page has no window link"
    return found.group(1)


def test_a_posted_page_names_the_forms_page_with_the_launch(client, operator):
    launch = operator.a.launches["admin"]
    resp = client.post("/admin/settings/test", data={"STORAGE_BACKEND": "local",
                                                     "launch": launch},
                       headers={"Referer": "http://localhost/admin/settings?launch=old&x=1"})
    assert resp.status_code == 200
    assert window_href(text(resp)) == f"/admin/settings?x=1&amp;launch={launch}"


def test_a_posted_page_refused_with_a_message_names_the_forms_page_too(client, operator):
    launch = operator.a.launches["admin"]
    resp = client.post("/admin/settings", data={"RETENTION_DAYS": "abc", "launch": launch},
                       headers={"Referer": f"http://localhost/admin/settings?launch={launch}"})
    assert resp.status_code == 400
    assert window_href(text(resp)) == f"/admin/settings?launch={launch}"


def test_another_sites_page_or_none_is_never_offered(client, operator):
    launch = operator.a.launches["admin"]
    for referer in ("https://evil.example/admin/settings?launch=x", None):
        headers = {"Referer": referer} if referer else {}
        resp = client.post("/admin/settings/test", data={"STORAGE_BACKEND": "local",
                                                         "launch": launch}, headers=headers)
        assert window_href(text(resp)) == ""


def test_a_page_answering_a_get_keeps_its_own_address(client, operator):
    resp = operator.get(client, "/admin/settings")
    assert resp.status_code == 200 and window_href(text(resp)) is None
