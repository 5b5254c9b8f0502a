"""Layer downloads by signed URL: what ``GetDownloadUrlForLayer`` hands out in place of a presigned S3 URL.

The URL carries its own authority, as a presigned URL does: an expiry and an HMAC over registry, digest and expiry,
keyed from the store's token secret (which survives restarts under ``--state-dir``), so it needs no other
credentials, cannot be edited to reach another blob, and stops working when the model clock passes its expiry.
"""

import base64
import hashlib
import hmac
import urllib.parse

from flask import Blueprint, Response, current_app, request

from .models.blobs import CHUNK_SIZE

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
    store = current_app.config["ECR_STORE"]
    expires = request.args.get("expires", "")
    signature = request.args.get("signature", "")
    expected = _signature(store.tokens.secret, account, region, digest, expires)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return _text(403, "signature does not match")
    if not expires.isdigit() or int(expires) <= store.clock.now():
        return _text(403, "download URL has expired")
    try:
        f = open(store.blobs.path(account, region, digest), "rb")
    except FileNotFoundError:
        return _text(404, "blob not found")
    length = _file_size(f)
    start, stop, status = 0, length, 200
    headers = {"Accept-Ranges": "bytes", "Docker-Content-Digest": digest}
    wanted = request.range
    if wanted is not None and len(wanted.ranges) == 1:
        bounds = wanted.range_for_length(length)
        if bounds is None:
            f.close()
            return Response(status=416, headers={"Content-Range": f"bytes */{length}"})
        start, stop = bounds
        status = 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{length}"
    headers["Content-Length"] = str(stop - start)
    response = Response(_stream(f, start, stop), status=status, headers=headers,
                        content_type="application/octet-stream", direct_passthrough=True)
    response.call_on_close(f.close)
    return response


def _file_size(f) -> int:
    f.seek(0, 2)
    return f.tell()


def _stream(f, start: int, stop: int):
    """The bytes [start, stop) of an open file, a chunk at a time."""
    f.seek(start)
    remaining = stop - start
    while remaining > 0:
        chunk = f.read(min(CHUNK_SIZE, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk
