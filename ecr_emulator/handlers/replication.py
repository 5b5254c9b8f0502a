"""Replication: PutReplicationConfiguration, DescribeRegistry and DescribeImageReplicationStatus.

The configuration is kept in ``Registry.settings`` under ``models.replication.CONFIGURATION`` and checked against the
limits AWS documents for private image replication before it replaces the old one, so a refused configuration changes
nothing. The copying itself runs from PutImage (``models.replication.replicate``).
"""

from .. import errors
from ..api.context import RequestContext
from ..models import replication
from . import lookup, operation, registry_setting

# AWS: "up to 25 unique destinations across all rules" (the model allows 100 per rule; 10 rules and 100 filters per
# rule are the model's own limits, checked before any handler runs).
MAX_UNIQUE_DESTINATIONS = 25


def _checked(ctx: RequestContext, config: dict) -> dict:
    """The configuration as stored and answered, or the fault AWS reports for it."""
    rules, unique = [], set()
    source_partition = replication.partition(ctx.region)
    for rule in config["rules"]:
        destinations = []
        for destination in rule["destinations"]:
            region, account = destination["region"], destination["registryId"]
            if (region, account) == (ctx.region, ctx.account):
                raise errors.invalid_parameter("replicationConfiguration",
                                               "Replication destination cannot be the same as the source registry")
            if replication.partition(region) != source_partition:
                raise errors.invalid_parameter(
                    "replicationConfiguration",
                    f"Replication across AWS partitions is not supported: {ctx.region} is in {source_partition}, "
                    f"{region} in {replication.partition(region)}")
            unique.add((region, account))
            destinations.append({"region": region, "registryId": account})
        stored: dict = {"destinations": destinations}
        if "deleteReplication" in rule:
            stored["deleteReplication"] = {"enabled": rule["deleteReplication"]["enabled"]}
        if "repositoryFilters" in rule:
            stored["repositoryFilters"] = registry_setting.repository_filters(rule["repositoryFilters"])
        rules.append(stored)
    if len(unique) > MAX_UNIQUE_DESTINATIONS:
        raise errors.invalid_parameter(
            "replicationConfiguration", f"A replication configuration may contain up to {MAX_UNIQUE_DESTINATIONS} "
                                        f"unique destinations across all rules; {len(unique)} were given")
    return {"rules": rules}


@operation("PutReplicationConfiguration")
def put_replication_configuration(ctx: RequestContext, params: dict) -> dict:
    """Replaces the registry's whole configuration; it applies to images pushed from now on."""
    config = _checked(ctx, params["replicationConfiguration"])
    registry_setting.put(ctx, replication.CONFIGURATION, config)
    return {"replicationConfiguration": config}


@operation("DescribeRegistry")
def describe_registry(ctx: RequestContext, params: dict) -> dict:
    registry = ctx.registry()
    with ctx.store.lock:
        return {"registryId": registry.account, "replicationConfiguration": replication.configuration(registry)}


@operation("DescribeImageReplicationStatus")
def describe_image_replication_status(ctx: RequestContext, params: dict) -> dict:
    """Replication is synchronous here, so every recorded status is COMPLETE or FAILED, never IN_PROGRESS; an image
    never replicated (or one that arrived by replication) has none."""
    _, repo = ctx.repository(params)
    with ctx.store.lock:
        image = lookup.image(repo, params["imageId"])
        statuses = replication.statuses(image)
    return {"repositoryName": repo.name, "imageId": lookup.echoed_id(image, params["imageId"]),
            "replicationStatuses": statuses}
