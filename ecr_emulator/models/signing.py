"""Managed signing status of an image, derived from the registry's signing rules and the image's referrers.

AWS signs matching images with AWS Signer, which stores a Notary Project signature as a referrer of the image.
The emulator produces no signatures itself: an image matched by a rule is COMPLETE for that rule's profile once a
Notary signature names it as subject (pushed by any client), and IN_PROGRESS until then.
"""

from . import settings, wildcards
from .images import Image
from .referrers import referrers
from .repository import Repository

NOTARY_SIGNATURE = "application/vnd.cncf.notary.signature"


def profiles_for(registry, repo: Repository) -> list[str]:
    """The signing profiles of the rules that match ``repo`` (a rule without filters matches every repository)."""
    config = registry.settings.get(settings.SIGNING) or {"rules": []}
    found: list[str] = []
    for rule in config["rules"]:
        filters = rule.get("repositoryFilters") or []
        if not filters or any(wildcards.matches(f["filter"], repo.name) for f in filters):
            if rule["signingProfileArn"] not in found:
                found.append(rule["signingProfileArn"])
    return found


def is_signed(repo: Repository, image: Image) -> bool:
    return bool(referrers(repo, image.digest, NOTARY_SIGNATURE))


def statuses(registry, repo: Repository, image: Image) -> list[dict]:
    """One ImageSigningStatus per matching signing profile."""
    status = "COMPLETE" if is_signed(repo, image) else "IN_PROGRESS"
    return [{"signingProfileArn": arn, "status": status} for arn in profiles_for(registry, repo)]
