"""Output rendering driven by botocore's model: members the model does not declare and absent (None) members are
dropped, timestamps become epoch seconds and blobs base64, as the JSON 1.1 protocol requires.

Like validation, each shape is compiled once into a closure; subtrees that hold nothing to convert are copied
without per-leaf work.
"""

import base64
import datetime
import functools

from . import model


def _identity(value):
    return value


def _timestamp(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def _blob(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


def _list(shape):
    member = shape["member"]["shape"]

    def render(value):
        item = renderer(member)
        if item is _identity:
            return list(value)
        return [item(v) for v in value]

    return render


def _map(shape):
    value_shape = shape["value"]["shape"]

    def render(value):
        item = renderer(value_shape)
        return {k: item(v) for k, v in value.items() if v is not None}

    return render


def _structure(shape):
    """Walks the members a value has (usually far fewer than the shape declares), resolving each member's renderer
    on first use so recursive shapes compile lazily."""
    member_shapes = {name: ref["shape"] for name, ref in shape.get("members", {}).items()}
    renderers: dict = {}

    def render(value):
        out = {}
        for name, v in value.items():
            if v is None:
                continue
            member = renderers.get(name)
            if member is None:
                if name not in member_shapes:
                    continue
                member = renderers[name] = renderer(member_shapes[name])
            out[name] = v if member is _identity else member(v)
        return out

    return render


_BUILDERS = {"timestamp": lambda s: _timestamp, "blob": lambda s: _blob,
             "list": _list, "map": _map, "structure": _structure}


@functools.cache
def renderer(shape_name: str):
    shape = model.shape(shape_name)
    build = _BUILDERS.get(shape["type"])
    return build(shape) if build else _identity


def serialize(operation: str, result: dict) -> dict:
    shape_name = model.output_shape_name(operation)
    if shape_name is None:
        return {}
    return renderer(shape_name)(result or {})
