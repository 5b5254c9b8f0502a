"""Finding the one image an operation names, with DescribeImages' errors for a missing or malformed imageId."""

from ..models.images import Image
from ..models.repository import Repository
from .images import described


def image(repo: Repository, image_id: dict) -> Image:
    return described(repo, [image_id])[0]


def echoed_id(image: Image, image_id: dict) -> dict:
    """The imageId a reply names: the digest, and the tag when the request gave one."""
    echoed = {"imageDigest": image.digest}
    if "imageTag" in image_id:
        echoed["imageTag"] = image_id["imageTag"]
    return echoed
