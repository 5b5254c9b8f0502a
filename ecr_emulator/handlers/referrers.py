"""Artifacts attached to images: ListImageReferrers and DescribeImageSigningStatus."""

from .. import errors
from ..api.context import RequestContext
from ..models import referrers, signing, storage
from ..models.manifests import DIGEST_SYNTAX
from . import lookup, operation, paging

DEFAULT_PAGE = 50


@operation("ListImageReferrers")
def list_image_referrers(ctx: RequestContext, params: dict) -> dict:
    """Referrers in push order, ACTIVE ones unless the filter asks otherwise; the token carries the push sequence
    number of the last one served, so paging survives pushes and deletions in between."""
    _, repo = ctx.repository(params)
    subject = params["subjectId"]["imageDigest"]
    if not DIGEST_SYNTAX.fullmatch(subject):
        raise errors.invalid_parameter(
            "subjectId", "image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
    wanted = params.get("filter", {})
    types = wanted.get("artifactTypes") or None
    status = wanted.get("artifactStatus", "ACTIVE")
    after = paging.decode(params.get("nextToken"), int) or 0
    limit = params.get("maxResults", DEFAULT_PAGE)
    with ctx.store.lock:
        storage.settle(repo, ctx.clock.now())
        found = [image for image in referrers.referrers(repo, subject, types)
                 if image.seq > after and (status == "ANY" or image.status == status)]
        page = found[:limit]
        result: dict = {"referrers": [{
            "digest": image.digest, "mediaType": image.media_type, "artifactType": image.artifact_media_type,
            "size": len(image.manifest), "annotations": referrers.annotations(image), "artifactStatus": image.status,
        } for image in page]}
    if len(found) > limit:
        result["nextToken"] = paging.encode(page[-1].seq)
    return result


@operation("DescribeImageSigningStatus")
def describe_image_signing_status(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    with ctx.store.lock:
        image = lookup.image(repo, params["imageId"])
        return {"registryId": repo.account, "repositoryName": repo.name,
                "imageId": lookup.echoed_id(image, params["imageId"]),
                "signingStatuses": signing.statuses(registry, repo, image)}
