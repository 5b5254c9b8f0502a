"""What a cache fill reads from: an upstream registry over HTTP, or another registry of this emulator (ECR to ECR).

Both give a manifest's bytes and media type and bring a blob into the cache's registry in the blob store; neither
makes anything visible in the cache's repositories (``ecr_emulator.pull_through`` stores the images once every
piece has arrived and been verified).
"""

from ..models import manifests, replication, storage
from ..models.store import Store
from ..registry import blob_store
from .client import ACCESS_DENIED, NOT_FOUND, UNAVAILABLE, RegistryClient, UpstreamError


class HttpSource:
    """An upstream registry reached by the OCI Distribution API; blobs stream from its socket to the blob store,
    which keeps them only when they hash to their digest."""

    def __init__(self, client: RegistryClient, store: Store, account: str, region: str):
        self.client = client
        self.store = store
        self.account = account
        self.region = region

    def check(self) -> None:
        self.client.check()

    def manifest(self, repository: str, reference: str, limit: int) -> tuple[bytes, str]:
        data, media_type, claimed = self.client.manifest(repository, reference, sorted(manifests.MANIFEST_TYPES),
                                                         limit)
        if claimed is not None and manifests.is_digest(claimed) and claimed != manifests.digest_of(data):
            raise UpstreamError(UNAVAILABLE, f"The upstream registry sent a manifest for {repository}:{reference} "
                                             f"whose digest {manifests.digest_of(data)} is not the {claimed} it "
                                             f"claimed; nothing was cached.")
        return data, media_type

    def fetch_blob(self, repository: str, digest: str) -> None:
        try:
            self.store.blob_store().put(self.account, self.region, self.client.blob(repository, digest), digest)
        except blob_store.DigestMismatchError as exc:
            raise UpstreamError(UNAVAILABLE, f"The upstream registry sent blob {digest} of {repository} with the "
                                             f"content of {exc.actual}; nothing was cached.") from None


class EcrSource:
    """Another registry of this emulator, read in-process with the rule's role: across accounts the upstream
    repository's policy must allow the cache's account (or the rule's role) ``ecr:BatchGetImage``, as "Setting up
    permissions for cross-account ECR to ECR PTC" asks of the upstream owner."""

    def __init__(self, store: Store, upstream_account: str, upstream_region: str, account: str, region: str,
                 role_arn: str | None):
        self.store = store
        self.upstream = store.registry(upstream_account, upstream_region)
        self.account = account
        self.region = region
        self.role_arn = role_arn

    def check(self) -> None:
        """Nothing to sign in to: the upstream registry is this emulator's own."""

    def _repository(self, repository: str):
        repo = self.upstream.repositories.get(repository)
        if repo is None:
            raise UpstreamError(NOT_FOUND, f"The upstream registry {self.upstream.account} has no repository "
                                           f"{repository}.")
        if self.upstream.account != self.account and not replication.policy_allows(
                repo.policy_text, self.account, "ecr:BatchGetImage", repo.arn,
                principal_arns=(self.role_arn,) if self.role_arn else ()):
            raise UpstreamError(ACCESS_DENIED, f"The repository policy of {repo.arn} does not allow account "
                                               f"{self.account} ecr:BatchGetImage; the upstream registry denied "
                                               f"the pull.")
        return repo

    def manifest(self, repository: str, reference: str, limit: int) -> tuple[bytes, str]:
        with self.store.lock:
            repo = self._repository(repository)
            storage.settle(repo, self.store.clock.now())
            images = repo.images
            image = images.by_digest.get(reference) if ":" in reference else images.by_tag.get(reference)
            if image is None:
                raise UpstreamError(NOT_FOUND, f"The upstream repository {repo.arn} has no image {reference}.")
            if image.storage_class == "ARCHIVE":
                raise UpstreamError(UNAVAILABLE, f"The upstream image {reference} of {repo.arn} is archived and "
                                                 f"cannot be pulled until it is restored.")
            return image.manifest, image.media_type

    def fetch_blob(self, repository: str, digest: str) -> None:
        with self.store.lock:
            self._repository(repository)
        if not self.store.blob_store().copy_between(self.upstream.account, self.upstream.region, self.account,
                                                    self.region, digest):
            raise UpstreamError(NOT_FOUND, f"The upstream registry {self.upstream.account} has no blob {digest}.")
