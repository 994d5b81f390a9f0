"""Authentication methods: ``mysql_native_password`` and the fast (scramble) path of ``caching_sha2_password``.

Both are challenge-response schemes over a 20-byte server scramble. The server keeps clear-text passwords in
its user store, so it can always check a ``caching_sha2_password`` scramble itself ("fast auth") and never needs
the RSA full-authentication exchange.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCRAMBLE_LENGTH = 20


def new_scramble() -> bytes:
    """A random 20-byte scramble; bytes are printable ASCII and never NUL, as MySQL servers send them."""
    alphabet = bytes(range(0x21, 0x7F))
    return bytes(secrets.choice(alphabet) for _ in range(SCRAMBLE_LENGTH))


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def native_password_scramble(password: str, scramble: bytes) -> bytes:
    """Client side of mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); empty for no password."""
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()
    stage2 = hashlib.sha1(stage1).digest()
    return _xor(stage1, hashlib.sha1(scramble[:SCRAMBLE_LENGTH] + stage2).digest())


def native_password_verify(password: str, scramble: bytes, response: bytes) -> bool:
    """Server side of mysql_native_password."""
    return hmac.compare_digest(native_password_scramble(password, scramble), response)


def caching_sha2_scramble(password: str, scramble: bytes) -> bytes:
    """Client side of caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble)."""
    if not password:
        return b""
    stage1 = hashlib.sha256(password.encode()).digest()
    stage2 = hashlib.sha256(stage1).digest()
    return _xor(stage1, hashlib.sha256(stage2 + scramble[:SCRAMBLE_LENGTH]).digest())


def caching_sha2_verify(password: str, scramble: bytes, response: bytes) -> bool:
    """Server side of caching_sha2_password's fast path."""
    return hmac.compare_digest(caching_sha2_scramble(password, scramble), response)
