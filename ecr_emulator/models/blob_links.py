"""Which repositories hold which blobs: the per-repository links over a registry's deduplicated blob files.

The blob store keeps one file per digest per registry; ``Registry.blob_links`` maps each repository name to the set of
digests it holds, as Distribution's linked blob store keeps a link per repository. A repository holds a blob it
received: an upload finished through it (/v2 or the layer API), a cross-repository mount into it, or a replicated copy.
Only a holder sees the blob (blob HEAD and GET, BatchCheckLayerAvailability, GetDownloadUrlForLayer, PutImage under
``--strict-layers``); any other repository reaches it only by a mount, which ECR allows when the registry's
BLOB_MOUNTING account setting is ENABLED (AWS's "Blob mounting in Amazon ECR": same registry, identical encryption).

Links are keyed by name, so blobs pushed for a repository that a CREATE_ON_PUSH template creates with its first image
are its own once it exists. Links outlive the images that name them, as Distribution's do until garbage collection:
a push uploads blobs before its manifest, and deleting an image does not take its layers from the repository.
Deleting a repository drops its links; a file is removed when no repository of its registry holds it and no upload
is about to claim it (``claiming``).

Callers hold ``store.lock`` (``claiming`` and ``sweep`` take it themselves). Grants that no journaled JSON operation
reproduces (uploads and mounts) are journaled as ``JOURNAL_OP`` records. A registry restored from state written before
links existed has no ``blob_links``: its repositories hold the blobs their images name (``links``, and
``adopt_images`` after a journal replay).
"""

import collections
import contextlib
import weakref

from . import creation_templates, settings

JOURNAL_OP = "emulator:LinkBlob"
MOUNTING = "BLOB_MOUNTING"

_claims_by_store: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_dropped_by_store: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def referenced(repo) -> set[str]:
    """The blobs the images of ``repo`` name: each image's config and layers."""
    return {digest for image in repo.images
            for digest in ((image.config,) if image.config else ()) + tuple(image.layers)}


def carried(registry) -> bool:
    """Whether ``registry`` came with links (state written before them has none)."""
    return getattr(registry, "blob_links", None) is not None


def links(registry) -> dict[str, set[str]]:
    """The registry's links; for a registry from older state, derived from its images on first use."""
    found = getattr(registry, "blob_links", None)
    if found is None:
        found = registry.blob_links = {name: referenced(repo) for name, repo in registry.repositories.items()}
    return found


def adopt_images(registries) -> None:
    """Let every repository of ``registries`` hold the blobs its images name: after replaying a journal written
    before links existed, whose uploads were never journaled."""
    for registry in registries:
        held = links(registry)
        for name, repo in registry.repositories.items():
            held.setdefault(name, set()).update(referenced(repo))


def holds(registry, name: str, digest: str) -> bool:
    return digest in links(registry).get(name, ())


def grant(store, registry, name: str, digest: str, journal: bool = True) -> None:
    """Record that repository ``name`` holds ``digest``; journaled unless the grant is part of a journaled
    operation (``journal=False``) or a replay."""
    held = links(registry).setdefault(name, set())
    if digest in held:
        return
    held.add(digest)
    if journal and store.persistence is not None and not store.replaying:
        store.persistence.append({"op": JOURNAL_OP, "now": store.clock.now(), "account": registry.account,
                                  "region": registry.region, "repository": name, "digest": digest})


def replay(store, record: dict) -> None:
    grant(store, store.registry(record["account"], record["region"]), record["repository"], record["digest"])


def drop_repository(store, repo) -> None:
    """A deleted repository's links go, and with them every file no other repository holds. With a state directory
    the files go only once the deletion is journaled (``collect_dropped``): a crash before that brings the repository
    back, and it must find its blobs. During a replay the files stay: a later record may hold them again, and an
    unheld file is invisible anyway."""
    registry = store.registry(repo.account, repo.region)
    held = links(registry).pop(repo.name, set())
    if store.replaying or store.blobs is None:
        return
    if store.persistence is not None:
        _dropped(store).update((registry.account, registry.region, digest) for digest in held)
        return
    for digest in held:
        _collect(store, registry, digest)


def collect_dropped(store) -> None:
    """Remove the files of repositories whose deletion is now durable, unless something holds them again."""
    dropped = _dropped(store)
    while dropped:
        account, region, digest = dropped.pop()
        _collect(store, store.registry(account, region), digest)


def _dropped(store) -> set:
    dropped = _dropped_by_store.get(store)
    if dropped is None:
        dropped = _dropped_by_store[store] = set()
        store.subscribe("reset", dropped.clear)
    return dropped


def sweep(store) -> int:
    """Remove every file that no repository holds and no upload is claiming; returns how many. Run when a state
    directory is opened: it clears what a crash left between a file and its grant, or between a repository's
    journaled deletion and the removal of its files."""
    registries = {(registry.account, registry.region): registry for registry in store.registries()}
    claims = _claims(store)
    removed = 0
    with store.lock:
        for account, region, digest, _ in list(store.blobs.blobs()):
            registry = registries.get((account, region))
            if claims[(account, region, digest)]:
                continue
            if registry is None or not any(digest in held for held in links(registry).values()):
                removed += store.blobs.delete(account, region, digest)
    return removed


def _claims(store) -> collections.Counter:
    claims = _claims_by_store.get(store)
    if claims is None:
        claims = _claims_by_store[store] = collections.Counter()
    return claims


def _collect(store, registry, digest: str) -> None:
    if _claims(store)[(registry.account, registry.region, digest)]:
        return
    if any(digest in held for held in links(registry).values()):
        return
    store.blobs.delete(registry.account, registry.region, digest)


@contextlib.contextmanager
def claiming(store, registry, digest: str):
    """Keep ``digest``'s file while an upload that will hold it finishes (and its grant is made); if no repository
    holds it afterwards (the upload failed), the file goes, as when its last repository is deleted."""
    key = (registry.account, registry.region, digest)
    claims = _claims(store)
    with store.lock:
        claims[key] += 1
    try:
        yield
    finally:
        with store.lock:
            claims[key] -= 1
            if not claims[key]:
                del claims[key]
                _collect(store, registry, digest)


def encryption_of(registry, name: str, now: float) -> dict | None:
    """The encryption of repository ``name``, or of the one a CREATE_ON_PUSH template would create under it."""
    repo = registry.repositories.get(name)
    if repo is None:
        repo = creation_templates.new_repository(registry, name, now, "CREATE_ON_PUSH")
    return None if repo is None else repo.encryption


def mount(store, registry, name: str, digest: str, source: str | None) -> bool:
    """A cross-repository mount of ``digest`` into ``name``: True when ``name`` now holds it. A repository that
    already holds it needs nothing. Otherwise, as AWS documents blob mounting, the registry's BLOB_MOUNTING setting
    must be ENABLED and the blob must come from a repository of the same registry (``source``, the request's
    ``from``; without it, any) that holds it and has identical encryption, and was not created by a pull through
    cache rule (AWS does not mount from cached images)."""
    if holds(registry, name, digest):
        return True
    if settings.account_setting(registry, MOUNTING) != "ENABLED":
        return False
    if store.blobs.size(registry.account, registry.region, digest) is None:
        return False
    wanted = encryption_of(registry, name, store.clock.now())
    candidates = [source] if source is not None else sorted(links(registry))
    for candidate in candidates:
        repo = registry.repositories.get(candidate)
        if (candidate != name and repo is not None and holds(registry, candidate, digest)
                and repo.encryption == wanted and repo.pull_through_checks is None):
            grant(store, registry, name, digest)
            return True
    return False
