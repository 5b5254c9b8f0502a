"""Storage classes of images: archiving to ECR's archival class and restoring to standard, by the model clock.

AWS archives at once but restores within 20 minutes; meanwhile the image is ACTIVATING and still cannot be pulled. Here
a restore started at ``t`` completes at exactly ``t + RESTORE_SECONDS``: until then the image keeps the ARCHIVE class
with a due time in ``Image.activating_until``; ``settle`` completes every restore that is due, dating it at the due time
(not at when it is noticed), so settling lazily on reads gives the same state whenever it happens, which journal replay
relies on. Re-pushing an archived image restores it at once, as AWS documents.
"""

from .. import errors
from . import scans
from .images import Image
from .repository import Repository

RESTORE_SECONDS = 20 * 60


def settle(repo: Repository, now: float) -> None:
    """Complete the restores of ``repo`` that are due by ``now``; the repository lists the restores under way, so
    settling costs only those. Callers hold the store lock."""
    pending = repo.pending_restores
    if not pending:
        return
    for digest, due in list(pending.items()):
        if due > now:
            continue
        del pending[digest]
        image = repo.images.by_digest.get(digest)
        if image is not None and image.activating_until == due:
            _activate(image, due)


def _activate(image: Image, when: float) -> None:
    image.storage_class = "STANDARD"
    image.transitioned_at = when
    image.activating_until = None
    image.last_activated = when


def update(repo: Repository, image: Image, target: str, now: float, *, on_restore=None) -> str:
    """UpdateImageStorageClass: archive now, or start a restore; returns the image's status afterwards.

    A move to the class the image is already in (or towards, while a restore runs) is refused, as is archiving
    an image whose restore has not finished. A restore drops the scans from before archiving and calls
    ``on_restore(image, when)`` for the time the restore completes, as AWS treats a restore like a push.
    """
    settle(repo, now)
    status = image.status
    if target == "ARCHIVE":
        if status != "ACTIVE":
            raise _unsupported(repo, image, "it is already archived" if status == "ARCHIVED"
                               else "it is being restored from archive")
        image.storage_class = "ARCHIVE"
        image.transitioned_at = now
    else:
        if status != "ARCHIVED":
            raise _unsupported(repo, image, "it is already in the STANDARD storage class" if status == "ACTIVE"
                               else "it is already being restored from archive")
        due = now + RESTORE_SECONDS
        image.activating_until = due
        repo.pending_restores[image.digest] = due
        scans.forget(image)
        if on_restore is not None:
            on_restore(image, due)
    return image.status


def restore_now(repo: Repository, image: Image, now: float) -> None:
    """A push of an archived image restores it immediately."""
    repo.pending_restores.pop(image.digest, None)
    _activate(image, now)


def _unsupported(repo: Repository, image: Image, why: str) -> Exception:
    return errors.ImageStorageClassUpdateNotSupportedException(
        f"The storage class of the image with digest '{image.digest}' in the repository with name '{repo.name}' "
        f"in the registry with id '{repo.account}' cannot be updated because {why}")
