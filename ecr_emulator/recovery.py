"""Opening a store on a state directory: load the snapshot, replay the journal, compact."""

import logging

from . import errors
from .config import Config
from .context import RequestContext
from .models.store import Store
from .models import blob_links, lifecycle
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
    replayed = links_replayed = 0
    # State written before blob links existed: no registry carries them and the journal grants none.
    legacy = not any(blob_links.carried(registry) for registry in store.registries())
    store.replaying = True
    try:
        for record in persistence.journal_records():
            with store.clock.frozen_at(record["now"]):
                if record["op"] == lifecycle.JOURNAL_OP:
                    lifecycle.run_all(store)
                elif record["op"] == blob_links.JOURNAL_OP:
                    blob_links.replay(store, record)
                    links_replayed += 1
                else:
                    _replay_operation(store, config, record)
            replayed += 1
    finally:
        store.replaying = False
    if legacy and not links_replayed:
        blob_links.adopt_images(store.registries())
    if store.blobs is not None:
        blob_links.sweep(store)
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
