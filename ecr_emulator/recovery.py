"""Opening a store on a state directory: load the snapshot, replay the journal, compact; and rebuilding the
acknowledged state from disk when a write fails."""

import logging

from . import errors
from .config import Config
from .context import RequestContext
from .models.store import Store
from .models import lifecycle
from .models import pull_through_cache
from .persistence import Persistence, StateDirError, StateWriteError
from .protocol import apply

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
    replayed = 0
    store.replaying = True
    try:
        for record in persistence.journal_records():
            with store.clock.frozen_at(record["now"]):
                if record["op"] == lifecycle.JOURNAL_OP:
                    lifecycle.run_all(store)
                elif record["op"] == pull_through_cache.JOURNAL_OP:
                    pull_through_cache.replay(store, record)
                else:
                    _replay_operation(store, config, record)
            replayed += 1
    finally:
        store.replaying = False
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


def _replay_operation(store: Store, config: Config, record: dict) -> None:
    ctx = RequestContext(store, config, record["account"], record["region"], "replay")
    try:
        apply(ctx, record["op"], record["params"])
    except errors.ServiceError as exc:
        log.warning("replaying %s failed with %s: %s", record["op"], exc.code, exc.message)
