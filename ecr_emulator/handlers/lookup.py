"""Finding the images an operation names by ImageIdentifier: BatchGetImage's per-id failures, and DescribeImages'
errors for a missing or malformed id, which every operation that names one image answers too."""

from .. import errors
from ..models.images import Image
from ..models.manifests import DIGEST_SYNTAX
from ..models.repository import Repository


def failure(image_id: dict, code: str, reason: str) -> dict:
    """An ImageFailure: the id as given, the code and the reason."""
    return {"imageId": dict(image_id), "failureCode": code, "failureReason": reason}


def resolve(repo: Repository, image_id: dict) -> tuple[Image | None, dict | None]:
    """The image an ImageIdentifier names, or the failure ECR reports for it."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if digest is None and tag is None:
        return None, failure(image_id, "MissingDigestAndTag",
                             "Invalid request parameters: both tag and digest cannot be null")
    if digest is not None and not DIGEST_SYNTAX.fullmatch(digest):
        return None, failure(image_id, "InvalidImageDigest",
                             "Invalid request parameters: image digest should satisfy the regex "
                             "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
    by_tag = repo.images.by_tag.get(tag) if tag is not None else None
    by_digest = repo.images.by_digest.get(digest) if digest is not None else None
    if tag is not None and digest is not None:
        if by_tag is not None and by_digest is not None and by_tag is not by_digest:
            return None, failure(image_id, "ImageTagDoesNotMatchDigest",
                                 "Invalid request parameters: image tag and digest do not match")
        image = by_tag if by_tag is by_digest else None
    else:
        image = by_tag if tag is not None else by_digest
    if image is None:
        return None, failure(image_id, "ImageNotFound", "Requested image not found")
    return image, None


def unique(image_ids: list[dict]) -> list[dict]:
    """The ids in request order, each once."""
    seen, out = set(), []
    for image_id in image_ids:
        key = (image_id.get("imageDigest"), image_id.get("imageTag"))
        if key not in seen:
            seen.add(key)
            out.append(image_id)
    return out


def described(repo: Repository, image_ids: list[dict]) -> list[Image]:
    """The images ``image_ids`` name, each once; ImageNotFoundException (as DescribeImages answers) for any missing."""
    found: dict[str, Image] = {}
    for image_id in unique(image_ids):
        image, fault = resolve(repo, image_id)
        if fault is not None and fault["failureCode"] != "ImageNotFound":
            raise errors.refused_parameter("imageIds", fault["failureReason"])
        if image is None:
            raise errors.image_not_found(image_id, repo.name, repo.account)
        found.setdefault(image.digest, image)
    return list(found.values())


def image(repo: Repository, image_id: dict) -> Image:
    """The one image an operation names."""
    return described(repo, [image_id])[0]


def echoed_id(image: Image, image_id: dict) -> dict:
    """The imageId a reply names: the digest, and the tag when the request gave one."""
    echoed = {"imageDigest": image.digest}
    if "imageTag" in image_id:
        echoed["imageTag"] = image_id["imageTag"]
    return echoed
