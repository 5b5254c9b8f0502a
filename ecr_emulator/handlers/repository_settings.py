"""The settings a request gives a repository, checked as CreateRepository checks them: tag mutability with its
exclusion filters, and encryption. PutImageTagMutability and the creation templates check theirs the same way."""

from .. import errors
from ..api.context import RequestContext
from ..models.repository import default_kms_key


def tag_mutability(params: dict) -> tuple[str, list[dict]]:
    """The tag mutability and exclusion filters a request asks for, checked against each other."""
    mutability = params.get("imageTagMutability", "MUTABLE")
    filters = params.get("imageTagMutabilityExclusionFilters")
    if mutability.endswith("_WITH_EXCLUSION"):
        if not filters:
            raise errors.invalid_parameter(
                "imageTagMutabilityExclusionFilters",
                f"exclusion filters are required when imageTagMutability is {mutability}")
    elif filters:
        raise errors.invalid_parameter(
            "imageTagMutabilityExclusionFilters",
            "exclusion filters are only allowed when imageTagMutability is MUTABLE_WITH_EXCLUSION or "
            "IMMUTABLE_WITH_EXCLUSION")
    return mutability, [dict(f) for f in (filters or ())]


def encryption_config(ctx: RequestContext, account: str, config: dict | None) -> dict:
    if not config:
        return {"encryptionType": "AES256"}
    kind = config["encryptionType"]
    if kind == "AES256":
        if config.get("kmsKey"):
            raise errors.invalid_parameter(
                "encryptionConfiguration", "kmsKey can only be specified when encryptionType is KMS or KMS_DSSE")
        return {"encryptionType": "AES256"}
    return {"encryptionType": kind, "kmsKey": config.get("kmsKey") or default_kms_key(account, ctx.region)}
