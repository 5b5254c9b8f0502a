"""Pulling through a pull through cache rule: a pull of a repository a rule covers that finds the image missing, or a
cached tag due for its check against the upstream, fetches it from the rule's upstream registry first.

The fetch runs before the pull's own operation and outside the store lock (it waits on the network): the manifest
(and for a list every platform manifest it names) is read into memory within the model's manifest size limit and
verified against its digest, every blob not cached yet streams to the blob store, which keeps it only when it hashes
to its digest, and only then are the images stored, under the lock, through PutImage's own path, so creation
templates, replication and scan on push follow. A fetch cut short stores no image and creates no repository. With a
state directory the stored manifests are journaled like any acknowledged change. Pulls of the same missing image
wait for one fetch. When the upstream cannot be asked, a cached image is still served; an image that is not cached
is answered with ECR's upstream failure code.
"""

import concurrent.futures
import threading

from .. import errors
from ..api.context import RequestContext
from ..models import blob_links, image_ops, manifests
from ..models import pull_through_cache as ptc
from ..models.store import Registry
from ..specs import model
from ..specs.validate import validate
from ..state.persistence import StateWriteError
from . import settings
from .client import ACCESS_DENIED, NOT_FOUND, UNAVAILABLE, RegistryClient, UpstreamError
from .sources import EcrSource, HttpSource

_inflight: dict[tuple, concurrent.futures.Future] = {}
_inflight_lock = threading.Lock()


def _once(key: tuple, work):
    """Run ``work`` unless a call with the same key is already running; then wait for and share its outcome."""
    with _inflight_lock:
        running = _inflight.get(key)
        if running is None:
            future: concurrent.futures.Future = concurrent.futures.Future()
            _inflight[key] = future
    if running is not None:
        return running.result()
    try:
        result = work()
    except BaseException as exc:
        future.set_exception(exc)
        raise
    else:
        future.set_result(result)
        return result
    finally:
        with _inflight_lock:
            _inflight.pop(key, None)


def prepare(ctx: RequestContext, operation: str, params: dict) -> None:
    """Before BatchGetImage or GetDownloadUrlForLayer runs: fill the cache for what it asks for, leaving in
    ``ctx.upstream_failures`` why an image or layer could not be fetched, for the operation to report. A request
    whose cache fill already ran (a /v2 pull, which then reads through BatchGetImage) does not ask again."""
    if operation not in ("BatchGetImage", "GetDownloadUrlForLayer") or ctx.store.replaying or ctx.pulled_through:
        return
    ctx.pulled_through = True
    registry_id = params.get("registryId")
    if registry_id is not None and not (isinstance(registry_id, str) and ptc.ACCOUNT_ID.fullmatch(registry_id)):
        return  # the operation itself reports the fault
    registry = ctx.registry(registry_id)
    if not ptc.rules(registry):
        return
    try:
        params = validate(operation, params)
    except errors.ServiceError:
        return
    name = params["repositoryName"]
    if operation == "BatchGetImage":
        for image_id in params["imageIds"]:
            failure = ensure_image(ctx, registry, name, image_id)
            if failure is not None:
                ctx.upstream_failures[(image_id.get("imageDigest"), image_id.get("imageTag"))] = failure
    else:
        failure = ensure_blob(ctx, registry, name, params["layerDigest"])
        if failure is not None:
            ctx.upstream_failures[params["layerDigest"]] = failure


def ensure_image(ctx: RequestContext, registry: Registry, name: str, image_id: dict) -> dict | None:
    """Fetch the image ``image_id`` names into repository ``name`` when a rule covers it and it is missing, or its
    tag is due for a check; None when the pull can go ahead, else the failure ({failureCode, failureReason})."""
    tag, digest = image_id.get("imageTag"), image_id.get("imageDigest")
    reference = tag or digest
    if reference is None or (tag is None and not manifests.is_digest(reference)):
        return None
    store = ctx.store
    with store.lock:
        rule = ptc.rule_for(registry, name)
        if rule is None:
            return None
        repo = registry.repositories.get(name)
        images = repo.images if repo is not None else None
        cached = images is not None and (images.by_tag.get(tag) if tag else images.by_digest.get(reference)) is not None
        if cached and (tag is None or ptc.is_fresh(repo, tag, store.clock.now())):
            return None
        rule = dict(rule)
    try:
        _once((registry.account, registry.region, name, reference),
              lambda: _fill(ctx, registry, rule, name, reference, tag))
    except UpstreamError as exc:
        if cached:
            return None
        return {"failureCode": exc.code, "failureReason": exc.message}
    return None


def ensure_blob(ctx: RequestContext, registry: Registry, name: str, digest: str) -> dict | None:
    """Fetch a blob of a cached repository that the repository does not hold yet (a layer pulled before its image's
    manifest was) and let the repository hold it; None when the read can go ahead, else the failure. The upstream
    is asked even when another repository holds the same bytes: only the upstream can say the layer is this
    repository's."""
    store = ctx.store
    if not manifests.is_digest(digest):
        return None
    with store.lock:
        rule = ptc.rule_for(registry, name)
        if rule is None or name not in registry.repositories or blob_links.holds(registry, name, digest):
            return None
        rule = dict(rule)
    try:
        with blob_links.claiming(store, registry, digest):
            _once((registry.account, registry.region, "blob", digest),
                  lambda: _source(ctx, registry, rule).fetch_blob(ptc.upstream_repository(rule, name), digest))
            with store.lock:
                blob_links.grant(store, registry, name, digest)
    except UpstreamError as exc:
        return {"failureCode": exc.code, "failureReason": exc.message}
    return None


def validate_upstream(ctx: RequestContext, registry: Registry, rule: dict) -> str | None:
    """Why the rule's upstream cannot be reached or signed in to with its credentials, or None."""
    try:
        _source(ctx, registry, rule).check()
    except UpstreamError as exc:
        return exc.message
    return None


def _source(ctx: RequestContext, registry: Registry, rule: dict):
    url = rule["upstreamRegistryUrl"]
    if rule["upstreamRegistry"] == "ecr":
        match = ptc.UPSTREAMS["ecr"][0].fullmatch(url)
        assert match is not None, "an ecr rule is one whose URL this pattern matches"
        return EcrSource(ctx.store, match["account"], match["region"], registry.account, registry.region,
                         rule.get("customRoleArn"))
    username = password = None
    arn = rule.get("credentialArn")
    if arn is not None:
        secret = ctx.config.upstream_credentials.get(arn)
        if secret is None:
            raise UpstreamError(ACCESS_DENIED, f"The secret {arn} of the pull through cache rule could not be read: "
                                               f"it is not in the emulator's --upstream-credentials file.")
        username, password = secret
    client = RegistryClient(settings.endpoint(ctx.config.upstream_endpoints, url), username, password)
    return HttpSource(client, ctx.store, registry.account, registry.region)


def _fill(ctx: RequestContext, registry: Registry, rule: dict, name: str, reference: str, tag: str | None) -> None:
    """Fetch ``reference`` of the upstream repository and store it as ``name`` (a tag whose upstream digest is the
    cached one only has its check time moved), journaled with a state directory."""
    upstream_name = ptc.upstream_repository(rule, name)
    if rule["upstreamRegistry"] == "docker-hub" and "/" not in upstream_name:
        raise UpstreamError(NOT_FOUND, f"Docker Hub official images are pulled with the library/ prefix: "
                                       f"{rule['ecrRepositoryPrefix']}/library/{upstream_name}.")
    source = _source(ctx, registry, rule)
    limit = model.shape("ImageManifest")["max"]
    data, media_type = _manifest(source, upstream_name, reference, limit)
    store = ctx.store
    with store.lock:
        repo = registry.repositories.get(name)
        current = repo.images.by_tag.get(tag) if repo is not None and tag else None
        unchanged = current is not None and current.digest == manifests.digest_of(data)
    fetched = [] if unchanged else _fetch_image(source, store.blobs, registry, upstream_name, data,
                                                media_type, limit)
    with store.lock:
        now = store.clock.now()
        with store.clock.frozen_at(now):
            ptc.store_fetched(store, registry, name, fetched, tag, now)
        if store.persistence is not None:
            try:
                store.persistence.append(ptc.journal_record(registry.account, registry.region, now, name, fetched,
                                                            tag))
            except StateWriteError as exc:
                raise errors.change_not_made(exc) from None


def _manifest(source, repository: str, reference: str, limit: int) -> tuple[bytes, str | None]:
    """A manifest from the upstream, checked as PutImage checks one and, when named by digest, against it."""
    data, media_type = source.manifest(repository, reference, limit)
    try:
        data.decode()
        image_ops.parse_manifest(data, media_type if media_type in manifests.MANIFEST_TYPES else None,
                                 reference if manifests.is_digest(reference) else None)
    except errors.ImageDigestDoesNotMatchException:
        raise UpstreamError(UNAVAILABLE, f"The upstream registry sent a manifest for {repository}@{reference} "
                                         f"whose digest is {manifests.digest_of(data)}; nothing was cached.") from None
    except (errors.InvalidParameterException, UnicodeDecodeError) as exc:
        raise UpstreamError(UNAVAILABLE, f"The upstream registry sent a manifest for {repository}:{reference} "
                                         f"that cannot be stored: {exc}") from None
    return data, (media_type if media_type in manifests.MANIFEST_TYPES else None)


def _fetch_image(source, blobs, registry: Registry, repository: str, data: bytes, media_type: str | None,
                 limit: int) -> list[tuple[bytes, str]]:
    """Every manifest and blob of an image, blobs into the blob store, manifests returned platform manifests first:
    a multi-architecture image is cached with each image its list names, as AWS documents."""
    top = image_ops.parse_manifest(data, media_type)
    fetched = []
    for child in top.children:
        child_data, child_type = _manifest(source, repository, child, limit)
        fetched.append((child_data, image_ops.parse_manifest(child_data, child_type)))
    fetched.append((data, top))
    for _, parsed in fetched:
        for digest in parsed.blobs():
            if not blobs.exists(registry.account, registry.region, digest):
                source.fetch_blob(repository, digest)
    return [(raw, parsed.media_type) for raw, parsed in fetched]
