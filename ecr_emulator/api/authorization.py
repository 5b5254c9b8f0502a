"""Whether a caller may act on a registry: the resource-based side of IAM's evaluation for ECR.

The emulator has no identity-based policies, so each caller is its account's root principal and may do anything in
its own account's registries. The registry's policies decide the rest: the repository's policy and the registry's
policy together are the resource-based policies of a request. An explicit ``Deny`` in either refuses the request,
the owner's included (which is why SetRepositoryPolicy asks for ``force`` before a policy that locks the owner out);
another account's request needs an ``Allow`` in one of them, as a cross-account request does at AWS.
"""

from .. import errors
from ..models import settings
from ..models.policy_evaluation import ALLOW, DENY, account_request, account_root, evaluate
from ..models.store import Store

# The owner can always change its registry policy: unlike SetRepositoryPolicy (whose ``force`` guards a lock-out),
# nothing would undo a registry policy that denied the owner these.
_OWNER_ALWAYS = frozenset({"ecr:PutRegistryPolicy", "ecr:GetRegistryPolicy", "ecr:DeleteRegistryPolicy"})


def repository_arn(region: str, account: str, name: str | None) -> str:
    """A repository's ARN; for a request about no one repository, the ARN pattern of all of them."""
    return f"arn:aws:ecr:{region}:{account}:repository/{name or '*'}"


def decide(store: Store, caller: str, account: str, region: str, action: str, name: str | None) -> str | None:
    """``ALLOW`` or ``DENY`` when a policy of the registry (``account``, ``region``) says so for ``caller``'s
    request to perform ``action`` on repository ``name`` (None: the registry as a whole), else None."""
    registry = store.registry(account, region)
    repo = registry.repositories.get(name) if name else None
    policies = (repo.policy_text if repo is not None else None, registry.settings.get(settings.REGISTRY_POLICY))
    if policies == (None, None):
        return None
    return evaluate(policies, account_request(caller, action, repository_arn(region, account, name)))


def authorize(store: Store, caller: str, account: str, region: str, action: str, name: str | None) -> None:
    """Refuse with ``AccessDeniedException``, in AWS's wording, what the registry's policies do not let the caller
    do."""
    if caller == account and action in _OWNER_ALWAYS:
        return
    decision = decide(store, caller, account, region, action, name)
    if decision == ALLOW or (decision is None and caller == account):
        return
    resource = repository_arn(region, account, name)
    why = ("with an explicit deny in a resource-based policy" if decision == DENY
           else f"because no resource-based policy allows the {action} action")
    raise errors.AccessDeniedException(
        f"User: {account_root(caller)} is not authorized to perform: {action} on resource: {resource} {why}")


def check_operation(ctx, operation: str, params: dict) -> None:
    """Authorize a JSON API request on the registry its ``registryId`` names (the caller's own by default), for
    each repository it names."""
    account = params.get("registryId") or ctx.account
    names = params.get("repositoryNames") or [params.get("repositoryName")]
    for name in names:
        authorize(ctx.store, ctx.account, account, ctx.region, f"ecr:{operation}", name)
