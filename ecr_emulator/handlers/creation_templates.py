"""Repository creation templates: create, describe, update and delete.

A template's settings are checked by the code that checks them on a repository (CreateRepository's tags, tag
mutability and encryption, SetRepositoryPolicy's policy grammar, PutLifecyclePolicy's rules), so a template never
holds what a repository would refuse, and every check runs before anything is stored.
"""

import copy
import re

from .. import errors
from ..api.context import RequestContext
from ..models import creation_templates as model
from ..models import settings
from ..models.repository import DEFAULT_MUTABILITY
from ..specs import lifecycle_policy
from . import operation, paging, policy_grammar
from .repository_settings import encryption_config, tag_mutability
from .tagging import check_count, parse_tags, tag_list

# Templates per registry. Not confirmed on AWS's "Amazon ECR service quotas" page; 100 is the published figure found.
MAX_TEMPLATES = 100
# DescribeRepositoryCreationTemplates: "If this parameter is not used, ... returns up to 100 results".
DEFAULT_PAGE = 100
_TEXT_SETTINGS = ("description", "repositoryPolicy", "lifecyclePolicy", "customRoleArn")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]+")


def _check_policy(text: str, account: str) -> None:
    """As SetRepositoryPolicy without ``force``: a template has no force flag, so a policy that would lock the
    account out of every repository made from the template is refused too."""
    try:
        statements = policy_grammar.parse_statements(text, allow_resource=False)
    except policy_grammar.PolicyFault as fault:
        raise policy_grammar.invalid_policy("repository", str(fault)) from None
    if policy_grammar.locks_out(statements, account):
        raise policy_grammar.invalid_policy(
            "repository", "The policy denies ecr:SetRepositoryPolicy to the registry's own account and would prevent "
                          "setting another policy")


def _check_role(arn: str, account: str) -> None:
    match = _ROLE_ARN.fullmatch(arn)
    if match is None or match.group(1) != account:
        raise errors.invalid_parameter(
            "customRoleArn", f"customRoleArn must be the ARN of an IAM role in the registry's account {account}")


def _settings(ctx: RequestContext, account: str, params: dict, template: dict) -> dict:
    """``template`` with the settings ``params`` carries, each checked; a member left out keeps its value, a member
    given replaces it whole (tags and ``appliedFor`` too), and an empty text member clears it."""
    result = dict(template)
    if "appliedFor" in params:
        applied = list(dict.fromkeys(params["appliedFor"]))
        if not applied:
            raise errors.invalid_parameter(
                "appliedFor", "appliedFor must name at least one of REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH")
        result["appliedFor"] = applied
    for name in _TEXT_SETTINGS:
        if params.get(name):
            result[name] = params[name]
        elif name in params:
            result.pop(name, None)
    if params.get("customRoleArn"):
        _check_role(params["customRoleArn"], account)
    if params.get("repositoryPolicy"):
        _check_policy(params["repositoryPolicy"], account)
    if params.get("lifecyclePolicy"):
        lifecycle_policy.parse(params["lifecyclePolicy"])
    if "resourceTags" in params:
        tags = parse_tags(params["resourceTags"])
        check_count(tags)
        result["resourceTags"] = tag_list(tags)
        if not tags:
            del result["resourceTags"]
    if "encryptionConfiguration" in params:
        config = params["encryptionConfiguration"]
        encryption_config(ctx, account, config)
        # Kept as given: a KMS template without a key means the AWS-managed key of each repository made from it.
        result["encryptionConfiguration"] = {k: v for k, v in config.items() if v}
    if "imageTagMutability" in params or "imageTagMutabilityExclusionFilters" in params:
        # A new mutability is checked with the filters sent beside it; filters alone, against the stored mutability.
        asked = {"imageTagMutability": params.get("imageTagMutability", result["imageTagMutability"]),
                 "imageTagMutabilityExclusionFilters": params.get(
                     "imageTagMutabilityExclusionFilters",
                     None if "imageTagMutability" in params else result.get("imageTagMutabilityExclusionFilters"))}
        mutability, filters = tag_mutability(asked)
        result["imageTagMutability"] = mutability
        result.pop("imageTagMutabilityExclusionFilters", None)
        if filters:
            result["imageTagMutabilityExclusionFilters"] = filters
    return result


def _view(template: dict) -> dict:
    """A copy, so a reply serialized after the lock is released never sees a later change."""
    return copy.deepcopy(template)


@operation("CreateRepositoryCreationTemplate")
def create_repository_creation_template(ctx: RequestContext, params: dict) -> dict:
    registry = ctx.registry()
    prefix = params["prefix"]
    defaults = {"prefix": prefix, "imageTagMutability": DEFAULT_MUTABILITY,
                "encryptionConfiguration": dict(model.DEFAULT_ENCRYPTION)}
    template = _settings(ctx, registry.account, params, defaults)
    with ctx.store.lock:
        template["createdAt"] = template["updatedAt"] = ctx.clock.now()
        settings.add(registry, model.TEMPLATES, model.template_key(prefix), template,
                     lambda stored: errors.template_already_exists(stored["prefix"], registry.account),
                     MAX_TEMPLATES, "repository creation templates")
        return {"registryId": registry.account, "repositoryCreationTemplate": _view(template)}


@operation("DescribeRepositoryCreationTemplates")
def describe_repository_creation_templates(ctx: RequestContext, params: dict) -> dict:
    """Templates in prefix order; a named prefix without a template is left out (the operation has no not-found
    error). Tokens carry the last prefix returned, so they stay valid while templates come and go."""
    registry = ctx.registry()
    after = paging.decode(params.get("nextToken"), str)
    limit = params.get("maxResults", DEFAULT_PAGE)
    wanted = {model.template_key(p) for p in params.get("prefixes") or ()}
    with ctx.store.lock:
        stored = model.templates(registry)
        keys = sorted(k for k in stored if not wanted or k in wanted)
        chosen, token = paging.after_key(keys, after, limit)
        result = {"registryId": registry.account, "repositoryCreationTemplates": [_view(stored[k]) for k in chosen]}
    if token is not None:
        result["nextToken"] = token
    return result


@operation("UpdateRepositoryCreationTemplate")
def update_repository_creation_template(ctx: RequestContext, params: dict) -> dict:
    registry = ctx.registry()
    key = model.template_key(params["prefix"])
    with ctx.store.lock:
        current = model.templates(registry).get(key)
        if current is None:
            raise errors.template_not_found(params["prefix"], registry.account)
        template = _settings(ctx, registry.account, params, current)
        template["updatedAt"] = ctx.clock.now()
        registry.settings[model.TEMPLATES][key] = template
        return {"registryId": registry.account, "repositoryCreationTemplate": _view(template)}


@operation("DeleteRepositoryCreationTemplate")
def delete_repository_creation_template(ctx: RequestContext, params: dict) -> dict:
    registry = ctx.registry()
    with ctx.store.lock:
        template = model.templates(registry).pop(model.template_key(params["prefix"]), None)
    if template is None:
        raise errors.template_not_found(params["prefix"], registry.account)
    return {"registryId": registry.account, "repositoryCreationTemplate": _view(template)}
