"""Private image replication: which destinations a push goes to, the copy itself, its recorded outcome, and
replication backfills (the copy of images that already exist).

Replication here is synchronous: PutImage calls ``replicate`` under the store lock right after the image is stored, so
each destination's outcome is known when the push answers and is kept with the source image (in
``Image.replication_statuses``) for DescribeImageReplicationStatus. Only a push through PutImage replicates on arrival,
so images that arrive by replication are not replicated again then; deletes, tag removals and lifecycle expiries are
replicated only by rules that enable ``deleteReplication`` (``follow_deletions``), as at AWS. A copy that cannot happen
never fails the push; it is recorded as FAILED with one of the failure codes below (the model's ReplicationError is a
plain string without an enum, so the codes are the emulator's). A backfill (``start_backfill``) copies each image
through the same ``replicate_image`` as a push, so its outcomes are recorded the same way.
"""

import hashlib
import threading
import uuid

from .. import errors
from . import blob_links, creation_templates, image_ops, manifests, policy_evaluation, settings
from .images import Image
from .manifests import Manifest
from .repository import Repository
from .store import Registry, Store

# Key of the registry's replication configuration in ``Registry.settings``.
CONFIGURATION = "replication_configuration"
DEFAULT_CONFIGURATION: dict[str, list] = {"rules": []}

# The destination registry's policy does not allow ecr:ReplicateImage to the source account.
REPLICATE_IMAGE_DENIED = "REPLICATE_IMAGE_ACCESS_DENIED"
# The destination repository does not exist and the destination's policy does not allow ecr:CreateRepository.
CREATE_REPOSITORY_DENIED = "CREATE_REPOSITORY_ACCESS_DENIED"
# The tag points at another image in a destination repository whose tag is immutable; the image is copied untagged.
TAG_IMMUTABLE = "IMAGE_TAG_IMMUTABLE"

# Key of the registry's replication backfills in ``Registry.settings``:
# {"next": how many were ever started, "backfills": {replicationBackfillId: record}}.
BACKFILLS = "replication_backfills"
# AWS returns a backfill for 90 days after it ends.
BACKFILL_RETENTION = 90 * 24 * 3600
# AWS fails a backfill when 50% or more of its replications failed, judged only once this many were processed.
FAILURE_MINIMUM = 100
# That backfill's failureCode (the model's ReplicationBackfillError has no enum either, so the code is the emulator's).
FAILURE_THRESHOLD_EXCEEDED = "REPLICATION_FAILURE_THRESHOLD_EXCEEDED"

# Region name prefixes of the partitions other than "aws"; AWS does not replicate across partitions.
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b"),
               ("us-isof-", "aws-iso-f"), ("eu-isoe-", "aws-iso-e"), ("eusc-", "aws-eusc"))


def partition(region: str) -> str:
    return next((name for prefix, name in _PARTITIONS if region.startswith(prefix)), "aws")


def configuration(registry: Registry) -> dict:
    return registry.settings.get(CONFIGURATION) or DEFAULT_CONFIGURATION


def destinations(registry: Registry, repository_name: str, deletes: bool = False) -> list[tuple[str, str]]:
    """(region, registryId) of every destination of the rules whose filters match the repository, each once; with
    ``deletes``, only of the rules that replicate deletions. A rule without filters matches every repository; a
    PREFIX_MATCH filter matches names that start with it."""
    found: dict[tuple[str, str], None] = {}
    for rule in configuration(registry)["rules"]:
        if deletes and not rule.get("deleteReplication", {}).get("enabled"):
            continue
        filters = rule.get("repositoryFilters")
        if filters and not any(repository_name.startswith(f["filter"]) for f in filters):
            continue
        for destination in rule["destinations"]:
            found[(destination["region"], destination["registryId"])] = None
    return list(found)


def statuses(image: Image) -> list[dict]:
    return list((image.replication_statuses or {}).values())


def replicate(store: Store, source: Registry, repo: Repository, image: Image, manifest: Manifest,
              tag: str | None) -> None:
    """Copy a just-pushed image (and its tag) to each destination that applies, recording every outcome."""
    for region, account in destinations(source, repo.name):
        replicate_image(store, source, repo, image, manifest, [tag], region, account)


def replicate_image(store: Store, source: Registry, repo: Repository, image: Image, manifest: Manifest,
                    tags: list[str | None], region: str, account: str) -> list[str | None]:
    """Copy one image with each of ``tags`` (None: untagged) to one destination, the step a push and a backfill
    share. The image keeps one status per destination for DescribeImageReplicationStatus: FAILED with the first
    failure code, else COMPLETE. Returns each tag's failure code, None for a tag that was copied."""
    failures = _copy(store, source, repo.name, image, manifest, tags, store.registry(account, region))
    failure = next((code for code in failures if code is not None), None)
    status = {"region": region, "registryId": account, "status": "COMPLETE" if failure is None else "FAILED"}
    if failure is not None:
        status["failureCode"] = failure
    if image.replication_statuses is None:
        image.replication_statuses = {}
    image.replication_statuses[(region, account)] = status
    return failures


def follow_deletions(store: Store) -> None:
    """Replicate image deletions and tag removals for the rules that enable ``deleteReplication``, as AWS documents
    it: a tag removed from an image that keeps other tags is removed from the image in each destination; an image
    deleted (by digest, with its last tag, or by a lifecycle policy) is deleted with all its tags in each
    destination. Removals that replication itself makes are not replicated further."""
    store.subscribe("image_deleted", lambda repo, image: _replicate_removal(store, repo, image.digest, None))
    store.subscribe("tag_removed", lambda repo, image, tag: _replicate_removal(store, repo, image.digest, tag))


_removing = threading.local()


def _replicate_removal(store: Store, repo: Repository, digest: str, tag: str | None) -> None:
    if getattr(_removing, "active", False):
        return
    source = store.registry(repo.account, repo.region)
    _removing.active = True
    try:
        for region, account in destinations(source, repo.name, deletes=True):
            target = store.registry(account, region)
            copy = target.repositories.get(repo.name)
            arn = f"arn:aws:ecr:{region}:{account}:repository/{repo.name}"
            if copy is None or (account != source.account and not policy_allows(
                    target.settings.get(settings.REGISTRY_POLICY), source.account, "ecr:ReplicateImage", arn)):
                continue
            if tag is not None:
                image = copy.images.by_tag.get(tag)
                if image is not None and image.digest == digest:
                    image_ops.untag(store, copy, tag)
                continue
            image = copy.images.by_digest.get(digest)
            if image is not None and not image_ops.referencing_lists(copy, image):
                image_ops.delete_image(store, copy, image)
    finally:
        _removing.active = False


def create_replicated_repository(store: Store, registry: Registry, name: str) -> Repository:
    """The repository a replication creates in a destination that lacks it. Repository settings are not replicated:
    it has the settings of the destination's creation template for REPLICATION that matches its name, else the
    defaults (mutable tags, no scan on push, AES256 encryption)."""
    now = store.clock.now()
    repo = (creation_templates.new_repository(registry, name, now, "REPLICATION")
            or Repository(registry.account, registry.region, name, now))
    registry.repositories[name] = repo
    return repo


def _copy(store: Store, source: Registry, name: str, image: Image, manifest: Manifest, tags: list[str | None],
          target: Registry) -> list[str | None]:
    """Replicate into one destination registry; for each tag, the failure code when that cannot happen, else None."""
    repo = target.repositories.get(name)
    if target.account != source.account:
        policy = target.settings.get(settings.REGISTRY_POLICY)
        arn = f"arn:aws:ecr:{target.region}:{target.account}:repository/{name}"
        if not policy_allows(policy, source.account, "ecr:ReplicateImage", arn):
            return [REPLICATE_IMAGE_DENIED] * len(tags)
        if repo is None and not policy_allows(policy, source.account, "ecr:CreateRepository", arn):
            return [CREATE_REPOSITORY_DENIED] * len(tags)
    if repo is None:
        repo = create_replicated_repository(store, target, name)
    blobs = store.blobs
    if blobs is not None:
        for digest in manifest.blobs():
            # Only what the source repository holds is replicated, and the copy belongs to the destination repository.
            # A replayed journal finds the files it copied already in place; copying again would bring back any
            # removed since.
            if not blob_links.holds(source, name, digest):
                continue
            if not store.replaying:
                blobs.copy_between(source.account, source.region, target.account, target.region, digest)
            if blobs.size(target.account, target.region, digest) is not None:
                blob_links.grant(store, target, name, digest, journal=False)

    def blob_size(digest: str) -> int | None:
        if blobs is None or not blob_links.holds(target, name, digest):
            return None
        return blobs.size(target.account, target.region, digest)

    def put(with_tag: str | None) -> None:
        try:
            image_ops.put_image(store, repo, manifest, image.manifest, tag=with_tag, blob_size=blob_size)
        except errors.ImageAlreadyExistsException:
            pass  # the destination already holds the image (and tag): nothing is missing there

    def put_tagged(tag: str | None) -> str | None:
        try:
            put(tag)
        except errors.ImageTagAlreadyExistsException:
            # AWS documents that such an image is replicated but without the duplicated tag.
            put(None)
            return TAG_IMMUTABLE
        return None

    return [put_tagged(tag) for tag in tags]


def configured(registry: Registry, region: str, account: str) -> bool:
    """Whether some rule of the registry's configuration names this destination."""
    return any((d["region"], d["registryId"]) == (region, account)
               for rule in configuration(registry)["rules"] for d in rule["destinations"])


def backfills(registry: Registry, now: float) -> dict[str, dict]:
    """The registry's backfills by id, oldest first, without those whose 90 days of retention are over at ``now``."""
    stored = registry.settings.get(BACKFILLS, {}).get("backfills", {})
    return {id_: b for id_, b in stored.items() if b["endedAt"] + BACKFILL_RETENTION > now}


def start_backfill(store: Store, registry: Registry, region: str, account: str, now: float) -> dict:
    """Replicate the registry's existing images to one configured destination and keep the backfill's record.

    Replication is synchronous here, so a backfill does all its copying when it starts and is terminal from then on:
    PREPARING and IN_PROGRESS (and so STOPPING and STOPPED) are never observable, and the start reply's status is
    the terminal one rather than the PREPARING that AWS answers, which would claim work still to come. The images
    are those of every repository whose rules route it to the destination, repositories by name and images in push
    order (so a manifest list follows the images it names), each with all its tags; one replication is one image
    and tag (or one untagged image), as AWS counts them. The backfill is COMPLETE unless, as AWS documents, 50% or
    more of its replications failed once at least 100 were processed (judged after each image): it is then FAILED
    and the remaining images are not copied. An image already in the destination counts as COMPLETE.
    """
    state = registry.settings.setdefault(BACKFILLS, {"next": 0, "backfills": {}})
    state["backfills"] = backfills(registry, now)
    seq = state["next"]
    state["next"] = seq + 1
    work = [(repo, image) for name, repo in sorted(registry.repositories.items())
            if (region, account) in destinations(registry, name) for image in list(repo.images)]
    total = sum(len(image.tags) or 1 for _, image in work)
    results: list[dict] = []
    child_failures: dict[tuple[str, str], list[str]] = {}
    completed = failed = 0
    status, failure_code = "COMPLETE", None
    for repo, image in work:
        manifest = manifests.parse(image.manifest, image.media_type)
        tags = list(image.tags) or [None]
        codes = replicate_image(store, registry, repo, image, manifest, tags, region, account)
        child_failures[(repo.name, image.digest)] = [code for code in codes if code is not None]
        for tag, code in zip(tags, codes, strict=True):
            result: dict = {"repositoryName": repo.name, "imageId": {"imageDigest": image.digest},
                            "status": "COMPLETE" if code is None else "FAILED"}
            if tag is not None:
                result["imageId"]["imageTag"] = tag
            if code is not None:
                result["failureCode"] = code
            if manifest.is_list:
                result["subImageFailureCodes"] = _distinct(
                    c for child in manifest.children for c in child_failures.get((repo.name, child), ()))
            results.append(result)
        failed += sum(code is not None for code in codes)
        completed += sum(code is None for code in codes)
        if completed + failed >= FAILURE_MINIMUM and 2 * failed >= completed + failed:
            status, failure_code = "FAILED", FAILURE_THRESHOLD_EXCEEDED
            break
    backfill_id = _backfill_id(registry, now, seq)
    record = {"replicationBackfillId": backfill_id, "seq": seq,
              "destination": {"region": region, "registryId": account}, "status": status, "startedAt": now,
              "endedAt": now, "results": results,
              "progress": {"totalReplicationCount": total, "completedReplicationCount": completed,
                           "failedReplicationCount": failed,
                           "failureCodes": _distinct(r["failureCode"] for r in results if "failureCode" in r)}}
    if failure_code is not None:
        record["failureCode"] = failure_code
    state["backfills"][backfill_id] = record
    return record


def _distinct(codes) -> list[str]:
    return list(dict.fromkeys(codes))


def _backfill_id(registry: Registry, now: float, seq: int) -> str:
    """A version-4 UUID made from what a journal replay reproduces (the registry, the model time and the registry's
    count of backfills) rather than from os.urandom, so a replayed start gives the backfill the id its caller got."""
    digest = hashlib.sha256(f"{registry.account}/{registry.region}/{now!r}/{seq}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def policy_allows(policy_text: str | None, account: str, action: str, resource: str,
                  principal_arns: tuple[str, ...] = ()) -> bool:
    """Whether a registry policy grants ``action`` on ``resource`` to ``account`` (its root, that is the whole
    account), or to one of ``principal_arns`` of that account, as IAM evaluates it: some statement allows it and
    none denies it. The replicating account is both the principal and the source of the request. ``policy_text``
    passed PutRegistryPolicy's grammar check."""
    context = {"aws:SourceAccount": account}
    requests = [policy_evaluation.account_request(account, action, resource, context)]
    requests += [policy_evaluation.Request(arn, account, action, resource, {**context, "aws:PrincipalArn": arn,
                                                                           "aws:PrincipalAccount": account})
                 for arn in principal_arns]
    return any(policy_evaluation.evaluate([policy_text], request) == policy_evaluation.ALLOW for request in requests)
