"""The hand-off's short codes: made, written for people, read back as typed, and hashed.

A code is CODE_LENGTH characters of Crockford's base32 (no I, L, O or U: nothing to confuse
on a phone keyboard), 50 bits: with a few minutes of life and a rate limit per address,
guessing one is hopeless. Only an HMAC of the code (keyed by the app's SECRET_KEY) is stored,
so a copy of the database gives no usable link.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
GROUP = 5  # shown as two groups of five: "7KQ2M-XW9PD"
SEPARATOR = "-"
# What people type for what they mean (Crockford's decoding): O is 0, I and L are 1.
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = " -_.\t"


def new_code() -> str:
    """Return a fresh random code (CODE_LENGTH characters of ALPHABET)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """Write a code in groups, as the page shows it ("7KQ2M-XW9PD")."""
    return SEPARATOR.join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def normalize_code(typed: str) -> str | None:
    """Read a code as a person typed it (any case, spaces, dashes, O for 0), or None."""
    if not isinstance(typed, str) or len(typed) > 4 * CODE_LENGTH:
        return None
    code = "".join(ch for ch in typed.upper() if ch not in _IGNORED).translate(_READS_AS)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def hash_code(code: str, key: str | bytes) -> str:
    """Return the stored form of a (normalized) code: HMAC-SHA256, hex."""
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, code.encode(), hashlib.sha256).hexdigest()
