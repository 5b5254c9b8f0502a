"""Opaque nextToken values: base64 of a small JSON document, checked on the way back in."""

import base64
import binascii
import bisect
import json

from .. import errors


def encode(state) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode(token: str | None, expected_type: type):
    """The state carried by ``token`` (None when absent); a token that was not ours is InvalidParameterException."""
    if token is None:
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        state = None
    if not isinstance(state, expected_type) or isinstance(state, bool):
        raise errors.invalid_next_token()
    return state


def after_key(keys: list[str], after: str | None, limit: int) -> tuple[list[str], str | None]:
    """One page of the sorted ``keys``: up to ``limit`` of those after ``after`` (the key a token carried), and the
    token of the next page, None on the last. A token names a key rather than a position, so it stays valid while
    keys come and go."""
    start = 0 if after is None else bisect.bisect_right(keys, after)
    chosen = keys[start:start + limit]
    return chosen, encode(chosen[-1]) if start + limit < len(keys) else None
