"""Image operations: PutImage, BatchGetImage, BatchDeleteImage, DescribeImages, ListImages."""

from .. import errors
from ..api.context import RequestContext, caller_arn
from ..models import blob_links, creation_templates, image_ops, replication, settings, storage
from ..models.images import Image
from ..models.repository import Repository
from . import lookup, operation, paging
from .views import image_detail

DEFAULT_PAGE = 100


def blob_size_in(ctx: RequestContext, registry, name: str):
    """How PutImage learns whether repository ``name`` holds a blob (and its size)."""
    blobs = ctx.store.blobs
    if blobs is None:
        return lambda digest: None
    return lambda digest: (blobs.size(registry.account, registry.region, digest)
                           if blob_links.holds(registry, name, digest) else None)


def _push_target(registry, name: str) -> Repository | None:
    """The repository a push goes to; None when it does not exist yet but a CREATE_ON_PUSH template will create it."""
    if not creation_templates.accepts_push(registry, name):
        raise errors.repository_not_found(name, registry.account)
    return registry.repositories.get(name)


@operation("PutImage")
def put_image(ctx: RequestContext, params: dict) -> dict:
    """A push to a repository that does not exist creates it when a CREATE_ON_PUSH creation template covers its name;
    the repository is kept only if the image is stored."""
    registry = ctx.registry(params.get("registryId"))
    name = params["repositoryName"]
    with ctx.store.lock:
        _push_target(registry, name)
    data = params["imageManifest"].encode()
    manifest = image_ops.parse_manifest(data, params.get("imageManifestMediaType"), params.get("imageDigest"))
    with ctx.store.lock:
        repo = _push_target(registry, name) or creation_templates.new_repository(
            registry, name, ctx.clock.now(), "CREATE_ON_PUSH")
        if repo is None:
            raise errors.repository_not_found(name, registry.account)
        # A replayed push was checked when it was acknowledged, against uploads the journal does not hold.
        strict = ctx.config.strict_layers and not ctx.store.replaying
        image = image_ops.put_image(ctx.store, repo, manifest, data, tag=params.get("imageTag"), strict=strict,
                                    blob_size=blob_size_in(ctx, registry, name))
        registry.repositories.setdefault(name, repo)
        replication.replicate(ctx.store, registry, repo, image, manifest, params.get("imageTag"))
    image_id = {"imageDigest": manifest.digest}
    if "imageTag" in params:
        image_id["imageTag"] = params["imageTag"]
    return {"image": {"registryId": repo.account, "repositoryName": repo.name, "imageId": image_id,
                      "imageManifest": params["imageManifest"], "imageManifestMediaType": manifest.media_type}}


@operation("BatchGetImage")
def batch_get_image(ctx: RequestContext, params: dict) -> dict:
    """A pull records lastRecordedPullTime unless the caller is registered as a pull-time update exclusion. An
    image a pull through cache rule could not fetch (``pull_through.prepare``) fails with the upstream failure code;
    when the upstream could not be asked and the repository was never created, the whole call fails."""
    try:
        registry, repo = ctx.repository(params)
    except errors.RepositoryNotFoundException:
        faults = [f for f in ctx.upstream_failures.values() if f["failureCode"] != "ImageNotFound"]
        if faults:
            raise errors.UnableToGetUpstreamImageException(faults[0]["failureReason"]) from None
        raise
    accepted = params.get("acceptedMediaTypes")
    images, failures = [], []
    with ctx.store.lock:
        now = ctx.clock.now()
        storage.settle(repo, now)
        record_pulls = not settings.pull_time_update_excluded(registry, caller_arn(ctx))
        for image_id in lookup.unique(params["imageIds"]):
            image, failure = lookup.resolve(repo, image_id)
            if image is not None:
                if image.storage_class == "ARCHIVE":
                    failure = lookup.failure(image_id, "ImageInaccessible",
                                             "The image is archived; restore it to STANDARD before pulling it"
                                             if image.status == "ARCHIVED" else
                                             "The image is being restored from archive and cannot be pulled until "
                                             "the restore completes")
                elif accepted and image.media_type not in accepted:
                    failure = lookup.failure(image_id, "ImageNotFound",
                                             "Requested image not found with the accepted media types")
            upstream = ctx.upstream_failures.get((image_id.get("imageDigest"), image_id.get("imageTag")))
            if failure is not None and failure["failureCode"] == "ImageNotFound" and upstream is not None:
                failure = lookup.failure(image_id, upstream["failureCode"], upstream["failureReason"])
            if failure is not None:
                failures.append(failure)
                continue
            assert image is not None, "lookup.resolve gives an image or a failure"
            if record_pulls:
                image_ops.record_pull(image, now)
            images.append({
                "registryId": repo.account, "repositoryName": repo.name,
                "imageId": {"imageDigest": image.digest, **({"imageTag": image_id["imageTag"]}
                                                           if "imageTag" in image_id else {})},
                "imageManifest": image.manifest.decode(), "imageManifestMediaType": image.media_type})
    return {"images": images, "failures": failures}


@operation("BatchDeleteImage")
def batch_delete_image(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    deleted: list[dict] = []
    failures: list[dict] = []
    with ctx.store.lock:
        for image_id in lookup.unique(params["imageIds"]):
            image, failure = lookup.resolve(repo, image_id)
            if image is not None:
                failure = _delete(ctx, repo, image, image_id, deleted)
            if failure is not None:
                failures.append(failure)
    return {"imageIds": deleted, "failures": failures}


def _delete(ctx: RequestContext, repo: Repository, image: Image, image_id: dict, deleted: list) -> dict | None:
    """Delete by tag removes that tag (and the image with its last tag); an identifier that names the digest, with
    or without a matching tag, removes the image and every tag, as the BatchDeleteImage API reference says of
    "specifying the image's digest in your request"."""
    tag = image_id.get("imageTag") if "imageDigest" not in image_id else None
    last_reference = tag is None or image.tags == [tag]
    if last_reference:
        parents = image_ops.referencing_lists(repo, image)
        if parents:
            return lookup.failure(image_id, "ImageReferencedByManifestList",
                                  f"Requested image referenced by manifest list: {parents}")
    if tag is not None:
        image_ops.untag(ctx.store, repo, tag)
        deleted.append({"imageDigest": image.digest, "imageTag": tag})
        return None
    tags = list(image.tags)
    image_ops.delete_image(ctx.store, repo, image)
    deleted.extend({"imageDigest": image.digest, "imageTag": t} for t in tags)
    if not tags:
        deleted.append({"imageDigest": image.digest})
    return None


def _status_filter(params: dict):
    """The keep-predicate for a tagStatus / imageStatus filter (only ACTIVE images unless asked otherwise)."""
    wanted = params.get("filter", {})
    tag_status = wanted.get("tagStatus", "ANY")
    image_status = wanted.get("imageStatus", "ACTIVE")

    def keep(image: Image) -> bool:
        if tag_status == "TAGGED" and not image.tags or tag_status == "UNTAGGED" and image.tags:
            return False
        return image_status == "ANY" or image.status == image_status
    return keep


def _page_limit(params: dict) -> int:
    return params.get("maxResults", DEFAULT_PAGE)


@operation("DescribeImages")
def describe_images(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    with ctx.store.lock:
        now = ctx.clock.now()
        storage.settle(repo, now)
        if "imageIds" in params:
            if "maxResults" in params or "nextToken" in params:
                raise errors.paging_with_ids("maxResults", "imageIds")
            return {"imageDetails": [image_detail(registry, repo, image, now)
                                     for image in lookup.described(repo, params["imageIds"])]}
        after = paging.decode(params.get("nextToken"), int) or 0
        images, last = repo.images.page(after, _page_limit(params), _status_filter(params))
        result: dict = {"imageDetails": [image_detail(registry, repo, image, now) for image in images]}
        if last is not None:
            result["nextToken"] = paging.encode(last)
        return result


@operation("ListImages")
def list_images(ctx: RequestContext, params: dict) -> dict:
    """One id per tag (and one for an untagged image), paged by entry: the token names an image and how many of its
    ids were already served, so a page never exceeds maxResults."""
    _, repo = ctx.repository(params)
    limit = _page_limit(params)
    state = paging.decode(params.get("nextToken"), list)
    if state is not None and (len(state) != 2 or not all(isinstance(v, int) for v in state)):
        raise errors.invalid_next_token()
    seq, skip = state or (0, 0)
    keep = _status_filter(params)
    out: list[dict] = []
    with ctx.store.lock:
        after = seq - 1 if state else 0
        while True:
            images, more = repo.images.page(after, limit, keep)
            for image in images:
                entries = ([{"imageDigest": image.digest, "imageTag": t} for t in image.tags]
                           or [{"imageDigest": image.digest}])
                start = skip if image.seq == seq else 0
                for i in range(start, len(entries)):
                    if len(out) == limit:
                        return {"imageIds": out, "nextToken": paging.encode([image.seq, i])}
                    out.append(entries[i])
            if more is None:
                return {"imageIds": out}
            after = more
