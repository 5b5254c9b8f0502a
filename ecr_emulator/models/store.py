"""The store: one registry per (account, region), guarded by one lock."""

import threading
from typing import TYPE_CHECKING

from .clock import Clock
from .repository import Repository
from .tokens import TokenIssuer

if TYPE_CHECKING:
    from ..registry.blob_store import BlobStore
    from ..state.persistence import Persistence


class Registry:
    """One account's registry in one region: its repositories and registry-wide settings."""

    __slots__ = ("account", "region", "repositories", "settings", "blob_links")

    def __init__(self, account: str, region: str):
        self.account = account
        self.region = region
        self.repositories: dict[str, Repository] = {}
        self.settings: dict = {}
        # Repository name -> digests of the blobs it holds (see ``blob_links``).
        self.blob_links: dict[str, set[str]] = {}


class Store:
    """All emulator state. Mutations and multi-step reads happen under ``lock``."""

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or Clock()
        self.tokens = TokenIssuer()
        self.lock = threading.RLock()
        self._registries: dict[tuple[str, str], Registry] = {}
        self._listeners: dict[str, list] = {}
        self.persistence: Persistence | None = None
        self.blobs: BlobStore | None = None
        # True while a state directory's journal is replayed: effects outside the state (blob files) already happened.
        self.replaying = False
        # How long a basic scan (or an enhanced scan's first pass) takes in model time: ``--scan-seconds``.
        self.scan_seconds = 0.0

    def registry(self, account: str, region: str) -> Registry:
        key = (account, region)
        registry = self._registries.get(key)
        if registry is None:
            with self.lock:
                registry = self._registries.setdefault(key, Registry(account, region))
        return registry

    def blob_store(self) -> "BlobStore":
        """The blob store, for the operations that only run on a store that has one (``create_app`` gives it one)."""
        if self.blobs is None:
            raise RuntimeError("this store has no blob store")
        return self.blobs

    def snapshot_state(self) -> dict:
        return self._registries

    def restore_state(self, registries: dict) -> None:
        with self.lock:
            self._registries = registries

    def registries(self) -> list[Registry]:
        return list(self._registries.values())

    def subscribe(self, event: str, listener) -> None:
        """Call ``listener(*args)`` whenever ``event`` is notified; lets state kept beside the registries (blobs,
        uploads, persistence) follow what happens to them."""
        self._listeners.setdefault(event, []).append(listener)

    def notify(self, event: str, *args) -> None:
        for listener in self._listeners.get(event, ()):
            listener(*args)

    def reset(self, registries: dict | None = None) -> None:
        """Replace every registry with ``registries`` (none by default). With a state directory the new state's
        snapshot is written first, so a failed write raises and changes nothing."""
        registries = {} if registries is None else registries
        with self.lock:
            if self.persistence is not None:
                self.persistence.compact(registries)
            self._registries = registries
            self.clock.reset_to_real()
            self.notify("reset")
