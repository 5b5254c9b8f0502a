"""The application factory: one Flask app, three blueprints over one store."""

import logging

from flask import Flask

from . import admin, handlers, protocol
from .config import Config
from .models.store import Store
from .specs import model


def create_app(config: Config | None = None, store: Store | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__)
    app.config["ECR"] = config
    app.config["ECR_STORE"] = store or Store()
    model.service_description()
    handlers.load()
    app.register_blueprint(protocol.blueprint)
    app.register_blueprint(admin.blueprint)
    logging.getLogger(__package__).setLevel(config.log_level.upper())
    return app
