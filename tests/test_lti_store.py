"""The database-backed LTI store: expiry, single use, pylti1p3's storage interface, purging."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lti_tool.extensions import db
from lti_tool.lti.launch_store import (DbLaunchDataStorage, kv_add, kv_get, kv_pop, kv_put,
                                       purge_expired)
from lti_tool.models import KeyValue, LaunchRecord, utcnow
from tests.factories import Classroom

pytestmark = pytest.mark.postgres  # must also pass on PostgreSQL (.ci/test runs these there)


def test_values_expire(app):
    with app.app_context():
        kv_put("a", {"x": 1}, 60)
        kv_put("b", "gone", 60)
        db.session.get(KeyValue, "b").expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert kv_get("a") == {"x": 1} and kv_get("b") is None


def test_add_is_refused_while_a_live_value_exists_and_allowed_after_expiry(app):
    with app.app_context():
        assert kv_add("nonce:1:abc", True, 60)
        db.session.commit()
        assert not kv_add("nonce:1:abc", True, 60)
        db.session.get(KeyValue, "nonce:1:abc").expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert kv_add("nonce:1:abc", True, 60)


def test_pop_takes_the_value_once(app):
    with app.app_context():
        kv_put("state", {"n": 1}, 60)
        db.session.commit()
        assert kv_pop("state") == {"n": 1}
        db.session.commit()
        assert kv_pop("state") is None


def test_pylti1p3_storage_interface(app):
    with app.app_context():
        storage = DbLaunchDataStorage()
        assert storage.get_session_cookie_name() is None and storage.can_set_keys_expiration()
        storage.set_value("launch-1", {"sub": "2"}, exp=60)
        assert storage.check_value("launch-1") and storage.get_value("launch-1") == {"sub": "2"}
        assert db.session.get(KeyValue, "lti1p3-launch-1") is not None
        assert not storage.check_value("launch-2")


def test_purge_removes_expired_values_and_long_expired_launches(app):
    with app.app_context():
        room = Classroom()
        old = room.launch(room.student)
        fresh = room.launch(room.student)
        old.expires_at = utcnow() - timedelta(days=8)
        kv_put("dead", 1, 60)
        db.session.get(KeyValue, "dead").expires_at = utcnow() - timedelta(seconds=1)
        kv_put("alive", 1, 60)
        db.session.commit()
        old_id, fresh_id = old.id, fresh.id
        purge_expired()
        purge_expired()  # safe to run twice
        assert db.session.get(LaunchRecord, old_id) is None
        assert db.session.get(LaunchRecord, fresh_id) is not None
        assert db.session.get(KeyValue, "dead") is None and kv_get("alive") == 1
