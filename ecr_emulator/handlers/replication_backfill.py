"""Replication backfills: StartReplicationBackfill, DescribeReplicationBackfillResults, ListReplicationBackfills and
StopReplicationBackfill.

These operations are newer than the oldest botocore the package allows (1.44 added them), so they register only when
the loaded model has them. The copying and the records are ``models.replication.start_backfill``'s: a backfill runs
to its end when it starts, so every backfill a caller sees is terminal. Hence the per-image results are always
answered (AWS gives them once a backfill is terminal), a stop always finds a backfill it cannot stop, and neither
ReplicationBackfillInProgressException (one backfill in progress per destination Region) nor LimitExceededException
(10 in progress per registry) can arise.
"""

from .. import errors
from ..api.context import RequestContext
from ..models import replication
from . import operation, paging

# The documented page sizes when maxResults is absent; the model itself caps maxResults (1000 and 50).
DEFAULT_RESULTS_PAGE = 100
DEFAULT_BACKFILLS_PAGE = 25

_SUMMARY_MEMBERS = ("replicationBackfillId", "destination", "status", "failureCode", "progress", "startedAt",
                    "endedAt")


def _found(ctx: RequestContext, registry, backfill_id: str) -> dict:
    backfill = replication.backfills(registry, ctx.clock.now()).get(backfill_id)
    if backfill is None:
        raise errors.replication_backfill_not_found(backfill_id, registry.account)
    return backfill


def _summary(backfill: dict) -> dict:
    return {k: backfill[k] for k in _SUMMARY_MEMBERS if k in backfill}


@operation("StartReplicationBackfill", optional=True)
def start_replication_backfill(ctx: RequestContext, params: dict) -> dict:
    """The destination must be in the registry's replication configuration, as AWS requires."""
    registry = ctx.registry(params.get("registryId"))
    region, account = params["destination"]["region"], params["destination"]["registryId"]
    with ctx.store.lock:
        if not replication.configured(registry, region, account):
            raise errors.invalid_parameter(
                "destination", f"The destination (region {region}, registry {account}) is not in the registry's "
                               f"replication configuration")
        backfill = replication.start_backfill(ctx.store, registry, region, account, ctx.clock.now())
    return {"registryId": registry.account, **{k: backfill[k] for k in (
        "replicationBackfillId", "destination", "status", "startedAt")}}


@operation("DescribeReplicationBackfillResults", optional=True)
def describe_replication_backfill_results(ctx: RequestContext, params: dict) -> dict:
    """Results page by position in the backfill's fixed list of results, so a filter never shifts a token."""
    registry = ctx.registry(params.get("registryId"))
    after = paging.decode(params.get("nextToken"), int) or 0
    if after < 0:
        raise errors.invalid_next_token()
    wanted = params.get("resultStatusFilter")
    limit = params.get("maxResults", DEFAULT_RESULTS_PAGE)
    with ctx.store.lock:
        backfill = _found(ctx, registry, params["replicationBackfillId"])
        results = backfill["results"]
        page: list[dict] = []
        position = after
        while position < len(results) and len(page) < limit:
            if wanted is None or results[position]["status"] == wanted:
                page.append(results[position])
            position += 1
        reply = {"registryId": registry.account, **_summary(backfill), "results": page}
    if any(wanted is None or r["status"] == wanted for r in results[position:]):
        reply["nextToken"] = paging.encode(position)
    return reply


@operation("ListReplicationBackfills", optional=True)
def list_replication_backfills(ctx: RequestContext, params: dict) -> dict:
    """Oldest first; the token is the start sequence of the last backfill served, so expiries never shift a page."""
    registry = ctx.registry(params.get("registryId"))
    after = paging.decode(params.get("nextToken"), int)
    limit = params.get("maxResults", DEFAULT_BACKFILLS_PAGE)
    with ctx.store.lock:
        listed = [b for b in replication.backfills(registry, ctx.clock.now()).values()
                  if after is None or b["seq"] > after]
    reply = {"registryId": registry.account, "backfills": [_summary(b) for b in listed[:limit]]}
    if len(listed) > limit:
        reply["nextToken"] = paging.encode(listed[limit - 1]["seq"])
    return reply


@operation("StopReplicationBackfill", optional=True)
def stop_replication_backfill(ctx: RequestContext, params: dict) -> dict:
    """AWS stops only a PREPARING or IN_PROGRESS backfill; every backfill here has already ended."""
    registry = ctx.registry(params.get("registryId"))
    with ctx.store.lock:
        backfill = _found(ctx, registry, params["replicationBackfillId"])
    raise errors.ReplicationBackfillInvalidStatusException(
        f"The replication backfill with id '{backfill['replicationBackfillId']}' cannot be stopped because its status "
        f"is {backfill['status']}; only a PREPARING or IN_PROGRESS backfill can be stopped")
