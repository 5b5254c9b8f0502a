"""Opening a store on a state directory: load the snapshot, replay the journal, compact; and rebuilding the
acknowledged state from disk when a write fails."""

import logging

from .. import errors
from ..api.context import RequestContext
from ..api.protocol import apply
from ..config import Config
from ..models import blob_links, lifecycle, pull_through_cache, scans
from ..models.store import Store
from .persistence import Persistence, StateDirError, StateWriteError

log = logging.getLogger(__name__)


def open_store(store: Store, config: Config, persistence: Persistence) -> None:
    """Bring back everything ``persistence``'s directory holds into ``store`` and attach it."""
    store.tokens.secret = persistence.token_secret()
    replayed = _load(store, config, persistence)
    try:
        persistence.compact(store.snapshot_state())
    except StateWriteError as exc:
        raise StateDirError(str(exc)) from None
    persistence.snapshot_source = store.snapshot_state
    persistence.rollback = lambda: _reload(store, config, persistence)
    store.persistence = persistence
    log.info("state restored from %s (%d journaled operations replayed)", config.state_dir, replayed)


def _load(store: Store, config: Config, persistence: Persistence) -> int:
    store.restore_state(persistence.load_snapshot() or {})
    replayed = links_replayed = 0
    # State written before blob links existed: no registry carries them and the journal grants none.
    legacy = not any(blob_links.carried(registry) for registry in store.registries())
    store.replaying = True
    try:
        for path, offset, record in persistence.journal_records():
            try:
                _replay(store, config, record)
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                raise StateDirError(f"{path}: at byte {offset}: not a record this emulator writes ({exc!r}); "
                                    f"restore it from a backup, or cut it at byte {offset} to keep what precedes "
                                    f"it") from None
            replayed += 1
            links_replayed += record.get("op") == blob_links.JOURNAL_OP
    finally:
        store.replaying = False
    if legacy and not links_replayed:
        blob_links.adopt_images(store.registries())
    if store.blobs is not None:
        blob_links.sweep(store)
    return replayed


def _reload(store: Store, config: Config, persistence: Persistence) -> None:
    """After a failed write: the in-memory state becomes what is on disk, every acknowledged change and nothing else.
    Runs under the store lock the failed writer holds, so no other change can interleave."""
    with store.lock:
        persistence.paused = True
        try:
            _load(store, config, persistence)
        finally:
            persistence.paused = False
    log.warning("a write to %s failed; the state was rebuilt from the snapshot and journal", config.state_dir)


def _replay(store: Store, config: Config, record: dict) -> None:
    """Repeat one journaled change at the model time it first happened."""
    now = record["now"]
    if type(now) not in (int, float):
        raise TypeError("its time is not a number")
    with store.clock.frozen_at(now):
        if record["op"] == lifecycle.JOURNAL_OP:
            lifecycle.run_all(store)
            return
        if record["op"] in scans.JOURNAL_OPS:
            scans.replay(store, record)
            return
        if record["op"] == pull_through_cache.JOURNAL_OP:
            pull_through_cache.replay(store, record)
            return
        if record["op"] == blob_links.JOURNAL_OP:
            blob_links.replay(store, record)
            return
        operation, account, region, params = record["op"], record["account"], record["region"], record["params"]
        if not all(isinstance(v, str) for v in (operation, account, region)) or not isinstance(params, dict):
            raise TypeError("its operation, account, region or parameters have the wrong type")
        try:
            apply(RequestContext(store, config, account, region, "replay"), operation, params)
        except errors.ServiceError as exc:
            log.warning("replaying %s failed with %s: %s", operation, exc.code, exc.message)
