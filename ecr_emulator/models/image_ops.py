"""Domain operations on a repository's images, shared by the JSON API, the /v2 registry API and lifecycle.

Callers hold ``store.lock``. Every change is announced with ``store.notify`` so state kept beside the registries
(blob references, persistence) can follow it.
"""

from .images import Image
from .repository import Repository
from .store import Store


def delete_image(store: Store, repo: Repository, image: Image) -> None:
    """Remove an image and every tag on it."""
    repo.images.remove(image)
    store.notify("image_deleted", repo, image)
