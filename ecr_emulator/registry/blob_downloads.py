"""Layer downloads by signed URL: what ``GetDownloadUrlForLayer`` hands out in place of a presigned S3 URL.

The URL carries its own authority, as a presigned URL does: an expiry and an HMAC over registry, digest and expiry,
keyed from the store's token secret (which survives restarts under ``--state-dir``), so it needs no other
credentials, cannot be edited to reach another blob, and stops working when the model clock passes its expiry.
"""

import base64
import hashlib
import hmac
import urllib.parse

from flask import Blueprint, Response, request, send_file

from .. import extension

blueprint = Blueprint("blob_downloads", __name__)

URL_LIFETIME = 3600


def _signature(secret: bytes, account: str, region: str, digest: str, expires: str) -> str:
    key = hmac.new(secret, b"ecr-emulator blob download", hashlib.sha256).digest()
    mac = hmac.new(key, f"{account}\n{region}\n{digest}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def download_url(store, endpoint: str, account: str, region: str, digest: str) -> str:
    expires = str(int(store.clock.now()) + URL_LIFETIME)
    query = urllib.parse.urlencode(
        {"expires": expires, "signature": _signature(store.tokens.secret, account, region, digest, expires)})
    return f"{endpoint}/_emulator/blobs/{account}/{region}/{digest}?{query}"


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain")


@blueprint.get("/_emulator/blobs/<account>/<region>/<digest>")
def download(account: str, region: str, digest: str):
    store = extension.current().store
    expires = request.args.get("expires", "")
    signature = request.args.get("signature", "")
    expected = _signature(store.tokens.secret, account, region, digest, expires)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return _text(403, "signature does not match")
    if not expires.isdigit() or int(expires) <= store.clock.now():
        return _text(403, "download URL has expired")
    path = store.blob_store().path(account, region, digest)
    if not path.is_file():
        return _text(404, "blob not found")
    return blob_response(path, digest)


def blob_response(path, digest: str) -> Response:
    """A blob as HTTP: streamed from disk, with single-range requests (206, or 416) and its digest."""
    response = send_file(path, mimetype="application/octet-stream", conditional=True, etag=digest[7:], max_age=None)
    response.headers["Docker-Content-Digest"] = digest
    return response
