"""Signed layer download URLs: what ``GetDownloadUrlForLayer`` hands out in place of a presigned S3 URL.

The URL carries its own authority, as a presigned URL does: an expiry and an HMAC over registry, digest and expiry,
keyed from the store's token secret (which survives restarts under ``--state-dir``), so it needs no other
credentials, cannot be edited to reach another blob, and stops working when the model clock passes its expiry.
Signing and checking live here, beside the registry passwords (``tokens``), so the operation that issues a URL and
the route that serves it (``registry.blob_downloads``) share them without either importing the other.
"""

import base64
import hashlib
import hmac
import urllib.parse

from .store import Store

URL_LIFETIME = 3600


def _signature(secret: bytes, account: str, region: str, digest: str, expires: str) -> str:
    key = hmac.new(secret, b"ecr-emulator blob download", hashlib.sha256).digest()
    mac = hmac.new(key, f"{account}\n{region}\n{digest}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def url(store: Store, endpoint: str, account: str, region: str, digest: str) -> str:
    expires = str(int(store.clock.now()) + URL_LIFETIME)
    query = urllib.parse.urlencode(
        {"expires": expires, "signature": _signature(store.tokens.secret, account, region, digest, expires)})
    return f"{endpoint}/_emulator/blobs/{account}/{region}/{digest}?{query}"


def refusal(store: Store, account: str, region: str, digest: str, expires: str, signature: str) -> str | None:
    """Why a download URL's query does not grant the blob it names, or None when it does."""
    expected = _signature(store.tokens.secret, account, region, digest, expires)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return "signature does not match"
    if not expires.isdigit() or int(expires) <= store.clock.now():
        return "download URL has expired"
    return None
