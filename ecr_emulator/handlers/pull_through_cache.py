"""Pull through cache rules: create, describe, update, delete and validate, kept in ``Registry.settings``.

The rules are stored and checked as AWS documents them. Secrets Manager is not emulated: a well-formed secret ARN in
the rule's account and Region is accepted, and the credentials it stands for come from ``--upstream-credentials``
when an image is pulled through the rule (``ecr_emulator.pull_through``).
"""

from .. import errors
from ..api.context import RequestContext
from ..models import pull_through_cache as ptc
from ..models import settings
from ..pull_through import fetch as pull_through
from . import operation, paging

_DEFAULT_PAGE = 100


def _refuse_problem(rule: dict, account: str, region: str) -> None:
    problem = ptc.rule_problem(rule, account, region)
    if problem:
        code, message = problem
        raise errors.by_code(code)(message)


def _rule(registry, prefix: str) -> dict:
    """The registry's rule for ``prefix``, or PullThroughCacheRuleNotFoundException. Callers hold the store lock."""
    rule = ptc.rules(registry).get(prefix)
    if rule is None:
        raise errors.pull_through_cache_rule_not_found(prefix, registry.account)
    return rule


def _upstream_prefix(params: dict, prefix: str, upstream: str) -> str | None:
    """The upstream repository prefix of a new rule: ROOT unless given, and only for ECR to ECR rules, whose
    documentation allows a non-ROOT value only beside a non-ROOT Amazon ECR repository prefix."""
    given = params.get("upstreamRepositoryPrefix")
    if upstream != "ecr":
        if given is not None:
            raise errors.invalid_parameter(
                "upstreamRepositoryPrefix", "upstreamRepositoryPrefix is supported only for an Amazon ECR upstream "
                                            "registry")
        return None
    upstream_prefix = ptc.normalize_prefix(given or ptc.ROOT)
    if prefix == ptc.ROOT and upstream_prefix != ptc.ROOT:
        raise errors.invalid_parameter("upstreamRepositoryPrefix",
                                       "upstreamRepositoryPrefix can be set only when ecrRepositoryPrefix is not ROOT")
    return upstream_prefix


@operation("CreatePullThroughCacheRule")
def create_pull_through_cache_rule(ctx: RequestContext, params: dict) -> dict:
    """The upstream registry is inferred from the URL, as AWS does when upstreamRegistry is absent; a given one that
    names another registry than the URL is refused. ROOT as the Amazon ECR repository prefix is documented only for
    ECR to ECR rules, so other upstreams need a real prefix."""
    prefix = ptc.normalize_prefix(params["ecrRepositoryPrefix"])
    url = params["upstreamRegistryUrl"]
    upstream = ptc.upstream_of(url)
    if upstream is None:
        raise errors.UnsupportedUpstreamRegistryException(
            f"The upstream registry URL {url} is invalid. Specify a valid upstream registry URL and try again")
    declared = params.get("upstreamRegistry")
    if declared is not None and declared != upstream:
        raise errors.invalid_parameter(
            "upstreamRegistry", f"upstreamRegistry {declared} does not match the upstream registry URL {url}, which "
                                f"is {upstream}")
    if prefix == ptc.ROOT and upstream != "ecr":
        raise errors.invalid_parameter("ecrRepositoryPrefix",
                                       "ROOT is supported only for an Amazon ECR upstream registry")
    registry = ctx.registry(params.get("registryId"))
    rule = {"ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": url, "upstreamRegistry": upstream}
    for member in ("credentialArn", "customRoleArn"):
        if params.get(member) is not None:
            rule[member] = params[member]
    upstream_prefix = _upstream_prefix(params, prefix, upstream)
    if upstream_prefix is not None:
        rule["upstreamRepositoryPrefix"] = upstream_prefix
    _refuse_problem(rule, registry.account, registry.region)
    with ctx.store.lock:
        rule["createdAt"] = rule["updatedAt"] = ctx.clock.now()
        settings.add(registry, ptc.RULES, prefix, rule,
                     lambda _: errors.pull_through_cache_rule_already_exists(prefix, registry.account),
                     ptc.MAX_RULES, "pull through cache rules")
        return ptc.described(rule, registry.account)


@operation("DescribePullThroughCacheRules")
def describe_pull_through_cache_rules(ctx: RequestContext, params: dict) -> dict:
    """Rules in prefix order; a named prefix that has no rule is PullThroughCacheRuleNotFoundException, as a named
    repository is for DescribeRepositories. The token carries the last prefix returned, so paging survives
    concurrent changes."""
    after = paging.decode(params.get("nextToken"), str)
    limit = params.get("maxResults", _DEFAULT_PAGE)
    registry = ctx.registry(params.get("registryId"))
    with ctx.store.lock:
        rules = ptc.rules(registry)
        if "ecrRepositoryPrefixes" in params:
            wanted = sorted({ptc.normalize_prefix(p) for p in params["ecrRepositoryPrefixes"]})
            missing = [p for p in wanted if p not in rules]
            if missing:
                raise errors.pull_through_cache_rule_not_found(missing[0], registry.account)
        else:
            wanted = sorted(rules)
        chosen, token = paging.after_key(wanted, after, limit)
        result: dict = {"pullThroughCacheRules": [ptc.described(rules[p], registry.account) for p in chosen]}
    if token is not None:
        result["nextToken"] = token
    return result


@operation("UpdatePullThroughCacheRule")
def update_pull_through_cache_rule(ctx: RequestContext, params: dict) -> dict:
    """Replaces the rule's credentialArn and/or customRoleArn (a member left out keeps its value); a request that
    changes neither is refused, as it could only move updatedAt."""
    prefix = ptc.normalize_prefix(params["ecrRepositoryPrefix"])
    changes = {m: params[m] for m in ("credentialArn", "customRoleArn") if params.get(m) is not None}
    registry = ctx.registry(params.get("registryId"))
    with ctx.store.lock:
        rule = _rule(registry, prefix)
        if not changes:
            raise errors.invalid_parameter("credentialArn",
                                           "At least one of credentialArn or customRoleArn must be provided")
        updated = {**rule, **changes, "updatedAt": ctx.clock.now()}
        _refuse_problem(updated, registry.account, registry.region)
        registry.settings[ptc.RULES][prefix] = updated
        return ptc.described(updated, registry.account)


@operation("DeletePullThroughCacheRule")
def delete_pull_through_cache_rule(ctx: RequestContext, params: dict) -> dict:
    """Only the rule goes: AWS leaves repositories and images already cached through it in place."""
    prefix = ptc.normalize_prefix(params["ecrRepositoryPrefix"])
    registry = ctx.registry(params.get("registryId"))
    with ctx.store.lock:
        rule = _rule(registry, prefix)
        del registry.settings[ptc.RULES][prefix]
    return ptc.described(rule, registry.account)


@operation("ValidatePullThroughCacheRule")
def validate_pull_through_cache_rule(ctx: RequestContext, params: dict) -> dict:
    """As AWS does, the upstream registry is contacted and signed in to with the rule's credentials (the secret's
    value from ``--upstream-credentials``); isValid says whether that worked and ``failure`` why not. A rule that is
    incomplete by AWS's rules (Create and Update refuse those) fails without a contact. An ECR upstream is another
    registry of this emulator, so there is nothing to sign in to."""
    prefix = ptc.normalize_prefix(params["ecrRepositoryPrefix"])
    registry = ctx.registry(params.get("registryId"))
    with ctx.store.lock:
        rule = dict(_rule(registry, prefix))
    problem = ptc.rule_problem(rule, registry.account, registry.region)
    failure = problem[1] if problem else pull_through.validate_upstream(ctx, registry, rule)
    result = {**ptc.described(rule, registry.account), "isValid": failure is None}
    if failure:
        result["failure"] = failure
    return result
