"""A repository: its settings and tags. Images live in an ``ImageIndex`` attached to it."""

import uuid

from .images import ImageIndex

DEFAULT_MUTABILITY = "MUTABLE"


def default_kms_key(account: str, region: str) -> str:
    """The ARN of the AWS-managed ECR key of an account and region, stable across runs."""
    key_id = uuid.uuid5(uuid.NAMESPACE_URL, f"ecr-emulator/kms/{account}/{region}")
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


class Repository:
    __slots__ = ("account", "region", "name", "created_at", "tag_mutability", "mutability_exclusions",
                 "scan_on_push", "encryption", "tags", "images", "policy_text", "lifecycle_policy",
                 "lifecycle_preview", "pending_restores", "pull_through_checks")

    def __init__(self, account: str, region: str, name: str, created_at: float):
        self.account = account
        self.region = region
        self.name = name
        self.created_at = created_at
        self.tag_mutability = DEFAULT_MUTABILITY
        self.mutability_exclusions: list[dict] = []
        self.scan_on_push = False
        self.encryption = {"encryptionType": "AES256"}
        self.tags: dict[str, str] = {}
        self.images = ImageIndex()
        self.policy_text: str | None = None
        self.lifecycle_policy: dict | None = None
        # The last lifecycle policy preview started: {"text", "status", "results"} (``handlers.lifecycle``).
        self.lifecycle_preview: dict | None = None
        # The restores from archive under way: image digest -> due time (``models.storage``).
        self.pending_restores: dict[str, float] = {}
        # In a repository a pull through cache filled, each cached tag's last check against the upstream (model time);
        # None in any other repository (``models.pull_through_cache``).
        self.pull_through_checks: dict[str, float] | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{self.name}"

    @property
    def uri(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.name}"
