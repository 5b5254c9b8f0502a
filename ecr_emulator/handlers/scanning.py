"""Basic image scanning: StartImageScan and DescribeImageScanFindings (the model is ``models.scans``)."""

from .. import errors, paging
from ..context import RequestContext
from ..models import scans, storage
from . import lookup, operation

DEFAULT_PAGE = 100


@operation("StartImageScan")
def start_image_scan(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    with ctx.store.lock:
        now = ctx.clock.now()
        storage.settle(repo, now)
        image = lookup.image(repo, params["imageId"])
        scans.start(image, now)
        return {"registryId": repo.account, "repositoryName": repo.name,
                "imageId": lookup.echoed_id(image, params["imageId"]), "imageScanStatus": scans.status(image, now)}


@operation("DescribeImageScanFindings")
def describe_image_scan_findings(ctx: RequestContext, params: dict) -> dict:
    """Findings appear once the scan is COMPLETE; the token is the offset of the next finding."""
    _, repo = ctx.repository(params)
    offset = paging.decode(params.get("nextToken"), int) or 0
    if offset < 0:
        raise paging.invalid()
    limit = params.get("maxResults", DEFAULT_PAGE)
    with ctx.store.lock:
        now = ctx.clock.now()
        storage.settle(repo, now)
        image_id = params["imageId"]
        image = lookup.image(repo, image_id)
        status = scans.status(image, now)
        if status is None:
            shown = ", ".join(f"{k}:'{image_id.get(k, 'null')}'" for k in ("imageDigest", "imageTag"))
            raise errors.ScanNotFoundException(
                f"Image scan does not exist for the image with '{{{shown}}}' in the repository with name "
                f"'{repo.name}' in the registry with id '{repo.account}'")
        result = {"registryId": repo.account, "repositoryName": repo.name,
                  "imageId": lookup.echoed_id(image, image_id), "imageScanStatus": status}
        summary = scans.summary(image, now)
        if summary is None:
            return result
        found = scans.findings(image)
        result["imageScanFindings"] = {**summary, "findings": found[offset:offset + limit]}
        if offset + limit < len(found):
            result["nextToken"] = paging.encode(offset + limit)
        return result
