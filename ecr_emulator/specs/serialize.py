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
    members = tuple((name, ref["shape"]) for name, ref in shape.get("members", {}).items())

    def render(value):
        out = {}
        for name, member_shape in members:
            v = value.get(name)
            if v is not None:
                out[name] = renderer(member_shape)(v)
        return out

    return render


_BUILDERS = {"timestamp": lambda s: _timestamp, "blob": lambda s: _blob,
             "list": _list, "map": _map, "structure": _structure}


@functools.lru_cache(maxsize=None)
def renderer(shape_name: str):
    shape = model.shape(shape_name)
    build = _BUILDERS.get(shape["type"])
    return build(shape) if build else _identity


def serialize(operation: str, result: dict) -> dict:
    shape_name = model.output_shape_name(operation)
    if shape_name is None:
        return {}
    return renderer(shape_name)(result or {})
