"""Operation handlers, one module per API area.

A handler is a plain function ``(ctx, params) -> dict`` registered under its operation name with ``@operation``;
it sees parameters that already passed validation against the model and checks semantics only. What several areas
share lives in modules without operations (``lookup``, ``paging``, ``policy_grammar``, ``registry_setting``,
``repository_settings``, ``tagging``, ``views``): an area module imports those, never another area module.
"""

import importlib
import pkgutil

from ..specs import model

_HANDLERS: dict = {}

def operation(name: str, optional: bool = False):
    """Register the decorated handler for ``name``. A name the loaded model lacks is a mistake, unless ``optional``
    marks an operation newer than the oldest botocore the package allows: its handler then stays unregistered, as
    no request for it can pass validation against that model."""
    if name not in model.operations():
        if optional:
            return lambda func: func
        raise ValueError(f"{name} is not an operation of the ECR model")

    def register(func):
        _HANDLERS[name] = func
        return func

    return register


def handler_for(name: str):
    return _HANDLERS.get(name)


def load() -> dict:
    """Import every area module so its handlers register; return the dispatch table."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return _HANDLERS
