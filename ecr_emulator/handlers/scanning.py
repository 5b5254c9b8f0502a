"""StartImageScan and DescribeImageScanFindings, basic or enhanced as the registry's scan type says (the model is
``models.scans``)."""

from .. import errors
from ..api.context import RequestContext
from ..models import scans, storage
from . import lookup, operation, paging

DEFAULT_PAGE = 100


@operation("StartImageScan")
def start_image_scan(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    with ctx.store.lock:
        now = ctx.clock.now()
        storage.settle(repo, now)
        image = lookup.image(repo, params["imageId"])
        status = scans.start(ctx.store, registry, repo, image, now)
        return {"registryId": repo.account, "repositoryName": repo.name,
                "imageId": lookup.echoed_id(image, params["imageId"]), "imageScanStatus": status}


@operation("DescribeImageScanFindings")
def describe_image_scan_findings(ctx: RequestContext, params: dict) -> dict:
    """Findings appear once a scan is COMPLETE (or ACTIVE, for continuous enhanced scanning); the token is the
    offset of the next finding, and the severity counts cover every finding, not just the page."""
    registry, repo = ctx.repository(params)
    offset = paging.decode(params.get("nextToken"), int) or 0
    if offset < 0:
        raise errors.invalid_next_token()
    limit = params.get("maxResults", DEFAULT_PAGE)
    with ctx.store.lock:
        now = ctx.clock.now()
        storage.settle(repo, now)
        image_id = params["imageId"]
        image = lookup.image(repo, image_id)
        status = scans.status(registry, repo, image, now)
        if status is None:
            raise errors.scan_not_found(image_id, repo.name, repo.account)
        result = {"registryId": repo.account, "repositoryName": repo.name,
                  "imageId": lookup.echoed_id(image, image_id), "imageScanStatus": status}
        summary = scans.summary(registry, repo, image, now)
        listed = scans.findings(registry, repo, image, now)
        if summary is None or listed is None:
            return result
        member, found = listed
        result["imageScanFindings"] = {**summary, member: found[offset:offset + limit]}
        if offset + limit < len(found):
            result["nextToken"] = paging.encode(offset + limit)
        return result
