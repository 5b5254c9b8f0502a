"""Repository and registry permission policies.

Policy text is checked against the IAM policy grammar that ECR enforces (``policy_grammar``) before storing it, so a
document AWS would refuse is refused here too.
"""

from .. import errors
from ..api.context import RequestContext
from ..models import policy_evaluation, settings
from . import operation, registry_setting
from .policy_grammar import PolicyFault, action_matches, invalid_policy, locks_out, parse_statements, strings

# The only actions a registry policy may name while the registry policy scope is V1.
_V1_REGISTRY_ACTIONS = ("ecr:ReplicateImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository")


def _refuse_organization_keys(statements: list[dict]) -> None:
    """AWS accepts these keys; here they could never be evaluated, so a policy using them is refused rather than
    stored to allow or deny differently than it would at AWS. Unlike a policy AWS refuses, the message says why:
    the limit is the emulator's."""
    key = policy_evaluation.organization_key(statements)
    if key is not None:
        raise errors.invalid_parameter(
            "PolicyText", f"Condition key {key!r} needs AWS Organizations, which this emulator does not model")


@operation("SetRepositoryPolicy")
def set_repository_policy(ctx: RequestContext, params: dict) -> dict:
    """A repository policy is resource-based: it names principals and actions but never a Resource, which is the
    repository itself. ``force`` is required for a policy that would deny the owning account the right to change
    the policy again."""
    registry, repo = ctx.repository(params)
    text = params["policyText"]
    try:
        statements = parse_statements(text, allow_resource=False)
    except PolicyFault as fault:
        raise invalid_policy("repository", str(fault)) from None
    _refuse_organization_keys(statements)
    if not params.get("force") and locks_out(statements, registry.account):
        raise invalid_policy("repository", "The policy denies ecr:SetRepositoryPolicy to the registry's own account "
                                           "and would prevent setting another policy; set force to apply it")
    with ctx.store.lock:
        repo.policy_text = text
    return {"registryId": registry.account, "repositoryName": repo.name, "policyText": text}


@operation("GetRepositoryPolicy")
def get_repository_policy(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    with ctx.store.lock:
        text = repo.policy_text
    if text is None:
        raise errors.repository_policy_not_found(repo.name, registry.account)
    return {"registryId": registry.account, "repositoryName": repo.name, "policyText": text}


@operation("DeleteRepositoryPolicy")
def delete_repository_policy(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    with ctx.store.lock:
        text, repo.policy_text = repo.policy_text, None
    if text is None:
        raise errors.repository_policy_not_found(repo.name, registry.account)
    return {"registryId": registry.account, "repositoryName": repo.name, "policyText": text}


@operation("PutRegistryPolicy")
def put_registry_policy(ctx: RequestContext, params: dict) -> dict:
    """A registry policy may name Resources (repositories of the registry). Under the V1 registry policy scope it
    may only grant the replication and pull-through-cache actions; V2, the default, allows every ECR action."""
    registry = ctx.registry()
    text = params["policyText"]
    try:
        statements = parse_statements(text, allow_resource=True)
        _refuse_organization_keys(statements)
        if settings.account_setting(registry, "REGISTRY_POLICY_SCOPE") == "V1":
            for number, statement in enumerate(statements, 1):
                for action in strings(statement["Action"], "Action") if "Action" in statement else ():
                    if not any(action_matches(action, allowed) for allowed in _V1_REGISTRY_ACTIONS):
                        raise PolicyFault(f"Statement {number}: action {action!r} is not supported by the V1 "
                                          f"registry policy scope; use {', '.join(_V1_REGISTRY_ACTIONS)}")
    except PolicyFault as fault:
        raise invalid_policy("registry", str(fault)) from None
    registry_setting.put(ctx, settings.REGISTRY_POLICY, text)
    return {"registryId": registry.account, "policyText": text}


@operation("GetRegistryPolicy")
def get_registry_policy(ctx: RequestContext, params: dict) -> dict:
    return registry_setting.get(ctx, settings.REGISTRY_POLICY, "policyText", errors.registry_policy_not_found)


@operation("DeleteRegistryPolicy")
def delete_registry_policy(ctx: RequestContext, params: dict) -> dict:
    return registry_setting.delete(ctx, settings.REGISTRY_POLICY, "policyText", errors.registry_policy_not_found)
