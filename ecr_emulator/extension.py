"""The emulator's place in a Flask app: its configuration and store, kept in ``app.extensions`` as every Flask
extension keeps its state, so views reach them through ``current()`` and owners of an app through ``of(app)``."""

import dataclasses

from flask import Flask, current_app

from .config import Config
from .models.store import Store

NAME = "ecr_emulator"


@dataclasses.dataclass(frozen=True)
class Emulator:
    config: Config
    store: Store


def install(app: Flask, config: Config, store: Store) -> None:
    app.extensions[NAME] = Emulator(config, store)


def of(app: Flask) -> Emulator:
    return app.extensions[NAME]


def current() -> Emulator:
    """The emulator of the app handling the current request."""
    return of(current_app)
