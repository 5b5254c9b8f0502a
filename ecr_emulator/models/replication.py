"""Private image replication: which destinations a push goes to, the copy itself, and its recorded outcome.

Replication here is synchronous: PutImage calls ``replicate`` under the store lock right after the image is stored, so
each destination's outcome is known when the push answers and is kept with the source image (in ``Image.extra``) for
DescribeImageReplicationStatus. Only a push through PutImage replicates, so images that arrive by replication are not
replicated again, and deletes and lifecycle expiries are never copied (as at AWS). A copy that cannot happen never
fails the push; it is recorded as FAILED with one of the failure codes below (the model's ReplicationError is a plain
string without an enum, so the codes are the emulator's).
"""

import json
import re

from .. import errors
from . import creation_templates, image_ops, settings
from .images import Image
from .manifests import Manifest
from .repository import Repository
from .store import Registry, Store

# Key of the registry's replication configuration in ``Registry.settings``.
CONFIGURATION = "replication_configuration"
# Key of an image's per-destination outcomes in ``Image.extra``: {(region, registryId): ImageReplicationStatus}.
STATUSES = "replicationStatuses"
DEFAULT_CONFIGURATION = {"rules": []}

# The destination registry's policy does not allow ecr:ReplicateImage to the source account.
REPLICATE_IMAGE_DENIED = "REPLICATE_IMAGE_ACCESS_DENIED"
# The destination repository does not exist and the destination's policy does not allow ecr:CreateRepository.
CREATE_REPOSITORY_DENIED = "CREATE_REPOSITORY_ACCESS_DENIED"
# The tag points at another image in a destination repository whose tag is immutable; the image is copied untagged.
TAG_IMMUTABLE = "IMAGE_TAG_IMMUTABLE"

# Region name prefixes of the partitions other than "aws"; AWS does not replicate across partitions.
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b"),
               ("us-isof-", "aws-iso-f"), ("eu-isoe-", "aws-iso-e"), ("eusc-", "aws-eusc"))


def partition(region: str) -> str:
    return next((name for prefix, name in _PARTITIONS if region.startswith(prefix)), "aws")


def configuration(registry: Registry) -> dict:
    return registry.settings.get(CONFIGURATION) or DEFAULT_CONFIGURATION


def destinations(registry: Registry, repository_name: str) -> list[tuple[str, str]]:
    """(region, registryId) of every destination of the rules whose filters match the repository, each once. A rule
    without filters matches every repository; a PREFIX_MATCH filter matches names that start with it."""
    found: dict[tuple[str, str], None] = {}
    for rule in configuration(registry)["rules"]:
        filters = rule.get("repositoryFilters")
        if filters and not any(repository_name.startswith(f["filter"]) for f in filters):
            continue
        for destination in rule["destinations"]:
            found[(destination["region"], destination["registryId"])] = None
    return list(found)


def statuses(image: Image) -> list[dict]:
    return list((image.extra or {}).get(STATUSES, {}).values())


def replicate(store: Store, source: Registry, repo: Repository, image: Image, manifest: Manifest,
              tag: str | None) -> None:
    """Copy a just-pushed image (and its tag) to each destination that applies, recording every outcome."""
    targets = destinations(source, repo.name)
    if not targets:
        return
    extra = image.extra if image.extra is not None else {}
    recorded = extra.setdefault(STATUSES, {})
    for region, account in targets:
        failure = _copy(store, source, repo.name, image, manifest, tag, store.registry(account, region))
        status = {"region": region, "registryId": account, "status": "COMPLETE" if failure is None else "FAILED"}
        if failure is not None:
            status["failureCode"] = failure
        recorded[(region, account)] = status
    image.extra = extra


def create_replicated_repository(store: Store, registry: Registry, name: str) -> Repository:
    """The repository a replication creates in a destination that lacks it. Repository settings are not replicated:
    it has the settings of the destination's creation template for REPLICATION that matches its name, else the
    defaults (mutable tags, no scan on push, AES256 encryption)."""
    now = store.clock.now()
    repo = (creation_templates.new_repository(registry, name, now, "REPLICATION")
            or Repository(registry.account, registry.region, name, now))
    registry.repositories[name] = repo
    return repo


def _copy(store: Store, source: Registry, name: str, image: Image, manifest: Manifest, tag: str | None,
          target: Registry) -> str | None:
    """Replicate into one destination registry; the failure code when that cannot happen, else None."""
    repo = target.repositories.get(name)
    if target.account != source.account:
        policy = target.settings.get(settings.REGISTRY_POLICY)
        arn = f"arn:aws:ecr:{target.region}:{target.account}:repository/{name}"
        if not policy_allows(policy, source.account, "ecr:ReplicateImage", arn):
            return REPLICATE_IMAGE_DENIED
        if repo is None and not policy_allows(policy, source.account, "ecr:CreateRepository", arn):
            return CREATE_REPOSITORY_DENIED
    if repo is None:
        repo = create_replicated_repository(store, target, name)
    blobs = store.blobs
    if blobs is not None:
        for digest in manifest.blobs():
            blobs.copy_between(source.account, source.region, target.account, target.region, digest)

    def blob_size(digest: str) -> int | None:
        return None if blobs is None else blobs.size(target.account, target.region, digest)

    def put(with_tag: str | None) -> None:
        try:
            image_ops.put_image(store, repo, manifest, image.manifest, tag=with_tag, blob_size=blob_size)
        except errors.ImageAlreadyExistsException:
            pass  # the destination already holds the image (and tag): nothing is missing there

    try:
        put(tag)
    except errors.ImageTagAlreadyExistsException:
        # AWS documents that such an image is replicated but without the duplicated tag.
        put(None)
        return TAG_IMMUTABLE
    return None


def policy_allows(policy_text: str | None, account: str, action: str, resource: str) -> bool:
    """Whether a registry policy grants ``action`` on ``resource`` to ``account`` (its root, that is the whole
    account): some statement allows it and none denies it. Statements with a Condition are left out, since requests
    here carry none of the context their keys name. ``policy_text`` passed PutRegistryPolicy's grammar check."""
    if policy_text is None:
        return False
    statements = json.loads(policy_text)["Statement"]
    allowed = False
    for statement in [statements] if isinstance(statements, dict) else statements:
        if "Condition" in statement or not _applies(statement, account, action, resource):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def _applies(statement: dict, account: str, action: str, resource: str) -> bool:
    if "Principal" in statement:
        principal = _names_account(statement["Principal"], account)
    else:
        principal = not _names_account(statement["NotPrincipal"], account)
    if "Action" in statement:
        acts = any(_wildcard(p, action, case=False) for p in _listed(statement["Action"]))
    else:
        acts = not any(_wildcard(p, action, case=False) for p in _listed(statement["NotAction"]))
    if "Resource" in statement:
        on = any(_wildcard(p, resource) for p in _listed(statement["Resource"]))
    elif "NotResource" in statement:
        on = not any(_wildcard(p, resource) for p in _listed(statement["NotResource"]))
    else:
        on = True  # a registry policy without Resource covers the whole registry
    return principal and acts and on


def _names_account(principal, account: str) -> bool:
    if principal == "*":
        return True
    return any(p in ("*", account) or re.fullmatch(rf"arn:aws[a-z-]*:iam::{account}:root", p)
               for p in _listed(principal.get("AWS", [])))


def _listed(value) -> list[str]:
    return [value] if isinstance(value, str) else value


def _wildcard(pattern: str, value: str, case: bool = True) -> bool:
    """IAM matching: ``*`` is any run of characters, ``?`` any one; nothing else is special."""
    regex = ".*".join(".".join(re.escape(part) for part in piece.split("?")) for piece in pattern.split("*"))
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None
