"""The operations every registry-wide setting kept whole under one key of ``Registry.settings`` shares (the registry
policy, the signing configuration, the replication configuration): a put replaces it; a get or a delete answers it
beside the registry id, and a registry without it is the setting's own not-found error."""

from collections.abc import Callable

from .. import errors
from ..api.context import RequestContext
from ..models.store import Registry


def repository_filters(filters: list[dict]) -> list[dict]:
    """A rule's repository filters as a configuration stores and answers them: each filter and its type."""
    return [{"filter": f["filter"], "filterType": f["filterType"]} for f in filters]


def put(ctx: RequestContext, key: str, value) -> Registry:
    """Store ``value`` as the caller's registry's setting; returns the registry."""
    registry = ctx.registry()
    with ctx.store.lock:
        registry.settings[key] = value
    return registry


def get(ctx: RequestContext, key: str, member: str, missing: Callable[[str], errors.ServiceError]) -> dict:
    """``{"registryId": ..., member: the setting}``; ``missing(registry id)`` when there is none."""
    return _answer(ctx, key, member, missing, remove=False)


def delete(ctx: RequestContext, key: str, member: str, missing: Callable[[str], errors.ServiceError]) -> dict:
    """As ``get``, removing the setting."""
    return _answer(ctx, key, member, missing, remove=True)


def _answer(ctx: RequestContext, key: str, member: str, missing: Callable[[str], errors.ServiceError],
            remove: bool) -> dict:
    registry = ctx.registry()
    with ctx.store.lock:
        value = registry.settings.pop(key, None) if remove else registry.settings.get(key)
    if value is None:
        raise missing(registry.account)
    return {"registryId": registry.account, member: value}
