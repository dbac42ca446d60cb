"""The two doors of a tus PATCH, the Flask view and the WSGI fast path (lti_tool/tus/fast.py),
as fixtures: a test marked `both_doors` runs once with the fast path on and once with it off.

Import `app_config`, `tus_fast_patch` and `doors` into a test module to use them.
"""
from __future__ import annotations

from contextlib import contextmanager

import pytest

FAST_PATCH_KEY = "tus_fast_patch"  # app.extensions key of the installed fast path

both_doors = pytest.mark.parametrize("tus_fast_patch", [True, False],
                                     ids=["fast path on", "fast path off"])


@pytest.fixture
def tus_fast_patch() -> bool:
    """Whether the app under test has the fast path: on, as in production, unless the test
    is marked `both_doors`."""
    return True


@pytest.fixture
def app_config(app_config, tus_fast_patch):
    """The conftest settings with TUS_FAST_PATCH as the test asks."""
    return {**app_config, "TUS_FAST_PATCH": tus_fast_patch}


class Doors:
    """Which door answered: counts the PATCHes the fast path served."""

    def __init__(self, app):
        self.app = app
        self.fast = FAST_PATCH_KEY in app.extensions

    def served(self) -> int:
        return self.app.extensions[FAST_PATCH_KEY].served if self.fast else 0

    @contextmanager
    def fast_path(self):
        """Expect the one PATCH inside to be served by the fast path when it is on."""
        before = self.served()
        yield
        assert self.served() == before + (1 if self.fast else 0)

    @contextmanager
    def flask_view(self):
        """Expect every PATCH inside to be left to the Flask view."""
        before = self.served()
        yield
        assert self.served() == before


@pytest.fixture
def doors(app, tus_fast_patch) -> Doors:
    found = Doors(app)
    assert found.fast == tus_fast_patch  # the setting really put the door in or left it out
    return found
