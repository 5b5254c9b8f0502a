"""What a handler knows about its request: who is calling, where, and the state to act on."""

from .. import errors
from ..config import Config
from ..models.policy_evaluation import account_root
from ..models.repository import Repository
from ..models.store import Registry, Store


class RequestContext:
    __slots__ = ("store", "config", "account", "region", "request_id", "pulled_through",
                 "upstream_failures")

    def __init__(self, store: Store, config: Config, account: str, region: str, request_id: str = ""):
        self.store = store
        self.config = config
        self.account = account
        self.region = region
        self.request_id = request_id
        # Whether the pull through cache was filled for this request, and why it could not fetch what it reads.
        self.pulled_through = False
        self.upstream_failures: dict = {}

    @property
    def clock(self):
        return self.store.clock

    def registry(self, registry_id: str | None = None) -> Registry:
        """The registry a request addresses: ``registryId`` when given, else the caller's own, in the caller's
        region."""
        return self.store.registry(registry_id or self.account, self.region)

    def repository(self, params: dict) -> tuple[Registry, Repository]:
        registry = self.registry(params.get("registryId"))
        name = params["repositoryName"]
        repository = registry.repositories.get(name)
        if repository is None:
            raise errors.repository_not_found(name, registry.account)
        return registry, repository


def caller_arn(ctx: RequestContext) -> str:
    """The principal a request acts as. Credentials carry only an account here, so callers are its root user."""
    return account_root(ctx.account)
