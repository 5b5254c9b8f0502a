"""The route that serves signed layer download URLs (``models.download_urls`` signs and checks them), and a blob as
an HTTP reply, which the /v2 blob routes share."""

from flask import Blueprint, Response, request, send_file

from .. import extension
from ..models import download_urls

blueprint = Blueprint("blob_downloads", __name__)


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain")


@blueprint.get("/_emulator/blobs/<account>/<region>/<digest>")
def download(account: str, region: str, digest: str):
    store = extension.current().store
    refusal = download_urls.refusal(store, account, region, digest, request.args.get("expires", ""),
                                    request.args.get("signature", ""))
    if refusal is not None:
        return _text(403, refusal)
    path = store.blob_store().path(account, region, digest)
    if not path.is_file():
        return _text(404, "blob not found")
    return blob_response(path, digest)


def blob_response(path, digest: str) -> Response:
    """A blob as HTTP: streamed from disk, with single-range requests (206, or 416) and its digest."""
    response = send_file(path, mimetype="application/octet-stream", conditional=True, etag=digest[7:], max_age=None)
    response.headers["Docker-Content-Digest"] = digest
    return response
