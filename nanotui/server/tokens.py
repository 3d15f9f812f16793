"""Access tokens: shown once, kept only as a salted hash.

A token is `nt_<id>_<secret>`. The id finds the account without scanning every hash; the
secret is checked against its scrypt hash in constant time. Neither the token nor the
secret is ever stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "nt_"
# scrypt's cost: some tens of ms here, paid once per request; tokens are long and random, so
# the hash guards a stolen database, not a guessable password.
_N, _R, _P = 2**14, 8, 1


@dataclass(frozen=True)
class NewToken:
    """A token as it is made: what the user is shown once, and what the store keeps."""

    token: str
    token_id: str
    salt: str
    digest: str


def digest_of(secret: str, salt: str) -> str:
    hashed = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=_N, r=_R, p=_P)
    return hashed.hex()


def new_token() -> NewToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return NewToken(f"{PREFIX}{token_id}_{secret}", token_id, salt, digest_of(secret, salt))


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    if not token.startswith(PREFIX):
        return None
    token_id, _, secret = token[len(PREFIX) :].partition("_")
    if len(token_id) != 12 or not secret:
        return None
    return token_id, secret


def matches(secret: str, salt: str, digest: str) -> bool:
    return hmac.compare_digest(digest_of(secret, salt), digest)


_VERIFIED_MAX = 10_000
_verified: dict[str, str] = {}
"""sha256 of a token checked already -> the stored digest it matched (memory only)."""


def matches_cached(token: str, secret: str, salt: str, digest: str) -> bool:
    """`matches`, paying scrypt once per token and stored hash rather than per request.

    The row is still read on every request, so a revoked or re-issued token is refused at
    once: the cache only says that this token matched this very digest before. A fast hash
    is enough here: the tokens are long and random, and the cache never leaves memory.
    """
    key = hashlib.sha256(token.encode()).hexdigest()
    if hmac.compare_digest(_verified.get(key, ""), digest):
        return True
    if not matches(secret, salt, digest):
        return False
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = digest
    return True
