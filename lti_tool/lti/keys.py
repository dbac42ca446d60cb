"""The tool's RSA signing keys: created on first need, rotated by an operator, served as a JWKS.

Layout of LTI_KEYS_DIR (see keys.example/README.txt):
  keys.json        metadata: [{"kid", "created_at", "retired_at"}], newest last
  <kid>.pem        one PKCS#8 private key per kid, mode 0600

The signing key is the newest key that is not retired. A retired key stays in the public
JWKS for LTI_KEY_OVERLAP_DAYS so platforms that cached it can still check what it signed
(1EdTech Security Framework 1.0, section 6.3 "Key Set URL" and 6.4 "Issuer Public Key Rotation").
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from jwt.algorithms import RSAAlgorithm

from lti_tool.file_cache import StableFileCache

KEY_BITS = 2048
METADATA_FILE = "keys.json"
LOCK_FILE = ".lock"
SIGNING_ALG = "RS256"




@dataclass(frozen=True)
class ToolKey:
    """One key's metadata (never the private key itself)."""

    kid: str
    created_at: datetime
    retired_at: datetime | None

    def in_jwks(self, now: datetime, overlap: timedelta) -> bool:
        """Tell whether the public half is still published."""
        return self.retired_at is None or now < self.retired_at + overlap


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _parse_keys(raw: bytes) -> tuple[ToolKey, ...]:
    return tuple(ToolKey(e["kid"], _parse_time(e["created_at"]), _parse_time(e.get("retired_at")))
                 for e in json.loads(raw)["keys"])


# Per process (bench/README.md, round 4: every login read both files): each folder's
# keys.json while it stays the same file (lti_tool.file_cache), and each kid's private PEM
# by its path (written once with O_EXCL, never rewritten).
_METADATA_CACHE = StableFileCache(_parse_keys)
_PEM_CACHE: dict = {}


class KeyStore:
    """The keys in one folder; safe to use from several processes (file lock)."""

    def __init__(self, directory: str | os.PathLike, overlap_days: int = 7):
        self.dir = Path(directory)
        self.overlap = timedelta(days=overlap_days)

    # ---- reading ----
    def keys(self) -> list[ToolKey]:
        """Return every key's metadata, oldest first (empty when none exists yet).

        Read once per process while keys.json stays the same file: a rotation, here or in
        any other process, replaces it (os.replace: a new inode and mtime), which one
        stat() per call notices.
        """
        try:
            return list(_METADATA_CACHE.read(self.dir / METADATA_FILE))
        except FileNotFoundError:
            return []

    def signing_key(self) -> tuple[str, bytes]:
        """Return (kid, private PEM) of the current signing key, creating one on first need."""
        current = self._current()
        if current is None:
            with self._locked():
                current = self._current() or self._add_key(retire_others=False)
        return current.kid, self._pem(current.kid)

    def _pem(self, kid: str) -> bytes:
        """Return a kid's private PEM, read once per process (a kid's file never changes)."""
        path = self.dir / f"{kid}.pem"
        pem = _PEM_CACHE.get(path)
        if pem is None:
            pem = _PEM_CACHE[path] = path.read_bytes()
        return pem

    def public_jwks(self) -> dict:
        """Return the JWKS of every published key (current and those within overlap)."""
        if self._current() is None:
            self.signing_key()
        now = _now()
        jwks = []
        for key in reversed(self.keys()):  # newest first
            if key.in_jwks(now, self.overlap):
                jwks.append(self._public_jwk(key.kid))
        return {"keys": jwks}

    # ---- changing ----
    def rotate(self) -> ToolKey:
        """Add a new key, make it the signing key, and retire the previous ones."""
        with self._locked():
            return self._add_key(retire_others=True)

    # ---- internals ----
    def _current(self) -> ToolKey | None:
        live = [k for k in self.keys() if k.retired_at is None]
        return live[-1] if live else None

    def _public_jwk(self, kid: str) -> dict:
        private = serialization.load_pem_private_key(self._pem(kid), password=None)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        jwk.update({"kid": kid, "alg": SIGNING_ALG, "use": "sig"})
        return jwk

    @contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        with open(self.dir / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _add_key(self, retire_others: bool) -> ToolKey:
        now = _now()
        kid = f"{now:%Y%m%d}-{secrets.token_hex(6)}"
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        _write_private(self.dir / f"{kid}.pem", pem)
        keys = [ToolKey(k.kid, k.created_at, k.retired_at or (now if retire_others else None))
                for k in self.keys()]
        new = ToolKey(kid, now, None)
        keys.append(new)
        self._write_metadata(keys)
        return new

    def _write_metadata(self, keys: list[ToolKey]) -> None:
        body = {"keys": [{"kid": k.kid, "created_at": k.created_at.isoformat(),
                          "retired_at": k.retired_at.isoformat() if k.retired_at else None}
                         for k in keys]}
        tmp = self.dir / (METADATA_FILE + ".tmp")
        tmp.write_text(json.dumps(body, indent=2) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.dir / METADATA_FILE)


def _write_private(path: Path, pem: bytes) -> None:
    """Write a private key readable by its owner only, from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def keys_dir(app=None) -> Path:
    """Return the configured keys folder (relative paths are under the project folder)."""
    app = app or current_app
    path = Path(app.config["LTI_KEYS_DIR"])
    return path if path.is_absolute() else Path(app.root_path).parent / path


def key_store(app=None) -> KeyStore:
    """Return the key store configured for the app."""
    app = app or current_app
    return KeyStore(keys_dir(app), app.config.get("LTI_KEY_OVERLAP_DAYS", 7))


def signing_key() -> tuple[str, bytes]:
    """Return (kid, private PEM) of the tool's current signing key."""
    return key_store().signing_key()


def public_jwks() -> dict:
    """Return the tool's public JWKS: the signing key and retired keys still in overlap."""
    return key_store().public_jwks()


def key_states(store: KeyStore | None = None) -> list[tuple[ToolKey, str]]:
    """Return each key, oldest first, with its state: signing, published or retired."""
    store = store or key_store()
    current, _ = store.signing_key()
    published = {k["kid"] for k in store.public_jwks()["keys"]}
    return [(key, "signing" if key.kid == current else
             "published" if key.kid in published else "retired") for key in store.keys()]
