"""Opening a store on a state directory: load the snapshot, replay the journal, compact."""

import logging

from . import errors
from .config import Config
from .context import RequestContext
from .models.store import Store
from .models import lifecycle, scans
from .persistence import Persistence
from .protocol import dispatch

log = logging.getLogger(__name__)


def open_store(store: Store, config: Config) -> None:
    """Attach ``config.state_dir`` to ``store`` and bring back everything it holds."""
    persistence = Persistence(config.state_dir, store.snapshot_state)
    store.tokens.secret = persistence.token_secret()
    registries = persistence.load_snapshot()
    if registries is not None:
        store.restore_state(registries)
    replayed = 0
    store.replaying = True
    try:
        for record in persistence.journal_records():
            with store.clock.frozen_at(record["now"]):
                if record["op"] == lifecycle.JOURNAL_OP:
                    lifecycle.run_all(store)
                elif record["op"] in scans.JOURNAL_OPS:
                    scans.replay(store, record)
                else:
                    _replay_operation(store, config, record)
            replayed += 1
    finally:
        store.replaying = False
    persistence.compact(store.snapshot_state())
    store.persistence = persistence
    store.subscribe("reset", lambda: persistence.compact(store.snapshot_state()))
    log.info("state restored from %s (%d journaled operations replayed)", config.state_dir, replayed)


def _replay_operation(store: Store, config: Config, record: dict) -> None:
    ctx = RequestContext(store, config, record["account"], record["region"], "replay")
    try:
        dispatch(ctx, record["op"], record["params"])
    except errors.ServiceError as exc:
        log.warning("replaying %s failed with %s: %s", record["op"], exc.code, exc.message)
