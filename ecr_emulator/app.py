"""The application factory: one Flask app, three blueprints over one store."""

import logging

from flask import Flask

from . import admin, handlers, protocol, recovery
from .config import Config
from .models.store import Store
from .specs import model


def create_app(config: Config | None = None, store: Store | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__)
    app.config["ECR"] = config
    store = store or Store()
    app.config["ECR_STORE"] = store
    model.service_description()
    handlers.load()
    if config.state_dir:
        recovery.open_store(store, config)
    app.register_blueprint(protocol.blueprint)
    app.register_blueprint(admin.blueprint)
    logging.getLogger(__package__).setLevel(config.log_level.upper())
    return app
