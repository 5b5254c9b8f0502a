"""Repository operations: create, describe, delete, tag, and the per-repository settings."""

import re

from .. import errors
from ..api.context import RequestContext
from ..models.repository import Repository
from ..specs import messages
from . import operation, paging
from .repository_settings import encryption_config, tag_mutability
from .tagging import check_count, check_key, parse_tags, tag_list
from .views import repository_view

_ARN = re.compile(r"arn:aws[a-z-]*:ecr:([a-z0-9-]+):(\d{12}):repository/(.+)")


@operation("CreateRepository")
def create_repository(ctx: RequestContext, params: dict) -> dict:
    registry = ctx.registry(params.get("registryId"))
    name = params["repositoryName"]
    tags = parse_tags(params.get("tags", []))
    check_count(tags)
    mutability, filters = tag_mutability(params)
    encryption = encryption_config(ctx, registry.account, params.get("encryptionConfiguration"))
    with ctx.store.lock:
        if name in registry.repositories:
            raise errors.repository_already_exists(name, registry.account)
        repo = Repository(registry.account, registry.region, name, ctx.clock.now())
        repo.tags = tags
        repo.tag_mutability, repo.mutability_exclusions = mutability, filters
        repo.scan_on_push = params.get("imageScanningConfiguration", {}).get("scanOnPush", False)
        repo.encryption = encryption
        registry.repositories[name] = repo
        return {"repository": repository_view(repo, ctx.config)}


@operation("DescribeRepositories")
def describe_repositories(ctx: RequestContext, params: dict) -> dict:
    registry = ctx.registry(params.get("registryId"))
    names = params.get("repositoryNames")
    if names is not None:
        if "maxResults" in params or "nextToken" in params:
            raise errors.paging_with_ids("maxResults", "repositoryNames")
        with ctx.store.lock:
            found = []
            for name in names:
                repo = registry.repositories.get(name)
                if repo is None:
                    raise errors.repository_not_found(name, registry.account)
                found.append(repository_view(repo, ctx.config))
        return {"repositories": found}
    after = paging.decode(params.get("nextToken"), str)
    limit = params.get("maxResults", 1000)
    with ctx.store.lock:
        ordered = sorted(registry.repositories)
    chosen, token = paging.after_key(ordered, after, limit)
    views = []
    with ctx.store.lock:
        for name in chosen:
            repo = registry.repositories.get(name)
            if repo is not None:
                views.append(repository_view(repo, ctx.config))
    result: dict = {"repositories": views}
    if token is not None:
        result["nextToken"] = token
    return result


@operation("DeleteRepository")
def delete_repository(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    with ctx.store.lock:
        if len(repo.images) and not params.get("force"):
            raise errors.RepositoryNotEmptyException(
                f"The repository with name '{repo.name}' in registry with id '{registry.account}' "
                f"cannot be deleted because it still contains images")
        registry.repositories.pop(repo.name, None)
        ctx.store.notify("repository_deleted", repo)
        return {"repository": repository_view(repo, ctx.config)}


def _repository_by_arn(ctx: RequestContext, arn: str) -> Repository:
    match = _ARN.fullmatch(arn)
    if match is None:
        raise errors.invalid_parameter("resourceArn", messages.INVALID_ARN)
    region, account, name = match.groups()
    repo = ctx.store.registry(account, region).repositories.get(name)
    if repo is None:
        raise errors.repository_not_found(name, account)
    return repo


@operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    new = parse_tags(params["tags"])
    with ctx.store.lock:
        repo = _repository_by_arn(ctx, params["resourceArn"])
        merged = {**repo.tags, **new}
        check_count(merged)
        repo.tags = merged
    return {}


@operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    for key in params["tagKeys"]:
        check_key(key)
    with ctx.store.lock:
        repo = _repository_by_arn(ctx, params["resourceArn"])
        for key in params["tagKeys"]:
            repo.tags.pop(key, None)
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.lock:
        repo = _repository_by_arn(ctx, params["resourceArn"])
        return {"tags": tag_list(repo.tags)}


@operation("PutImageTagMutability")
def put_image_tag_mutability(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    mutability, filters = tag_mutability(params)
    with ctx.store.lock:
        repo.tag_mutability, repo.mutability_exclusions = mutability, filters
    result: dict = {"registryId": registry.account, "repositoryName": repo.name, "imageTagMutability": mutability}
    if filters:
        result["imageTagMutabilityExclusionFilters"] = filters
    return result


@operation("PutImageScanningConfiguration")
def put_image_scanning_configuration(ctx: RequestContext, params: dict) -> dict:
    registry, repo = ctx.repository(params)
    scan_on_push = params["imageScanningConfiguration"].get("scanOnPush", False)
    with ctx.store.lock:
        repo.scan_on_push = scan_on_push
    return {"registryId": registry.account, "repositoryName": repo.name,
            "imageScanningConfiguration": {"scanOnPush": scan_on_push}}
