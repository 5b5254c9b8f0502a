"""Pull through cache rules: which upstream registries AWS supports, how each authenticates, and the checks a rule
must pass to be stored.

Rules live in ``Registry.settings[RULES]`` as plain dicts keyed by their Amazon ECR repository prefix, so they are
saved with the rest of the state. This module also holds the cache's own state: which rule covers a repository name,
what the upstream repository is called, when each cached tag was last checked against the upstream
(``Repository.pull_through_checks``), and how fetched manifests become images (``store_fetched``), the step a
journal replay repeats. Fetching itself is ``ecr_emulator.pull_through``'s job.
"""

import re

from .. import errors
from ..specs import messages
from . import blob_links, creation_templates, image_ops, replication
from .repository import Repository

RULES = "pull_through_cache_rules"

# The default "Pull through cache rules" quota of a registry (Amazon ECR service quotas; early guides said 10).
MAX_RULES = 50

# The prefix that stands for the whole registry (ecrRepositoryPrefix) or any upstream repository
# (upstreamRepositoryPrefix), as "Customizing repository prefixes for ECR to ECR pull through cache" describes.
ROOT = "ROOT"

# How an upstream authenticates: "Sync an upstream registry with an Amazon ECR private registry" lists ECR Public,
# the Kubernetes registry and Quay as not requiring authentication, Docker Hub, Azure, GitHub, GitLab and Chainguard
# as requiring a Secrets Manager secret, and Amazon ECR as authenticating with an IAM role.
NONE, SECRET, ROLE = "none", "secret", "role"

# Each upstream registry with the URL syntax AWS documents for upstreamRegistryUrl, and how it authenticates.
UPSTREAMS = {
    "ecr": (re.compile(r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-[0-9])\.amazonaws\.com"),
            ROLE),
    "ecr-public": (re.compile(r"public\.ecr\.aws"), NONE),
    "k8s": (re.compile(r"registry\.k8s\.io"), NONE),
    "quay": (re.compile(r"quay\.io"), NONE),
    "docker-hub": (re.compile(r"registry-1\.docker\.io"), SECRET),
    "github-container-registry": (re.compile(r"ghcr\.io"), SECRET),
    "gitlab-container-registry": (re.compile(r"registry\.gitlab\.com"), SECRET),
    "azure-container-registry": (re.compile(r"[a-z0-9]+\.azurecr\.io"), SECRET),
    "chainguard": (re.compile(r"cgr\.dev"), SECRET),
}

# arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME; the model's pattern already requires the name prefix.
SECRET_ARN = re.compile(r"arn:aws(?:-\w+)*:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):secret:.+")
ACCOUNT_ID = re.compile(r"[0-9]{12}")
_ROLE_ARN = re.compile(r"arn:aws(?:-\w+)*:iam::(?P<account>[0-9]{12}):role/[\w+=,.@/-]+")


def normalize_prefix(prefix: str) -> str:
    """AWS treats a prefix as if it ended in "/", so "ecr-public" and "ecr-public/" name the same rule."""
    return prefix.rstrip("/") if prefix != ROOT else prefix


def upstream_of(url: str) -> str | None:
    """The upstream registry a URL belongs to, or None when AWS does not support it."""
    for name, (pattern, _) in UPSTREAMS.items():
        if pattern.fullmatch(url):
            return name
    return None


def _role_required(rule: dict, account: str) -> bool:
    """ECR to ECR needs an IAM role only across accounts: AWS asks for one "if the upstream and downstream Amazon ECR
    registries belong to different AWS accounts"."""
    match = UPSTREAMS["ecr"][0].fullmatch(rule["upstreamRegistryUrl"])
    assert match is not None, "an ecr rule is one whose URL this pattern matches"
    return match["account"] != account


def _credential_problem(arn: str, account: str, region: str) -> str | None:
    """Why a Secrets Manager ARN cannot serve a rule: AWS requires the secret in the rule's own account and Region."""
    match = SECRET_ARN.fullmatch(arn)
    if match is None:
        return "credentialArn must be a Secrets Manager secret ARN"
    if (match["account"], match["region"]) != (account, region):
        return f"The secret must be in the account and Region of the pull through cache rule ({account}, {region})"
    return None


def _role_problem(arn: str, account: str) -> str | None:
    """Why an IAM role ARN cannot serve a rule: the model says it "must be in the same account as the registry"."""
    match = _ROLE_ARN.fullmatch(arn)
    if match is None:
        return "customRoleArn must be an IAM role ARN"
    if match["account"] != account:
        return f"The role must be in the account of the registry ({account})"
    return None


def rule_problem(rule: dict, account: str, region: str) -> tuple[str, str] | None:
    """(error code, message) for the first reason a rule is incomplete or inconsistent by AWS's rules, or None.

    Create and Update refuse a rule with a problem; ValidatePullThroughCacheRule reports the message as its failure.
    A missing secret is UnsupportedUpstreamRegistryException in AWS's own words; a missing role is reported the same
    way, as the other authentication AWS requires.
    """
    auth = UPSTREAMS[rule["upstreamRegistry"]][1]
    credential, role = rule.get("credentialArn"), rule.get("customRoleArn")
    if auth == SECRET and credential is None:
        return ("UnsupportedUpstreamRegistryException",
                "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN and "
                "try again.")
    if auth == ROLE and role is None and _role_required(rule, account):
        return ("UnsupportedUpstreamRegistryException",
                "The specified upstream registry requires authentication. Specify a valid IAM role ARN in "
                "customRoleArn and try again.")
    if credential is not None:
        problem = ("credentialArn is not supported for an Amazon ECR upstream registry; use customRoleArn"
                   if auth == ROLE else _credential_problem(credential, account, region))
        if problem:
            return "InvalidParameterException", messages.invalid_parameter("credentialArn", problem)
    if role is not None:
        problem = ("customRoleArn is supported only for an Amazon ECR upstream registry"
                   if auth != ROLE else _role_problem(role, account))
        if problem:
            return "InvalidParameterException", messages.invalid_parameter("customRoleArn", problem)
    return None


def rules(registry) -> dict:
    return registry.settings.get(RULES, {})


def described(rule: dict, account: str) -> dict:
    """A rule as the PullThroughCacheRule shape shows it."""
    return {"registryId": account, **rule}


# A cached tag is checked against the upstream again at most once in this many seconds of model time: "Amazon ECR
# checks the remote repository up to once per 24 hours to verify whether the cached image is the latest version".
RECHECK_SECONDS = 24 * 3600

# The journal record of a cache fill; not a JSON API operation, so recovery replays it through ``replay``.
JOURNAL_OP = "emulator:PullThroughCache"


def rule_for(registry, name: str) -> dict | None:
    """The rule whose Amazon ECR repository prefix covers a repository name: the longest prefix that is a namespace
    of the name ("prod" covers "prod/app", not "production/app"), else the ROOT rule."""
    best = None
    for prefix, rule in rules(registry).items():
        if prefix != ROOT and name.startswith(prefix + "/") and (best is None or len(prefix) > len(
                best["ecrRepositoryPrefix"])):
            best = rule
    return best or rules(registry).get(ROOT)


def upstream_repository(rule: dict, name: str) -> str:
    """The upstream repository a cache repository stands for, as "Customizing repository prefixes for ECR to ECR
    pull through cache" maps them: the prefix is replaced by the upstream repository prefix (dropped when ROOT)."""
    prefix = rule["ecrRepositoryPrefix"]
    rest = name if prefix == ROOT else name[len(prefix) + 1:]
    upstream_prefix = rule.get("upstreamRepositoryPrefix", ROOT)
    return rest if upstream_prefix == ROOT else f"{upstream_prefix}/{rest}"


def checked_at(repo: Repository | None, tag: str) -> float | None:
    if repo is None:
        return None
    return (repo.pull_through_checks or {}).get(tag)


def is_fresh(repo: Repository | None, tag: str, now: float) -> bool:
    """Whether a cached tag was checked against the upstream recently enough to be served without asking again. A
    tag the cache did not fetch (pushed, or cached before this record existed) counts as checked when it was
    pushed."""
    image = repo.images.by_tag.get(tag) if repo is not None else None
    if image is None:
        return False
    last = checked_at(repo, tag)
    return now - (image.pushed_at if last is None else last) < RECHECK_SECONDS


def store_fetched(store, registry, name: str, manifests: list[tuple[bytes, str]], tag: str | None,
                  now: float) -> Repository | None:
    """Store the manifests a fill fetched (platform manifests first, the one pulled last) as PutImage would, in the
    repository ``name``, creating it as AWS does on a first pull: with the settings of the creation template that
    covers it for PULL_THROUGH_CACHE, else the defaults. Replication and scan on push follow as for a push. A tag
    that is immutable in the repository keeps its image. With no manifests only the tag's check time moves (the
    upstream still has what is cached). Callers hold the store lock; returns the repository, None when nothing was
    there to update."""
    repo = registry.repositories.get(name)
    if repo is None:
        if not manifests:
            return None
        repo = (creation_templates.new_repository(registry, name, now, "PULL_THROUGH_CACHE")
                or Repository(registry.account, registry.region, name, now))
        repo.pull_through_checks = {}
        registry.repositories[name] = repo
    for position, (data, media_type) in enumerate(manifests):
        manifest = image_ops.parse_manifest(data, media_type)
        with_tag = tag if position == len(manifests) - 1 else None
        try:
            image = image_ops.put_image(store, repo, manifest, data, tag=with_tag,
                                        blob_size=lambda digest: store.blobs.size(registry.account, registry.region,
                                                                                  digest))
        except (errors.ImageAlreadyExistsException, errors.ImageTagAlreadyExistsException):
            continue
        for digest in manifest.blobs():
            if store.blobs.exists(registry.account, registry.region, digest):
                blob_links.grant(store, registry, name, digest, journal=False)
        replication.replicate(store, registry, repo, image, manifest, with_tag)
    if tag is not None:
        if repo.pull_through_checks is None:
            repo.pull_through_checks = {}
        repo.pull_through_checks[tag] = now
    return repo


def journal_record(account: str, region: str, now: float, name: str, manifests: list[tuple[bytes, str]],
                   tag: str | None) -> dict:
    return {"op": JOURNAL_OP, "account": account, "region": region, "now": now,
            "params": {"repositoryName": name, "imageTag": tag,
                       "manifests": [{"imageManifest": data.decode(), "mediaType": media_type}
                                     for data, media_type in manifests]}}


def replay(store, record: dict) -> None:
    """Repeat a journaled fill: its blobs are on disk already, so only the state changes are made again."""
    params = record["params"]
    manifests = [(m["imageManifest"].encode(), m["mediaType"]) for m in params["manifests"]]
    with store.lock:
        store_fetched(store, store.registry(record["account"], record["region"]), params["repositoryName"],
                      manifests, params["imageTag"], record["now"])
