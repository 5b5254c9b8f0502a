"""Lifecycle policy evaluation, and applying its outcome to a repository.

``evaluate`` is pure: it follows AWS's "How lifecycle policies work" rules. Rules are applied lowest
``rulePriority`` first; each rule sees the images of its storage class that its tag selection matches, counts
them all (including images a higher rule already marked), and marks those beyond its count or age, oldest push
first. An image is acted on by at most one rule, and an image matched by a higher-priority rule's tag selection is
never marked by a lower-priority one.

The policy document is the dict that ``specs.lifecycle_policy.parse`` returned. A repository keeps its policy as
``{"text": str, "document": dict, "lastEvaluatedAt": float | None}``: plain data, so it is saved with the state.
"""

import dataclasses
import logging
import threading
import time

from . import wildcards
from .image_ops import delete_image
from .images import Image
from .repository import Repository
from .store import Store

# The journal record of a run: not a JSON API operation, so recovery replays it by calling ``run_all``.
JOURNAL_OP = "emulator:RunLifecycle"

DAY = 86400.0

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Result:
    """One image a policy acts on: which rule, and what it does (``expire`` or ``transition``)."""

    image: Image
    tags: tuple[str, ...]
    rule_priority: int
    action: str
    target_storage_class: str | None = None


def _tag_matcher(selection: dict):
    """A predicate on an image's tags for the rule's tag selection."""
    status = selection["tagStatus"]
    if status == "any":
        return lambda tags: True
    if status == "untagged":
        return lambda tags: not tags
    if "tagPrefixList" in selection:
        prefixes = selection["tagPrefixList"]
        return lambda tags: all(any(tag.startswith(p) for tag in tags) for p in prefixes)
    patterns = [wildcards.compiled(p) for p in selection["tagPatternList"]]
    return lambda tags: all(any(p.fullmatch(tag) for tag in tags) for p in patterns)


def _age_reference(count_type: str, image: Image) -> float:
    if count_type == "sinceImagePulled":
        return image.last_pull if image.last_pull is not None else image.pushed_at
    if count_type == "sinceImageTransitioned" and image.transitioned_at is not None:
        return image.transitioned_at
    return image.pushed_at


def evaluate(policy: dict, images, now: float) -> list[Result]:
    """What ``policy`` does to ``images`` at time ``now``, in rule order then oldest push first."""
    pool = sorted(images, key=lambda i: (i.pushed_at, i.seq))
    matched_by_higher: set[str] = set()
    results: list[Result] = []
    for rule in sorted(policy["rules"], key=lambda r: r["rulePriority"]):
        selection, action = rule["selection"], rule["action"]
        klass = selection.get("storageClass", "standard").upper()
        matches = _tag_matcher(selection)
        chosen = [i for i in pool if i.storage_class == klass and matches(i.tags)]
        count_type, number = selection["countType"], selection["countNumber"]
        if count_type == "imageCountMoreThan":
            over = chosen[:max(len(chosen) - number, 0)]
        else:
            over = [i for i in chosen if now - _age_reference(count_type, i) > number * DAY]
        target = action.get("targetStorageClass", "").upper() or None
        for image in over:
            if image.digest not in matched_by_higher:
                results.append(Result(image, tuple(image.tags), rule["rulePriority"], action["type"], target))
        matched_by_higher.update(i.digest for i in chosen)
    return _spare_listed_images(pool, results)


def _spare_listed_images(pool: list[Image], results: list[Result]) -> list[Result]:
    """Drop results for images that a manifest list staying in place still names: AWS will not expire or archive
    an image referenced by a manifest list until the list itself is deleted or archived."""
    while True:
        acted = {r.image.digest for r in results}
        needed = {child for image in pool if image.digest not in acted for child in image.children}
        kept = [r for r in results if r.image.digest not in needed]
        if len(kept) == len(results):
            return results
        results = kept


def apply(store: Store, repo: Repository, policy: dict, now: float) -> list[Result]:
    """Evaluate ``policy`` on ``repo`` and carry it out: expire deletes, transition archives. Caller holds
    ``store.lock``. Manifest lists go first so no list is ever left naming a deleted image."""
    results = evaluate(policy, repo.images, now)
    for result in sorted(results, key=lambda r: not r.image.children):
        if result.action == "expire":
            delete_image(store, repo, result.image)
        elif result.target_storage_class is not None:
            result.image.storage_class = result.target_storage_class
            result.image.transitioned_at = now
    if repo.lifecycle_policy is not None:
        repo.lifecycle_policy["lastEvaluatedAt"] = now
    return results


def run_all(store: Store) -> dict:
    """Apply every repository's stored policy, in every registry; report what happened as plain data. With a state
    directory the run is journaled (replaying it at the same clock time repeats exactly what it did)."""
    report: dict[str, list] = {"expired": [], "transitioned": []}
    with store.lock:
        now = store.clock.now()
        for registry in store.registries():
            for repo in list(registry.repositories.values()):
                if repo.lifecycle_policy is None:
                    continue
                for result in apply(store, repo, repo.lifecycle_policy["document"], now):
                    key = "expired" if result.action == "expire" else "transitioned"
                    entry = {"registryId": repo.account, "repositoryName": repo.name,
                             "imageDigest": result.image.digest, "imageTags": list(result.tags),
                             "appliedRulePriority": result.rule_priority}
                    if key == "transitioned":
                        entry["targetStorageClass"] = result.target_storage_class
                    report[key].append(entry)
        if store.persistence is not None:
            store.persistence.append({"op": JOURNAL_OP, "now": now})
    return report


def start_periodic(store: Store, interval: float) -> threading.Thread:
    """Run ``run_all`` every ``interval`` seconds in a daemon thread, standing in for AWS's own schedule. A failed
    run is logged and the next one still happens."""

    def loop():
        while True:
            time.sleep(interval)
            try:
                report = run_all(store)
            except Exception:
                log.exception("lifecycle run failed")
                continue
            if report["expired"] or report["transitioned"]:
                log.info("lifecycle run expired %d and archived %d images",
                         len(report["expired"]), len(report["transitioned"]))

    thread = threading.Thread(target=loop, name="lifecycle", daemon=True)
    thread.start()
    return thread
