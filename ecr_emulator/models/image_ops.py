"""Domain operations on a repository's images, shared by the JSON API, the /v2 registry API and lifecycle.

Callers hold ``store.lock``. Every change is announced with ``store.notify`` so state kept beside the registries
(scans, persistence) can follow it. Refusals raise the ECR error the JSON API answers with; the /v2 API maps them.
"""

from collections.abc import Callable

from .. import errors
from ..specs import messages
from . import manifests, scans, storage, wildcards
from .images import Image
from .repository import Repository
from .store import Store


def tag_is_immutable(repo: Repository, tag: str) -> bool:
    mode = repo.tag_mutability
    if mode in ("MUTABLE", "IMMUTABLE"):
        return mode == "IMMUTABLE"
    excluded = any(wildcards.matches(f["filter"], tag) for f in repo.mutability_exclusions)
    return excluded if mode == "MUTABLE_WITH_EXCLUSION" else not excluded


def parse_manifest(data: bytes, media_type: str | None = None, digest: str | None = None) -> manifests.Manifest:
    """The manifest PutImage would store, with PutImage's errors for one it refuses. Needs no lock: callers parse
    before they take the store lock, which keeps the lock's hold short."""
    try:
        manifest = manifests.parse(data, media_type)
    except manifests.ManifestError as exc:
        raise errors.InvalidParameterException(str(exc)) from None
    if digest is not None and digest != manifest.digest:
        raise errors.ImageDigestDoesNotMatchException(messages.invalid_parameter(
            "imageDigest", f"The digest {digest} does not match the digest {manifest.digest} of the image manifest"))
    return manifest


def put_image(store: Store, repo: Repository, manifest: manifests.Manifest, data: bytes, *,
              tag: str | None = None, strict: bool = False,
              blob_size: Callable[[str], int | None] = lambda digest: None) -> Image:
    """Store a parsed manifest (and point ``tag`` at it); the checks and errors are PutImage's.

    ``blob_size`` answers the size of an uploaded blob (None when absent); with ``strict`` every blob a manifest
    names must exist, and every manifest an index names must be in the repository. Pushing an archived image
    restores it at once, as at AWS; a new or restored image is scanned when scan on push applies.
    """
    if strict:
        _check_references(repo, manifest, blob_size)
    images = repo.images
    existing = images.by_digest.get(manifest.digest)
    restoring = existing is not None and existing.storage_class == "ARCHIVE"
    if tag is not None:
        current = images.by_tag.get(tag)
        if current is not None and current is existing and not restoring:
            raise errors.ImageAlreadyExistsException(
                f"Image with digest '{manifest.digest}' and tag '{tag}' already exists in the repository with name "
                f"'{repo.name}' in registry with id '{repo.account}'")
        if current is not None and current is not existing and tag_is_immutable(repo, tag):
            raise errors.ImageTagAlreadyExistsException(
                f"The image tag '{tag}' already exists in the '{repo.name}' repository and cannot be overwritten "
                f"because the tag is immutable.")
    elif existing is not None and not restoring:
        raise errors.ImageAlreadyExistsException(
            f"Image with digest '{manifest.digest}' already exists in the repository with name '{repo.name}' in "
            f"registry with id '{repo.account}'")
    image = existing
    if image is None:
        image = Image(manifest.digest, data, manifest.media_type, store.clock.now(), _size(repo, manifest, blob_size))
        image.artifact_media_type = manifest.artifact_media_type
        image.artifact_type = manifest.artifact_type
        image.config = manifest.config[0] if manifest.config else None
        image.layers = tuple(d for d, _ in manifest.layers)
        image.children = tuple(manifest.children)
        image.subject = manifest.subject
        images.add(image)
    elif restoring:
        storage.restore_now(repo, image, store.clock.now())
        scans.forget(image)
    if tag is not None:
        images.tag(image, tag)
    if existing is None or restoring:
        scans.on_push(store, repo, image, store.clock.now())
    store.notify("image_pushed", repo, image, existing is None)
    return image


def _check_references(repo: Repository, manifest: manifests.Manifest, blob_size) -> None:
    missing = [d for d in manifest.blobs() if blob_size(d) is None]
    if missing:
        raise errors.LayersNotFoundException(
            f"Layers with digests '{missing}' required for pushing image into repository with name '{repo.name}' "
            f"in the registry with id '{repo.account}' do not exist")
    absent = [d for d in manifest.children if d not in repo.images.by_digest]
    if absent:
        raise errors.ReferencedImagesNotFoundException(
            f"The manifest list or image index references images that do not exist in the repository with name "
            f"'{repo.name}': {absent}")


def _size(repo: Repository, manifest: manifests.Manifest, blob_size) -> int:
    """imageSizeInBytes as ECR reports it: the compressed layers, or for a list the largest image it names."""
    if manifest.is_list:
        return max((repo.images.by_digest[d].size for d in manifest.children if d in repo.images.by_digest),
                   default=0)
    if manifest.media_type in manifests.SCHEMA1_TYPES:
        return sum(blob_size(d) or 0 for d, _ in manifest.layers)
    return manifest.layer_size()


def referencing_lists(repo: Repository, image: Image) -> list[str]:
    """Digests of manifest lists in ``repo`` that name ``image``; ECR refuses to delete an image they still need."""
    return sorted(repo.images.parents.get(image.digest, ()))


def delete_image(store: Store, repo: Repository, image: Image) -> None:
    """Remove an image and every tag on it."""
    repo.images.remove(image)
    store.notify("image_deleted", repo, image)


def untag(store: Store, repo: Repository, tag: str) -> Image | None:
    """Remove one tag; an image left without tags is deleted, as BatchDeleteImage does."""
    image = repo.images.untag(tag)
    if image is not None and not image.tags:
        delete_image(store, repo, image)
    elif image is not None:
        store.notify("tag_removed", repo, image, tag)
    return image


def record_pull(image: Image, now: float) -> None:
    image.last_pull = now
