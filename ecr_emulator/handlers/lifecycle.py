"""Lifecycle policies: put, get, delete, and the preview of what a policy would do.

The preview is computed in full when it is started, from the images present then, and never changes a thing. To
keep its status deterministic for tests, StartLifecyclePolicyPreview answers ``IN_PROGRESS`` and the preview stays
in progress (so a second start is ``LifecyclePolicyPreviewInProgressException``) until the first
GetLifecyclePolicyPreview, which reports it, and every later read, as ``COMPLETE``.
"""

from .. import errors
from ..api.context import RequestContext
from ..models import lifecycle
from ..specs import lifecycle_policy
from . import operation, paging

DEFAULT_PREVIEW_PAGE = 100


def _policy_reply(repo, policy: dict, with_evaluated: bool) -> dict:
    """Get and Delete always carry ``lastEvaluatedAt``: epoch 0 until the policy has run, as the aws CLI's
    documented get-lifecycle-policy and delete-lifecycle-policy examples show."""
    reply = {"registryId": repo.account, "repositoryName": repo.name, "lifecyclePolicyText": policy["text"]}
    if with_evaluated:
        reply["lastEvaluatedAt"] = policy["lastEvaluatedAt"] or 0
    return reply


@operation("PutLifecyclePolicy")
def put_lifecycle_policy(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    text = params["lifecyclePolicyText"]
    document = lifecycle_policy.parse(text)
    with ctx.store.lock:
        repo.lifecycle_policy = {"text": text, "document": document, "lastEvaluatedAt": None}
        return _policy_reply(repo, repo.lifecycle_policy, with_evaluated=False)


@operation("GetLifecyclePolicy")
def get_lifecycle_policy(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    with ctx.store.lock:
        if repo.lifecycle_policy is None:
            raise errors.lifecycle_policy_not_found(repo.name, repo.account)
        return _policy_reply(repo, repo.lifecycle_policy, with_evaluated=True)


@operation("DeleteLifecyclePolicy")
def delete_lifecycle_policy(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    with ctx.store.lock:
        policy = repo.lifecycle_policy
        if policy is None:
            raise errors.lifecycle_policy_not_found(repo.name, repo.account)
        repo.lifecycle_policy = None
        return _policy_reply(repo, policy, with_evaluated=True)


def _preview_entry(result: lifecycle.Result) -> dict:
    action = {"type": result.action.upper()}
    if result.target_storage_class:
        action["targetStorageClass"] = result.target_storage_class
    return {"imageDigest": result.image.digest, "imageTags": list(result.tags),
            "imagePushedAt": result.image.pushed_at, "action": action,
            "appliedRulePriority": result.rule_priority, "storageClass": result.image.storage_class}


@operation("StartLifecyclePolicyPreview")
def start_lifecycle_policy_preview(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    text = params.get("lifecyclePolicyText")
    document = lifecycle_policy.parse(text) if text is not None else None
    with ctx.store.lock:
        if document is None:
            if repo.lifecycle_policy is None:
                raise errors.lifecycle_policy_not_found(repo.name, repo.account)
            text, document = repo.lifecycle_policy["text"], repo.lifecycle_policy["document"]
        previous = repo.lifecycle_preview
        if previous is not None and previous["status"] == "IN_PROGRESS":
            raise errors.LifecyclePolicyPreviewInProgressException(
                f"Lifecycle policy preview is already in progress for the repository with name '{repo.name}' "
                f"in the registry with id '{repo.account}'")
        results = lifecycle.evaluate(document, repo.images, ctx.clock.now())
        repo.lifecycle_preview = {"text": text, "status": "IN_PROGRESS",
                                  "results": [_preview_entry(r) for r in results]}
    return {"registryId": repo.account, "repositoryName": repo.name, "lifecyclePolicyText": text,
            "status": "IN_PROGRESS"}


def _summary(results: list[dict]) -> dict:
    summary: dict = {"expiringImageTotalCount": sum(1 for r in results if r["action"]["type"] == "EXPIRE")}
    archiving = sum(1 for r in results if r["action"]["type"] == "TRANSITION")
    if archiving:
        summary["transitioningImageTotalCounts"] = [{"targetStorageClass": "ARCHIVE", "imageTotalCount": archiving}]
    return summary


def _selected(results: list[dict], params: dict) -> list[dict]:
    status = params.get("filter", {}).get("tagStatus", "ANY")
    if status == "TAGGED":
        results = [r for r in results if r["imageTags"]]
    elif status == "UNTAGGED":
        results = [r for r in results if not r["imageTags"]]
    ids = params.get("imageIds")
    if ids is not None:
        digests = {i["imageDigest"] for i in ids if "imageDigest" in i}
        tags = {i["imageTag"] for i in ids if "imageTag" in i}
        results = [r for r in results if r["imageDigest"] in digests or tags.intersection(r["imageTags"])]
    return results


@operation("GetLifecyclePolicyPreview")
def get_lifecycle_policy_preview(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    if params.get("imageIds") is not None and ("maxResults" in params or "nextToken" in params):
        raise errors.paging_with_ids("imageIds", "imageIds")
    start = paging.decode(params.get("nextToken"), int)
    with ctx.store.lock:
        preview = repo.lifecycle_preview
        if preview is None:
            raise errors.lifecycle_policy_preview_not_found(repo.name, repo.account)
        preview["status"] = "COMPLETE"
        results = preview["results"]
        text = preview["text"]
    chosen = _selected(results, params)
    start = start or 0
    if start < 0 or start > len(chosen):
        raise errors.invalid_next_token()
    limit = params.get("maxResults", DEFAULT_PREVIEW_PAGE)
    page = chosen[start:start + limit]
    reply = {"registryId": repo.account, "repositoryName": repo.name, "lifecyclePolicyText": text,
             "status": "COMPLETE", "previewResults": [dict(r) for r in page], "summary": _summary(results)}
    if start + limit < len(chosen):
        reply["nextToken"] = paging.encode(start + limit)
    return reply
