"""Pull through cache rules: which upstream registries AWS supports, how each authenticates, and the checks a rule
must pass to be stored.

Rules live in ``Registry.settings[RULES]`` as plain dicts keyed by their Amazon ECR repository prefix, so they pickle
with the rest of the state. Pulling images through a rule is not emulated (there is no network to reach an upstream).
"""

import re

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
_SECRET_ARN = re.compile(r"arn:aws(?:-\w+)*:secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):secret:.+")
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
    return match["account"] != account


def _credential_problem(arn: str, account: str, region: str) -> str | None:
    """Why a Secrets Manager ARN cannot serve a rule: AWS requires the secret in the rule's own account and Region."""
    match = _SECRET_ARN.fullmatch(arn)
    if match is None:
        return "'credentialArn must be a Secrets Manager secret ARN'"
    if (match["account"], match["region"]) != (account, region):
        return f"'The secret must be in the account and Region of the pull through cache rule ({account}, {region})'"
    return None


def _role_problem(arn: str, account: str) -> str | None:
    """Why an IAM role ARN cannot serve a rule: the model says it "must be in the same account as the registry"."""
    match = _ROLE_ARN.fullmatch(arn)
    if match is None:
        return "'customRoleArn must be an IAM role ARN'"
    if match["account"] != account:
        return f"'The role must be in the account of the registry ({account})'"
    return None


def _invalid(member: str, constraint: str) -> str:
    return f"Invalid parameter at '{member}' failed to satisfy constraint: {constraint}"


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
        problem = ("'credentialArn is not supported for an Amazon ECR upstream registry; use customRoleArn'"
                   if auth == ROLE else _credential_problem(credential, account, region))
        if problem:
            return "InvalidParameterException", _invalid("credentialArn", problem)
    if role is not None:
        problem = ("'customRoleArn is supported only for an Amazon ECR upstream registry'"
                   if auth != ROLE else _role_problem(role, account))
        if problem:
            return "InvalidParameterException", _invalid("customRoleArn", problem)
    return None


def rules(registry) -> dict:
    return registry.settings.get(RULES, {})


def described(rule: dict, account: str) -> dict:
    """A rule as the PullThroughCacheRule shape shows it."""
    return {"registryId": account, **rule}
