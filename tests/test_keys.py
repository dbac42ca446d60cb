"""The tool's signing keys: created on first need, private files locked down, rotation overlap."""
from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from lti_tool.lti.keys import KeyStore


@pytest.fixture
def store(tmp_path):
    return KeyStore(tmp_path / "keys", overlap_days=7)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_need_creates_a_2048_bit_key_readable_by_owner_only(store):
    kid, pem = store.signing_key()
    assert b"PRIVATE KEY" in pem
    assert _mode(store.dir / f"{kid}.pem") == 0o600
    assert _mode(store.dir / "keys.json") == 0o600
    assert _mode(store.dir) == 0o700
    (jwk,) = store.public_jwks()["keys"]
    assert jwk["kid"] == kid and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert "d" not in jwk and "p" not in jwk  # never a private member
    public = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
    assert public.key_size >= 2048


def test_signing_key_is_stable_between_calls(store):
    assert store.signing_key() == store.signing_key()
    assert len(store.keys()) == 1


def test_rotation_signs_with_the_new_key_and_keeps_the_old_in_the_jwks(store):
    old_kid, old_pem = store.signing_key()
    new = store.rotate()
    kid, pem = store.signing_key()
    assert kid == new.kid != old_kid
    kids = [k["kid"] for k in store.public_jwks()["keys"]]
    assert kids == [new.kid, old_kid]
    # A token signed by the new key verifies with the published JWK of its kid.
    token = jwt.encode({"x": 1}, pem, algorithm="RS256", headers={"kid": kid})
    jwk = next(k for k in store.public_jwks()["keys"] if k["kid"] == kid)
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"x": 1}
    retired = next(k for k in store.keys() if k.kid == old_kid)
    assert retired.retired_at is not None


def test_retired_key_leaves_the_jwks_after_the_overlap(store):
    old_kid, _ = store.signing_key()
    store.rotate()
    meta = json.loads((store.dir / "keys.json").read_text())
    long_ago = datetime.now(timezone.utc) - timedelta(days=8)
    meta["keys"][0]["retired_at"] = long_ago.isoformat()
    (store.dir / "keys.json").write_text(json.dumps(meta))
    kids = [k["kid"] for k in store.public_jwks()["keys"]]
    assert old_kid not in kids and len(kids) == 1


def _settled(path) -> None:
    """Date a file back, as if written a minute ago (files written just now are re-read)."""
    import os
    import time
    then = time.time() - 60
    os.utime(path, (then, then))


def test_the_keys_are_read_once_per_process_while_their_files_stay(store, monkeypatch):
    kid, pem = store.signing_key()
    _settled(store.dir / "keys.json")
    assert store.signing_key() == (kid, pem)  # read once more (the file changed), then kept

    def _no_read(*args, **kwargs):
        raise AssertionError("read from disk again")
    monkeypatch.setattr("lti_tool.lti.keys.json.loads", _no_read)
    monkeypatch.setattr("pathlib.Path.read_bytes", _no_read)
    assert KeyStore(store.dir).signing_key() == (kid, pem)  # any store of this folder


def test_a_rotation_by_another_process_is_seen_at_the_next_call(store):
    old_kid, _ = store.signing_key()
    _settled(store.dir / "keys.json")
    store.signing_key()  # kept in this process
    new = KeyStore(store.dir).rotate()  # as the CLI would: a new keys.json replaces the old
    _settled(store.dir / "keys.json")
    kid, pem = store.signing_key()
    assert kid == new.kid != old_kid and b"PRIVATE KEY" in pem
