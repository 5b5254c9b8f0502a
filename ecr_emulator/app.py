"""The application factory: one Flask app, its blueprints over one store."""

import atexit
import logging
import pathlib
import shutil
import tempfile

from flask import Flask

from . import extension, handlers
from .admin import routes as admin
from .admin import scan_findings as scan_admin
from .api import protocol
from .config import Config
from .models import blob_links, replication
from .models.store import Store
from .registry import api as registry_api
from .registry import blob_downloads
from .registry.blob_store import BlobStore
from .specs import model
from .state import recovery
from .state.persistence import Persistence


def create_app(config: Config | None = None, store: Store | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__)
    store = store or Store()
    store.scan_seconds = config.scan_seconds
    extension.install(app, config, store)
    model.service_description()
    handlers.load()
    # The state directory's lock is taken before anything in it (blobs included) is touched.
    persistence = Persistence(config.state_dir) if config.state_dir else None
    if store.blobs is None:
        store.blobs = _blob_store(config)
        store.subscribe("reset", store.blobs.clear)
        store.subscribe("repository_deleted", lambda repo: blob_links.drop_repository(store, repo))
        store.subscribe("committed", lambda: blob_links.collect_dropped(store))
    replication.follow_deletions(store)
    if persistence is not None:
        recovery.open_store(store, config, persistence)
    # Registry paths are names, not file paths: "//abs" must reach the name check, not a redirect.
    app.url_map.merge_slashes = False
    app.register_blueprint(protocol.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(scan_admin.blueprint)
    app.register_blueprint(blob_downloads.blueprint)
    app.register_blueprint(registry_api.blueprint)
    app.register_error_handler(405, registry_api.method_not_allowed)
    logging.getLogger(__package__).setLevel(config.log_level.upper())
    return app


def _blob_store(config: Config) -> BlobStore:
    """Blobs live beside the state under ``--state-dir``; otherwise in a private directory gone at exit, as the
    in-memory state is."""
    if config.state_dir:
        return BlobStore(pathlib.Path(config.state_dir) / "blobs")
    root = tempfile.mkdtemp(prefix="ecr-emulator-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return BlobStore(pathlib.Path(root), durable=False)
