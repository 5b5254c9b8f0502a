"""The registry HTTP API at /v2/: the OCI Distribution Specification 1.1 as docker, skopeo, podman and containerd
speak it, over the same images the ECR JSON API serves.

Each route declares what it needs before its handler runs (``_route``): what the name in its path must reach
(``Needs``: an existing repository, a push target that a creation template may create with its first image, or the
repository once the pull through cache has fetched the image the path names) and the IAM action the registry checks
itself. One dispatcher (``_dispatch``), modelled on CNCF Distribution's, which takes the same from a route's access
records, resolves them in one order on every route (the method, the credentials, the name and its repository, the
permission) and hands the handler what it resolved; so handlers hold only what their route does, and the order of
refusals a client sees cannot drift apart between them.

Manifest writes, reads and deletes go through the JSON API's own operations (PutImage, BatchGetImage,
BatchDeleteImage) by ``protocol.dispatch``, so validation, immutability, journaling and errors are one code path;
those routes declare no action of their own. Blobs stream between the socket and the blob store in chunks and never
sit whole in memory.
"""

import bisect
import dataclasses
import enum
import json
import logging
import re
import typing
from collections.abc import Callable

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from .. import errors as ecr_errors
from .. import extension
from ..api import authorization, protocol
from ..api.context import RequestContext
from ..models import blob_links, creation_templates, manifests, storage
from ..models import referrers as referrer_images
from ..pull_through import fetch as pull_through
from ..server import hosts
from ..specs import model
from ..state.persistence import StateWriteError
from . import access, blob_store, errors
from .blob_downloads import blob_response
from .errors import RegistryError, from_ecr, from_failure

blueprint = Blueprint("registry", __name__)
log = logging.getLogger(__name__)


class _AnyPath(PathConverter):
    """Every remainder of a /v2/ path, even one starting with "/", so malformed names reach the name check."""

    regex = ".*"
    part_isolating = False


def _register_converter(state) -> None:
    state.app.url_map.converters.setdefault("anypath", _AnyPath)


blueprint.record_once(_register_converter)

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}
DEFAULT_PAGE = 100
_PATHS = [
    (re.compile(r"(?P<name>.+)/blobs/uploads/?"), "uploads"),
    (re.compile(r"(?P<name>.+)/blobs/uploads/(?P<upload>[^/]+)"), "upload"),
    (re.compile(r"(?P<name>.+)/blobs/(?P<digest>[^/]+)"), "blob"),
    (re.compile(r"(?P<name>.+)/manifests/(?P<reference>[^/]+)"), "manifest"),
    (re.compile(r"(?P<name>.+)/tags/list"), "tags"),
    (re.compile(r"(?P<name>.+)/referrers/(?P<digest>[^/]+)"), "referrers"),
]


class Needs(enum.Enum):
    """What the name in a route's path must reach before its handler runs."""

    # No repository: /v2/ and the catalog name none, and blob deletion is refused whatever it names.
    NOTHING = enum.auto()
    # An existing repository, passed to the handler as ``repo``.
    REPOSITORY = enum.auto()
    # The repository a push writes to, passed as its checked ``name``: it may not exist until a CREATE_ON_PUSH template
    # creates it with its first image. Blob reads need this too, since a push asks which layers are there first.
    PUSH_TARGET = enum.auto()
    # An existing repository once a pull through cache rule has fetched the image the route's reference names (the
    # fetch may create the repository), passed as ``repo``.
    PULLED_IMAGE = enum.auto()


class _Request:
    """One registry request: the registry it addresses, its caller, and the request context the JSON operations
    take (whose account is the caller's, so they ask the registry's policies about the caller)."""

    def __init__(self, store, config, caller: str, account: str, region: str):
        self.store = store
        self.blobs = store.blobs
        self.caller = caller
        self.account = account
        self.region = region
        self.ctx = RequestContext(store, config, caller, region, protocol.new_request_id())

    def authorize(self, action: str, name: str | None) -> None:
        """What the registry API does outside the JSON operations (blobs, uploads, listings) needs the permission of
        the operation that does the same through the JSON API."""
        try:
            authorization.authorize(self.store, self.caller, self.account, self.region, action, name)
        except ecr_errors.ServiceError as exc:
            raise from_ecr(exc) from None

    def repository(self, name: str):
        repo = self.ctx.registry(self.account).repositories.get(access.repository_name(name))
        if repo is None:
            raise errors.name_unknown(name, self.account)
        return repo

    def push_target(self, name: str) -> str:
        """The name of the repository a push writes to: one that exists, or one a CREATE_ON_PUSH creation template
        will create when its first image is put (until then its blobs are uploaded and checked like any other)."""
        checked = access.repository_name(name)
        registry = self.ctx.registry(self.account)
        with self.store.lock:
            if creation_templates.accepts_push(registry, checked):
                return checked
        raise errors.name_unknown(name, self.account)

    def pull_through(self, ensure, name: str, wanted) -> None:
        """Fill the pull through cache for a read of ``name`` (``ensure`` is ``pull_through.ensure_image`` or
        ``ensure_blob``); an upstream fault is the read's error, a missing image leaves the read to report it."""
        self.ctx.pulled_through = True
        try:
            failure = ensure(self.ctx, self.ctx.registry(self.account), name, wanted)
        except ecr_errors.ServiceError as exc:
            raise from_ecr(exc) from None
        if failure is not None and failure["failureCode"] != "ImageNotFound":
            raise from_failure(failure)

    def resolve(self, needs: Needs, params: dict[str, str]) -> dict:
        """A handler's arguments: the route's path parameters with its ``name`` resolved as ``needs`` says."""
        if needs is Needs.NOTHING:
            return params
        rest = {key: value for key, value in params.items() if key != "name"}
        name = params["name"]
        if needs is Needs.PUSH_TARGET:
            return {"name": self.push_target(name), **rest}
        if needs is Needs.PULLED_IMAGE:
            self.pull_through(pull_through.ensure_image, access.repository_name(name), _image_id(params["reference"]))
        return {"repo": self.repository(name), **rest}

    @typing.overload
    def call(self, operation: str, params: dict) -> dict: ...

    @typing.overload
    def call(self, operation: str, params: dict, tolerate: tuple[str, ...]) -> dict | None: ...

    def call(self, operation: str, params: dict, tolerate: tuple[str, ...] = ()) -> dict | None:
        """Run a JSON API operation in the caller's registry; an error whose code is in ``tolerate`` gives None."""
        try:
            return protocol.dispatch(self.ctx, operation, {"registryId": self.account, **params})
        except ecr_errors.ServiceError as exc:
            if exc.code in tolerate:
                return None
            raise from_ecr(exc) from None


def _challenge_realm(config, addressed: tuple[str, str] | None) -> str:
    """The realm ECR names in its 401 challenge: the registry's own AWS host. A request addressed to a registry host
    name gets that registry's; any other gets the default account's in the default region."""
    account, region = addressed or (config.account_id, config.default_region)
    return f"https://{account}.dkr.ecr.{region}.amazonaws.com/"


def _caller() -> _Request:
    """The registry a request reaches is the one its host names (``<account>.dkr.ecr.<region>.<domain>``), else the
    one its password names."""
    emulator = extension.current()
    config, store = emulator.config, emulator.store
    addressed = hosts.registry_of(request.host, config.domains)
    realm = _challenge_realm(config, addressed)
    caller, account, region = access.caller(store, request.headers.get("Authorization"), realm)
    if addressed is not None:
        if addressed[1] != region:
            raise access.unauthorized(realm, f"the password is for region {region}, not {addressed[1]}")
        account = addressed[0]
    return _Request(store, config, caller, account, region)


@blueprint.after_request
def _api_version(response: Response) -> Response:
    response.headers.update(API_VERSION)
    return response


@blueprint.errorhandler(RegistryError)
def _registry_error(exc: RegistryError) -> Response:
    return exc.response()


@blueprint.errorhandler(blob_store.DiskFaultError)
def _disk_fault(exc: blob_store.DiskFaultError) -> Response:
    """The machine failed, not the request: 500 with Distribution's catch-all code and a message that says why."""
    log.error("registry request failed: %s", exc)
    return errors.UNKNOWN.error(str(exc)).response()


@blueprint.errorhandler(StateWriteError)
def _state_write_failure(exc: StateWriteError) -> Response:
    """A change (such as a pull through cache fill) whose journal record could not be written was undone."""
    log.error("registry request failed: %s", exc)
    return errors.UNKNOWN.error(f"the change was not made: {exc}").response()


@blueprint.errorhandler(Exception)
def _internal_error(exc: Exception):
    """Anything else unexpected still answers in the spec's shape (a disk fault outside the blob store, such as the
    journal of a manifest push, saying which); the framework's own refusals pass through."""
    if isinstance(exc, HTTPException):
        return exc
    log.exception("registry request failed")
    if blob_store.is_disk_fault(exc):
        return errors.UNKNOWN.error(f"the emulator's disk failed: {blob_store.fault_reason(exc)}").response()
    return errors.UNKNOWN.error("an internal error occurred in the emulator").response()


def method_not_allowed(exc):
    """Routing refuses a method before any blueprint sees the request, so the app registers this for every 405;
    under /v2 the refusal still takes the spec's JSON error shape rather than the framework's HTML page."""
    if not request.path.startswith("/v2"):
        return exc
    response = errors.method_unsupported(request.method, ", ".join(exc.valid_methods or ())).response()
    response.headers.update(API_VERSION)
    return response


@dataclasses.dataclass(frozen=True)
class _Route:
    """A route's handler and what it needs resolved first: the repository (``needs``) and the IAM action the
    registry checks itself (None where the handler runs a JSON operation, which checks its own)."""

    handler: Callable[..., Response]
    needs: Needs
    action: str | None


_ROUTES: dict[tuple[str, str], _Route] = {}


def _route(kind: str, method: str, needs: Needs = Needs.NOTHING, action: str | None = None):
    """Declare ``handler`` the answer to ``method`` on paths of ``kind`` (see ``_PATHS``)."""
    def declare(handler: Callable[..., Response]) -> Callable[..., Response]:
        _ROUTES[(kind, method)] = _Route(handler, needs, action)
        return handler
    return declare


def _dispatch(kind: str, params: dict[str, str]) -> Response:
    """Run the route for ``kind`` and the request's method once its caller, repository and permission are resolved,
    refusing in this order: a method the path does not take, then credentials, then the name and its repository,
    then the permission."""
    route = _ROUTES.get((kind, request.method))
    if route is None:
        raise errors.method_unsupported(request.method)
    caller = _caller()
    arguments = caller.resolve(route.needs, params)
    if route.action is not None:
        caller.authorize(route.action, params.get("name"))
    return route.handler(caller, **arguments)


@blueprint.route("/v2/", methods=["GET", "HEAD"])
@blueprint.route("/v2", methods=["GET", "HEAD"])
def base():
    return _dispatch("base", {})


@blueprint.route("/v2/_catalog", methods=["GET"])
def catalog():
    return _dispatch("catalog", {})


@blueprint.route("/v2/<anypath:path>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def route(path: str):
    for pattern, kind in _PATHS:
        match = pattern.fullmatch(path)
        if match:
            return _dispatch(kind, match.groupdict())
    raise errors.NAME_UNKNOWN.error("no such registry endpoint", detail={"path": path})


def _json(body: dict, status: int = 200, headers: dict | None = None, content_type="application/json") -> Response:
    return Response(json.dumps(body), status=status, content_type=content_type, headers=headers or {})


def _page(items: list[str], path: str) -> tuple[list[str], dict]:
    """A ``n``/``last`` page of sorted names and the ``Link`` header to the next one."""
    n = request.args.get("n")
    last = request.args.get("last")
    if n is not None and (not n.isdigit() or int(n) < 0):
        raise errors.PAGINATION_NUMBER_INVALID.error(detail={"n": n})
    limit = int(n) if n is not None else DEFAULT_PAGE
    start = 0
    if last is not None:
        start = bisect.bisect_right(items, last)
    page = items[start:start + limit]
    headers = {}
    if start + limit < len(items) and page:
        headers["Link"] = f'<{path}?n={limit}&last={page[-1]}>; rel="next"'
    return page, headers


def _chunks():
    stream = request.stream
    while True:
        chunk = stream.read(blob_store.CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


# The registry itself.

@_route("base", "GET")
@_route("base", "HEAD")
def api_version_check(caller: _Request):
    """The base endpoint only says whether the credentials are good."""
    return Response("{}", content_type="application/json")


@_route("catalog", "GET", action="ecr:DescribeRepositories")
def list_repositories(caller: _Request):
    with caller.store.lock:
        names = sorted(caller.ctx.registry(caller.account).repositories)
    page, link = _page(names, "/v2/_catalog")
    return _json({"repositories": page}, headers=link)


# Blobs.

@_route("blob", "GET", Needs.PUSH_TARGET, "ecr:GetDownloadUrlForLayer")
@_route("blob", "HEAD", Needs.PUSH_TARGET, "ecr:BatchCheckLayerAvailability")
def get_blob(caller: _Request, name: str, digest: str):
    """A blob is served only through a repository that holds it (see ``blob_links``); one a pull through cache
    rule covers is fetched first."""
    digest = access.digest(digest)
    path = caller.blobs.path(caller.account, caller.region, digest)
    if not _holds(caller, name, digest):
        caller.pull_through(pull_through.ensure_blob, name, digest)
    if not _holds(caller, name, digest):
        raise errors.BLOB_UNKNOWN.error(detail={"digest": digest})
    return blob_response(path, digest)


def _holds(caller: _Request, name: str, digest: str) -> bool:
    """Whether repository ``name`` holds blob ``digest`` and its file is there to serve."""
    with caller.store.lock:
        held = blob_links.holds(caller.ctx.registry(caller.account), name, digest)
    return held and caller.blobs.path(caller.account, caller.region, digest).is_file()


@_route("blob", "DELETE")
def delete_blob(caller: _Request, name: str, digest: str):
    """ECR has no blob deletion (layers go with their repository), so the specification's answer for a registry
    that does not delete blobs, whatever the path names."""
    raise errors.UNSUPPORTED.error("blob deletion is not supported; delete images or the repository",
                                   headers={"Allow": "GET, HEAD"})


def _held(caller: _Request, name: str, digest: str, store_blob) -> None:
    """Run ``store_blob`` (which makes the file ``digest``) and let repository ``name`` hold the blob it made."""
    registry = caller.ctx.registry(caller.account)
    with blob_links.claiming(caller.store, registry, digest):
        store_blob()
        with caller.store.lock:
            blob_links.grant(caller.store, registry, name, digest)


def _blob_created(name: str, digest: str) -> Response:
    return Response(status=201, headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest,
                                         "Content-Length": "0"})


def _reached(size: int) -> str:
    """The ``Range`` an upload of ``size`` bytes has reached."""
    return f"0-{max(size - 1, 0)}"


def _upload_status(name: str, upload_id: str, size: int, status: int) -> Response:
    return Response(status=status, headers={
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}", "Docker-Upload-UUID": upload_id,
        "Range": _reached(size), "Content-Length": "0"})


@_route("uploads", "POST", Needs.PUSH_TARGET, "ecr:InitiateLayerUpload")
def start_upload(caller: _Request, name: str):
    """POST: a cross-repository mount (``mount``/``from``), a monolithic upload (``digest``), or a new session. A
    mount that is refused falls back to what the request would otherwise be, as the specification says."""
    mount = request.args.get("mount")
    if mount is not None:
        mounted_digest = access.digest(mount)
        with caller.store.lock:
            mounted = blob_links.mount(caller.store, caller.ctx.registry(caller.account), name, mounted_digest,
                                       request.args.get("from"))
        if mounted:
            return _blob_created(name, mounted_digest)
    digest = request.args.get("digest")
    if digest is not None:
        access.digest(digest)
        try:
            _held(caller, name, digest, lambda: caller.blobs.put(caller.account, caller.region, _chunks(), digest))
        except blob_store.DigestMismatchError as exc:
            raise errors.digest_mismatch(digest, exc.actual) from None
        return _blob_created(name, digest)
    upload_id = caller.blobs.start_upload(caller.account, caller.region)
    return _upload_status(name, upload_id, 0, 202)


def _upload_size(caller: _Request, upload_id: str) -> int:
    try:
        return caller.blobs.upload_size(caller.account, caller.region, upload_id)
    except blob_store.UnknownUploadError:
        raise errors.upload_unknown(upload_id) from None


def _content_range_start(size: int) -> int | None:
    """The first byte a PATCH claims to carry (``Content-Range: start-end``), or None without the header."""
    header = request.headers.get("Content-Range")
    if header is None:
        return None
    match = re.fullmatch(r"(?:bytes[ =])?(\d+)-(\d+)", header.strip())
    if match is None or int(match.group(2)) < int(match.group(1)):
        raise errors.BLOB_UPLOAD_INVALID.error("invalid Content-Range", detail={"Content-Range": header},
                                               headers={"Range": _reached(size)})
    return int(match.group(1))


def _append(caller: _Request, name: str, upload_id: str, offset: int | None) -> int:
    try:
        return caller.blobs.append(caller.account, caller.region, upload_id, _chunks(), offset)
    except blob_store.UploadOffsetError as exc:
        raise errors.BLOB_UPLOAD_INVALID.error(
            "chunk does not start where the upload ends", detail={"expectedOffset": exc.size},
            headers={"Range": _reached(exc.size), "Location": f"/v2/{name}/blobs/uploads/{upload_id}"}) from None
    except blob_store.UnknownUploadError:
        raise errors.upload_unknown(upload_id) from None


@_route("upload", "PATCH", Needs.PUSH_TARGET, "ecr:UploadLayerPart")
def patch_upload(caller: _Request, name: str, upload: str):
    size = _upload_size(caller, upload)
    size = _append(caller, name, upload, _content_range_start(size))
    return _upload_status(name, upload, size, 202)


@_route("upload", "PUT", Needs.PUSH_TARGET, "ecr:CompleteLayerUpload")
def finish_upload(caller: _Request, name: str, upload: str):
    _upload_size(caller, upload)
    digest = request.args.get("digest")
    if digest is None:
        raise errors.DIGEST_INVALID.error("a digest query parameter is required to finish an upload")
    access.digest(digest)
    _append(caller, name, upload, None)
    try:
        _held(caller, name, digest, lambda: caller.blobs.finish(caller.account, caller.region, upload, digest))
    except blob_store.DigestMismatchError as exc:
        raise errors.digest_mismatch(digest, exc.actual) from None
    return _blob_created(name, digest)


@_route("upload", "GET", Needs.PUSH_TARGET, "ecr:UploadLayerPart")
def upload_status(caller: _Request, name: str, upload: str):
    return _upload_status(name, upload, _upload_size(caller, upload), 204)


@_route("upload", "DELETE", Needs.PUSH_TARGET, "ecr:UploadLayerPart")
def cancel_upload(caller: _Request, name: str, upload: str):
    _upload_size(caller, upload)
    caller.blobs.cancel(caller.account, caller.region, upload)
    return Response(status=204)


# Manifests.

def _image_id(reference: str) -> dict:
    reference = access.reference(reference)
    return {"imageDigest": reference} if access.is_digest(reference) else {"imageTag": reference}


def _accepted_types() -> list[str] | None:
    """The manifest types the client's Accept header allows; None when it allows any."""
    accepted = [part.split(";")[0].strip() for part in request.headers.getlist("Accept") for part in part.split(",")]
    accepted = [a for a in accepted if a]
    if not accepted or any(a in ("*/*", "application/*") for a in accepted):
        return None
    known = [a for a in accepted if a in manifests.MANIFEST_TYPES or a == "application/json"]
    if "application/json" in known:
        return None
    return known or None


def _manifest_headers(image_digest: str, media_type: str, length: int) -> dict:
    return {"Docker-Content-Digest": image_digest, "Content-Type": media_type, "Content-Length": str(length),
            "ETag": f'"{image_digest}"'}


@_route("manifest", "GET", Needs.PULLED_IMAGE)
def get_manifest(caller: _Request, repo, reference: str):
    params = {"repositoryName": repo.name, "imageIds": [_image_id(reference)]}
    accepted = _accepted_types()
    if accepted:
        params["acceptedMediaTypes"] = accepted
    reply = caller.call("BatchGetImage", params)
    if reply["failures"]:
        raise from_failure(reply["failures"][0])
    image = reply["images"][0]
    body = image["imageManifest"].encode()
    return Response(body, headers=_manifest_headers(image["imageId"]["imageDigest"], image["imageManifestMediaType"],
                                                    len(body)))


@_route("manifest", "HEAD", Needs.PULLED_IMAGE, "ecr:BatchGetImage")
def head_manifest(caller: _Request, repo, reference: str):
    """HEAD answers what GET would without counting as a pull."""
    image_id = _image_id(reference)
    accepted = _accepted_types()
    with caller.store.lock:
        storage.settle(repo, caller.store.clock.now())
        images = repo.images
        image = images.by_tag.get(image_id["imageTag"]) if "imageTag" in image_id else images.by_digest.get(
            image_id["imageDigest"])
        if image is None or (accepted and image.media_type not in accepted):
            raise errors.MANIFEST_UNKNOWN.error(detail=image_id)
        if image.storage_class == "ARCHIVE":
            raise errors.MANIFEST_UNKNOWN.error("the image is archived and cannot be pulled until it is restored",
                                                detail=image_id)
        headers = _manifest_headers(image.digest, image.media_type, len(image.manifest))
    return Response(status=200, headers=headers)


@_route("manifest", "PUT", Needs.PUSH_TARGET)
def put_manifest(caller: _Request, name: str, reference: str):
    image_id = _image_id(reference)
    limit = model.shape("ImageManifest")["max"]
    if (request.content_length or 0) > limit:
        raise errors.manifest_too_large(limit)
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise errors.manifest_too_large(limit)
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise errors.MANIFEST_INVALID.error("manifest is not UTF-8 JSON") from None
    if not text:
        raise errors.MANIFEST_INVALID.error("manifest is empty")
    params = {"repositoryName": name, "imageManifest": text, **image_id}
    media_type = (request.mimetype or "").strip()
    if media_type in manifests.MANIFEST_TYPES:
        params["imageManifestMediaType"] = media_type
    digest = manifests.digest_of(data)
    caller.call("PutImage", params, tolerate=("ImageAlreadyExistsException",))
    headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest, "Content-Length": "0"}
    with caller.store.lock:
        image = caller.repository(name).images.by_digest.get(digest)
        subject = image.subject if image is not None else None
    if subject:
        headers["OCI-Subject"] = subject
    return Response(status=201, headers=headers)


@_route("manifest", "DELETE", Needs.REPOSITORY)
def delete_manifest(caller: _Request, repo, reference: str):
    reply = caller.call("BatchDeleteImage", {"repositoryName": repo.name, "imageIds": [_image_id(reference)]})
    if reply["failures"]:
        raise from_failure(reply["failures"][0])
    return Response(status=202, headers={"Content-Length": "0"})


# Listings.

@_route("tags", "GET", Needs.REPOSITORY, "ecr:ListImages")
def list_tags(caller: _Request, repo):
    with caller.store.lock:
        tags = sorted(repo.images.by_tag)
    page, link = _page(tags, f"/v2/{repo.name}/tags/list")
    return _json({"name": repo.name, "tags": page}, headers=link)


@_route("referrers", "GET", Needs.REPOSITORY, "ecr:ListImageReferrers")
def referrers(caller: _Request, repo, digest: str):
    """An OCI image index of the manifests whose subject is ``digest``, optionally of one artifactType."""
    access.digest(digest)
    wanted = request.args.get("artifactType")
    descriptors = []
    with caller.store.lock:
        for image in referrer_images.referrers(repo, digest, wanted):
            descriptor = {"mediaType": image.media_type, "digest": image.digest, "size": len(image.manifest)}
            if image.artifact_media_type:
                descriptor["artifactType"] = image.artifact_media_type
            annotations = referrer_images.annotations(image)
            if annotations:
                descriptor["annotations"] = annotations
            descriptors.append(descriptor)
    headers = {"OCI-Filters-Applied": "artifactType"} if wanted else {}
    return _json({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": descriptors}, headers=headers,
                 content_type=manifests.OCI_INDEX)
