"""Opaque nextToken values: base64 of a small JSON document, checked on the way back in."""

import base64
import binascii
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
