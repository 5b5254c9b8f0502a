"""How domain objects appear in replies; shared by the handlers that return them."""

from ..models.repository import Repository


def repository_view(repo: Repository) -> dict:
    view = {
        "repositoryArn": repo.arn,
        "registryId": repo.account,
        "repositoryName": repo.name,
        "repositoryUri": repo.uri,
        "createdAt": repo.created_at,
        "imageTagMutability": repo.tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": repo.scan_on_push},
        "encryptionConfiguration": dict(repo.encryption),
    }
    if repo.mutability_exclusions:
        view["imageTagMutabilityExclusionFilters"] = [dict(f) for f in repo.mutability_exclusions]
    return view
