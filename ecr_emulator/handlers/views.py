"""How domain objects appear in replies; shared by the handlers that return them."""

from ..config import Config
from ..models import scans
from ..models.images import Image
from ..models.repository import Repository
from ..models.store import Registry


def repository_view(repo: Repository, config: Config) -> dict:
    """``repositoryUri`` is AWS's unless the configuration names this server's own registry hosts."""
    host = config.registry_host(repo.account, repo.region)
    view = {
        "repositoryArn": repo.arn,
        "registryId": repo.account,
        "repositoryName": repo.name,
        "repositoryUri": repo.uri if host is None else f"{host}/{repo.name}",
        "createdAt": repo.created_at,
        "imageTagMutability": repo.tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": repo.scan_on_push},
        "encryptionConfiguration": dict(repo.encryption),
    }
    if repo.mutability_exclusions:
        view["imageTagMutabilityExclusionFilters"] = [dict(f) for f in repo.mutability_exclusions]
    return view


def image_detail(registry: Registry, repo: Repository, image: Image, now: float) -> dict:
    """``now`` is the model time: scan progress and findings are read off the clock; the registry's scan type
    decides which scan is shown."""
    detail = {
        "registryId": repo.account,
        "repositoryName": repo.name,
        "imageDigest": image.digest,
        "imageTags": list(image.tags) or None,
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
        "artifactMediaType": image.artifact_media_type,
        "lastRecordedPullTime": image.last_pull,
        "subjectManifestDigest": image.subject,
        "imageStatus": image.status,
        "imageScanStatus": scans.status(registry, repo, image, now),
        "imageScanFindingsSummary": scans.summary(registry, repo, image, now),
        "lastActivatedAt": image.last_activated,
    }
    if image.storage_class == "ARCHIVE":
        detail["lastArchivedAt"] = image.transitioned_at
    return detail
