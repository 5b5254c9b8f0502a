"""The referrers of a subject manifest: the artifacts (signatures, SBOMs, attestations) whose ``subject`` names it.

Shared by ListImageReferrers, DescribeImageSigningStatus and the /v2 referrers endpoint, so they always agree.
"""

import json
from collections.abc import Collection

from .images import Image
from .repository import Repository


def referrers(repo: Repository, subject_digest: str,
              artifact_type: str | Collection[str] | None = None) -> list[Image]:
    """Manifests in ``repo`` whose subject is ``subject_digest``, in push order; with ``artifact_type`` (one type or
    several), only those of that type; a referrer's type is its artifactType, else its config's media type (OCI's
    rule, which ``Image.artifact_media_type`` already follows). An absent subject simply has no referrers, as in
    OCI."""
    digests = repo.images.referrers.get(subject_digest)
    if not digests:
        return []
    wanted = {artifact_type} if isinstance(artifact_type, str) else artifact_type
    by_digest = repo.images.by_digest
    found = [by_digest[d] for d in digests if d in by_digest]
    if wanted is not None:
        found = [image for image in found if image.artifact_media_type in wanted]
    return sorted(found, key=lambda image: image.seq)


def annotations(image: Image) -> dict[str, str] | None:
    """The manifest's own annotations (string values only), or None when it has none."""
    try:
        doc = json.loads(image.manifest)
    except ValueError:
        return None
    found = doc.get("annotations") if isinstance(doc, dict) else None
    if not isinstance(found, dict):
        return None
    kept = {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}
    return kept or None
