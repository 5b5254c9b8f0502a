"""Layer operations: the multipart upload (initiate, parts, complete), availability checks and download URLs.

Bytes go to the blob store, one file per digest per registry; a completed layer belongs to the repository it was
uploaded through (``models.blob_links``), and the checks and download URLs answer only for layers the named
repository holds. Which repository owns an upload, and the part bookkeeping AWS's limits need, is kept in memory:
these operations are not journaled, so after a restart an upload begun before it is unknown, while completed layers
(files, and their journaled ownership) remain.
"""

import base64
import json
import threading
import weakref

from .. import errors
from ..api.context import RequestContext
from ..models import blob_links, download_urls, manifests
from ..registry.blob_store import DigestMismatchError, InvalidDigestError, UnknownUploadError, check_digest
from . import operation

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 4200
# What a schema 1 manifest's layers are, which name no media type of their own.
SCHEMA1_LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class _Upload:
    """An upload's owner and what its parts so far mean for AWS's part-size and part-count limits."""

    __slots__ = ("owner", "parts", "last_part_size", "small_part_inside", "lock")

    def __init__(self, owner: tuple[str, str, str]):
        self.owner = owner
        self.parts = 0
        self.last_part_size: int | None = None
        self.small_part_inside = False
        self.lock = threading.Lock()


_uploads_by_store: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_uploads_lock = threading.Lock()


def _uploads(store) -> dict[str, _Upload]:
    with _uploads_lock:
        uploads = _uploads_by_store.get(store)
        if uploads is None:
            uploads = _uploads_by_store[store] = {}
            store.subscribe("reset", uploads.clear)
        return uploads


def _upload(ctx: RequestContext, params: dict):
    """The registry, repository and upload a request names; UploadNotFound unless the upload is this repository's."""
    registry, repo = ctx.repository(params)
    upload_id = params["uploadId"]
    upload = _uploads(ctx.store).get(upload_id)
    if upload is None or upload.owner != (registry.account, registry.region, repo.name):
        raise errors.upload_not_found(upload_id, repo.name, registry.account)
    return registry, repo, upload


@operation("InitiateLayerUpload")
def initiate_layer_upload(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    upload_id = ctx.store.blob_store().start_upload(registry.account, registry.region)
    _uploads(ctx.store)[upload_id] = _Upload((registry.account, registry.region, repo.name))
    return {"uploadId": upload_id, "partSize": MIN_PART_SIZE}


@operation("UploadLayerPart")
def upload_layer_part(ctx: RequestContext, params: dict) -> dict:
    registry, repo, upload = _upload(ctx, params)
    upload_id = params["uploadId"]
    data = base64.b64decode(params["layerPartBlob"])
    first, last = params["partFirstByte"], params["partLastByte"]
    blobs = ctx.store.blob_store()
    with upload.lock:
        try:
            size = blobs.upload_size(registry.account, registry.region, upload_id)
        except UnknownUploadError:
            raise errors.upload_not_found(upload_id, repo.name, registry.account) from None

        def invalid(reason: str) -> Exception:
            return errors.InvalidLayerPartException(
                f"{reason} for upload id '{upload_id}' in the repository with name '{repo.name}' in the registry "
                f"with id '{registry.account}'", registryId=registry.account, repositoryName=repo.name,
                uploadId=upload_id, lastValidByteReceived=size - 1)

        if first != size:
            raise invalid(f"The part first byte {first} is not consecutive to the last byte received {size - 1}")
        if not data:
            raise invalid("The layer part is empty")
        if last != first + len(data) - 1:
            raise invalid(f"The part last byte {last} does not match the part of {len(data)} bytes "
                          f"starting at byte {first}")
        if upload.parts >= MAX_PARTS:
            raise errors.LimitExceededException(
                f"The upload with id '{upload_id}' has reached the limit of {MAX_PARTS} layer parts")
        size = blobs.append(registry.account, registry.region, upload_id, [data], offset=first)
        if upload.last_part_size is not None and upload.last_part_size < MIN_PART_SIZE:
            upload.small_part_inside = True
        upload.last_part_size = len(data)
        upload.parts += 1
    return {"registryId": registry.account, "repositoryName": repo.name, "uploadId": upload_id,
            "lastByteReceived": size - 1}


@operation("CompleteLayerUpload")
def complete_layer_upload(ctx: RequestContext, params: dict) -> dict:
    registry, repo, upload = _upload(ctx, params)
    upload_id = params["uploadId"]
    claimed = set(params["layerDigests"])
    blobs = ctx.store.blob_store()
    account, region = registry.account, registry.region
    uploads = _uploads(ctx.store)
    with upload.lock:
        try:
            size = blobs.upload_size(account, region, upload_id)
        except UnknownUploadError:
            uploads.pop(upload_id, None)
            raise errors.upload_not_found(upload_id, repo.name, account) from None
        if size == 0:
            raise errors.EmptyUploadException(
                f"The upload with id '{upload_id}' in the repository with name '{repo.name}' in the registry with "
                f"id '{account}' contains no layer parts")
        if upload.small_part_inside:
            _drop(ctx, account, region, upload_id)
            raise errors.LayerPartTooSmallException(
                f"Layer parts must be at least {MIN_PART_SIZE} bytes in size, except the last part")
        digest = next(iter(claimed)) if len(claimed) == 1 else None
        if digest is None or not _valid(digest):
            raise errors.InvalidLayerException(
                f"The layer digests '{', '.join(sorted(claimed))}' are not one sha256 digest of the uploaded layer")
        with ctx.store.lock:
            held = blob_links.holds(registry, repo.name, digest)
        if held and blobs.exists(account, region, digest):
            _drop(ctx, account, region, upload_id)
            raise errors.LayerAlreadyExistsException(
                f"The layer with digest '{digest}' already exists in the repository with name '{repo.name}' "
                f"in the registry with id '{account}'")
        try:
            with blob_links.claiming(ctx.store, registry, digest):
                blobs.finish(account, region, upload_id, digest)
                with ctx.store.lock:
                    blob_links.grant(ctx.store, registry, repo.name, digest)
        except DigestMismatchError as exc:
            raise errors.InvalidLayerException(
                f"The layer digest '{digest}' does not match the digest of the uploaded layer '{exc.actual}'"
            ) from None
        except UnknownUploadError:
            raise errors.upload_not_found(upload_id, repo.name, account) from None
        finally:
            uploads.pop(upload_id, None)
    return {"registryId": account, "repositoryName": repo.name, "uploadId": upload_id, "layerDigest": digest}


def _valid(digest: str) -> bool:
    try:
        check_digest(digest)
        return True
    except InvalidDigestError:
        return False


def _drop(ctx: RequestContext, account: str, region: str, upload_id: str) -> None:
    ctx.store.blob_store().cancel(account, region, upload_id)
    _uploads(ctx.store).pop(upload_id, None)


def _held_size(ctx: RequestContext, registry, repo, digest: str) -> int | None:
    """The size of a layer the repository holds; None when it holds no such layer."""
    with ctx.store.lock:
        held = blob_links.holds(registry, repo.name, digest)
    return ctx.store.blob_store().size(registry.account, registry.region, digest) if held else None


def media_type(repo, digest: str) -> str | None:
    """The media type the repository's manifests give a blob (the first image pushed that names it), or None when
    no manifest names it."""
    for image in repo.images:
        if digest != image.config and digest not in image.layers:
            continue
        if image.media_type in manifests.SCHEMA1_TYPES:
            return SCHEMA1_LAYER_MEDIA_TYPE
        doc = json.loads(image.manifest)
        for descriptor in [doc.get("config")] + list(doc.get("layers") or ()):
            if isinstance(descriptor, dict) and descriptor.get("digest") == digest:
                found = descriptor.get("mediaType")
                if isinstance(found, str):
                    return found
    return None


@operation("BatchCheckLayerAvailability")
def batch_check_layer_availability(ctx: RequestContext, params: dict) -> dict:
    """Only the named repository's layers are available; each with the media type its manifests give it, and
    without one for a layer no manifest names yet (nothing says what it is)."""
    registry, repo = ctx.repository(params)
    layers, failures = [], []
    for digest in params["layerDigests"]:
        if not _valid(digest):
            failures.append({"layerDigest": digest, "failureCode": "InvalidLayerDigest",
                             "failureReason": "Invalid layer digest"})
            continue
        size = _held_size(ctx, registry, repo, digest)
        if size is None:
            failures.append({"layerDigest": digest, "failureCode": "MissingLayerDigest",
                             "failureReason": "Could not find layer"})
            continue
        layer = {"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": size}
        with ctx.store.lock:
            found = media_type(repo, digest)
        if found is not None:
            layer["mediaType"] = found
        layers.append(layer)
    return {"layers": layers, "failures": failures}


@operation("GetDownloadUrlForLayer")
def get_download_url_for_layer(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    digest = params["layerDigest"]
    if not _valid(digest) or _held_size(ctx, registry, repo, digest) is None:
        upstream = ctx.upstream_failures.get(digest)
        if upstream is not None and upstream["failureCode"] != "ImageNotFound":
            raise errors.UnableToGetUpstreamLayerException(upstream["failureReason"])
        raise errors.LayersNotFoundException(
            f"The layer with digest '{digest}' does not exist in the repository with name '{repo.name}' "
            f"in the registry with id '{registry.account}'")
    return {"downloadUrl": download_urls.url(ctx.store, ctx.config.endpoint, registry.account, registry.region, digest),
            "layerDigest": digest}
