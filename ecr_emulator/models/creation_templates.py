"""Repository creation templates: the settings ECR gives a repository it creates on a caller's behalf (pull through
cache, create on push, replication).

Templates live in ``Registry.settings[TEMPLATES]``, a dict from ``template_key(prefix)`` to the template as a plain
dict in the shape of the API's ``RepositoryCreationTemplate``, so it is saved with the state and is replied as is.
The handlers write them; the code that creates repositories for those actions calls ``matching_template`` and
``apply_template`` under ``ctx.store.lock``.
"""

from ..specs import lifecycle_policy
from .repository import DEFAULT_MUTABILITY, Repository, default_kms_key

TEMPLATES = "repository_creation_templates"
# The prefix of the template for every repository that no other template's prefix covers.
ROOT = "ROOT"
DEFAULT_ENCRYPTION = {"encryptionType": "AES256"}


def template_key(prefix: str) -> str:
    """AWS always assumes a '/' after a prefix, so 'prod' and 'prod/' name one template."""
    return prefix.removesuffix("/")


def templates(registry) -> dict[str, dict]:
    return registry.settings.get(TEMPLATES, {})


def matching_template(registry, repository_name: str, applied_for: str) -> dict | None:
    """The template for a repository ECR creates for ``applied_for`` (REPLICATION, PULL_THROUGH_CACHE or
    CREATE_ON_PUSH): among the templates that apply to that action, the one whose prefix is a namespace of the name
    ('prod' covers 'prod/...', not 'prod' or 'production/...'), the longest prefix winning; the ROOT template only
    when no prefix covers the name; None when nothing applies."""
    best, best_length = None, -1
    for key, template in templates(registry).items():
        if applied_for not in template["appliedFor"]:
            continue
        if key == ROOT:
            length = 0
        elif repository_name.startswith(key + "/"):
            length = len(key)
        else:
            continue
        if length > best_length:
            best, best_length = template, length
    return best


def accepts_push(registry, name: str) -> bool:
    """Whether a push to ``name`` may go ahead: its repository exists, or a CREATE_ON_PUSH template will create it
    when its first image is put."""
    return name in registry.repositories or matching_template(registry, name, "CREATE_ON_PUSH") is not None


def new_repository(registry, name: str, now: float, applied_for: str) -> Repository | None:
    """The repository ECR creates for ``applied_for`` with the matching template's settings, not yet registered (the
    caller adds it once the action that needs it succeeds); None when no template applies."""
    template = matching_template(registry, name, applied_for)
    if template is None:
        return None
    repo = Repository(registry.account, registry.region, name, now)
    apply_template(template, repo)
    return repo


def apply_template(template: dict, repo) -> None:
    """Give a newly created repository the template's settings; where the template is silent the repository gets
    what CreateRepository would give it (mutable tags, AES256, no tags, no policies)."""
    repo.tag_mutability = template.get("imageTagMutability", DEFAULT_MUTABILITY)
    repo.mutability_exclusions = [dict(f) for f in template.get("imageTagMutabilityExclusionFilters", ())]
    encryption = template.get("encryptionConfiguration", DEFAULT_ENCRYPTION)
    if encryption["encryptionType"] == "AES256":
        repo.encryption = dict(DEFAULT_ENCRYPTION)
    else:
        # As in CreateRepository, KMS without a key means the AWS-managed key of the repository's account and region.
        repo.encryption = {"encryptionType": encryption["encryptionType"],
                           "kmsKey": encryption.get("kmsKey") or default_kms_key(repo.account, repo.region)}
    repo.tags = {tag["Key"]: tag["Value"] for tag in template.get("resourceTags", ())}
    repo.policy_text = template.get("repositoryPolicy")
    text = template.get("lifecyclePolicy")
    repo.lifecycle_policy = None if text is None else {
        "text": text, "document": lifecycle_policy.parse(text), "lastEvaluatedAt": None}
