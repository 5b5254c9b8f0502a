"""Input validation driven by botocore's model.

Each shape is compiled once into a checker closure (a visitor with one small builder per type), so a request
costs one walk over the parameters it actually carries. Every fault is collected, then reported in the frame of the
error the operation declares (wording in ``messages``): ECR's operations answer ``InvalidParameterException`` with
the first fault in ECR's own frame, ``Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have
length greater than or equal to 2'``; an operation that declares only ``ValidationException`` answers every fault
at once in the generic frame, ``2 validation errors detected: Value 'X' at 'a.b' failed to satisfy constraint:
Member must ...``. Type mismatches are deserialization faults (``SerializationException``), as they are at AWS.
"""

import base64
import binascii
import functools
import json
from collections.abc import Callable

from .. import errors
from . import messages, model, patterns

# Quoted values in messages are cut here, so a fault report never echoes an oversized body back.
_MAX_QUOTED = 256


def _quote(value) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    if len(text) > _MAX_QUOTED:
        text = text[:_MAX_QUOTED] + "..."
    return f"'{text}'"


class _Fault:
    __slots__ = ("value", "path", "rule", "args", "listed")

    def __init__(self, value, path: str, rule: str, args: dict, listed: bool):
        self.value, self.path, self.rule, self.args, self.listed = value, path, rule, args, listed

    def generic(self) -> str:
        return messages.VALIDATION_FAULT.format(value=_quote(self.value), path=self.path,
                                                constraint=messages.generic_constraint(self.rule, **self.args))

    def ecr(self) -> str:
        """ECR names the member itself (``imageTag``, not ``imageIds.1.member.imageTag``), and an element of a
        list of strings by its list."""
        parts = self.path.split(".")
        element = len(parts) >= 3 and parts[-1] == "member" and parts[-2].isdigit()
        names = [p for i, p in enumerate(parts)
                 if not p.isdigit() and not (p == "member" and i and parts[i - 1].isdigit())]
        constraint = messages.ecr_constraint(self.rule, element=element, listed=self.listed, **self.args)
        return messages.invalid_parameter(names[-1] if names else self.path, constraint)


class Faults:
    """Collects constraint and type faults found in one request."""

    __slots__ = ("constraint", "type", "nulls")

    def __init__(self):
        self.constraint: list[_Fault] = []
        self.type: list[str] = []
        self.nulls = False

    def fail(self, value, path: str, rule: str, listed: bool = False, **args):
        """A broken model rule (a key of ``messages.RULES``); ``listed`` when the rule is a list's own length."""
        self.constraint.append(_Fault(value, path, rule, args, listed))

    def wrong_type(self, value, path: str, expected: str):
        self.type.append(f"Unexpected value type at '{path}': expected {expected}, got {_json_type(value)}")


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _length_rules(shape: dict, noun: str = "length", listed: bool = False):
    lo, hi = shape.get("min"), shape.get("max")

    def check_length(value, size, path, faults):
        if lo is not None and size < lo:
            faults.fail(value, path, f"min_{noun}", listed=listed, limit=lo)
        if hi is not None and size > hi:
            faults.fail(value, path, f"max_{noun}", listed=listed, limit=hi)

    return check_length if (lo is not None or hi is not None) else None


def _string(shape: dict):
    length = _length_rules(shape)
    enum: list[str] = shape.get("enum") or []
    enum_set = frozenset(enum) if enum else None
    pattern_text = shape.get("pattern")
    pattern = patterns.compiled(pattern_text) if pattern_text else None

    def check(value, path, faults):
        if not isinstance(value, str):
            faults.wrong_type(value, path, "string")
            return
        if length:
            length(value, len(value), path, faults)
        if enum_set is not None and value not in enum_set:
            faults.fail(value, path, "enum", values=", ".join(enum))
        if pattern is not None and not pattern.fullmatch(value):
            faults.fail(value, path, "pattern", pattern=pattern_text)

    return check


def _number(shape: dict, integral: bool):
    range_ = _length_rules(shape, "value")
    expected = "integer" if integral else "number"

    def check(value, path, faults):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            faults.wrong_type(value, path, expected)
            return
        if integral and isinstance(value, float) and not value.is_integer():
            faults.wrong_type(value, path, expected)
            return
        if range_:
            range_(value, value, path, faults)

    return check


def _boolean(_shape: dict):
    def check(value, path, faults):
        if not isinstance(value, bool):
            faults.wrong_type(value, path, "boolean")

    return check


def _timestamp(_shape: dict):
    def check(value, path, faults):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            faults.wrong_type(value, path, "timestamp (epoch seconds)")

    return check


def _blob(shape: dict):
    length = _length_rules(shape)

    def check(value, path, faults):
        if not isinstance(value, str):
            faults.wrong_type(value, path, "base64-encoded string")
            return
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            faults.wrong_type(value, path, "base64-encoded string")
            return
        if length:
            length(value, len(raw), path, faults)

    return check


def _list(shape: dict):
    length = _length_rules(shape, listed=True)
    member = shape["member"]["shape"]

    def check(value, path, faults):
        if not isinstance(value, list):
            faults.wrong_type(value, path, "array")
            return
        if length:
            length(value, len(value), path, faults)
        item = checker(member)
        for i, element in enumerate(value, 1):
            item_path = f"{path}.{i}.member"
            if element is None:
                faults.fail(None, item_path, "not_null")
            else:
                item(element, item_path, faults)

    return check


def _map(shape: dict):
    length = _length_rules(shape, listed=True)
    key_shape, value_shape = shape["key"]["shape"], shape["value"]["shape"]

    def check(value, path, faults):
        if not isinstance(value, dict):
            faults.wrong_type(value, path, "object")
            return
        if length:
            length(value, len(value), path, faults)
        key_check, value_check = checker(key_shape), checker(value_shape)
        for k, v in value.items():
            key_check(k, f"{path}.key", faults)
            if v is None:
                faults.nulls = True
            else:
                value_check(v, f"{path}.{k}", faults)

    return check


def _structure(shape: dict):
    members = {name: ref["shape"] for name, ref in shape.get("members", {}).items()}
    required = tuple(shape.get("required", ()))

    def check(value, path, faults):
        if not isinstance(value, dict):
            faults.wrong_type(value, path or "body", "object")
            return
        for name in required:
            if value.get(name) is None:
                faults.fail(None, _join(path, name), "not_null")
        for name, member_value in value.items():
            if member_value is None:
                faults.nulls = True
                continue
            member_shape = members.get(name)
            if member_shape is not None:
                checker(member_shape)(member_value, _join(path, name), faults)

    return check


_BUILDERS: dict[str, Callable[[dict], Callable]] = {
    "string": _string,
    "integer": functools.partial(_number, integral=True),
    "long": functools.partial(_number, integral=True),
    "double": functools.partial(_number, integral=False),
    "float": functools.partial(_number, integral=False),
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
    "list": _list,
    "map": _map,
    "structure": _structure,
}


@functools.cache
def checker(shape_name: str):
    """The compiled checker of one shape, built on first use and kept for the process."""
    shape = model.shape(shape_name)
    return _BUILDERS[shape["type"]](shape)


@functools.cache
def _constraint_error(operation: str) -> type:
    declared = model.declared_errors(operation)
    name = "InvalidParameterException" if "InvalidParameterException" in declared else "ValidationException"
    return errors.by_code(name)


def without_nulls(value):
    """``value`` with every null structure or map member dropped: AWS reads a member sent as null as absent, so
    handlers only ever see members that are there."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def validate(operation: str, params: dict) -> dict:
    """The parameters a handler gets: ``params`` when they satisfy the operation's input shape (without their null
    members, which AWS reads as absent); the operation's AWS error otherwise."""
    shape_name = model.input_shape_name(operation)
    if shape_name is None:
        return params
    faults = Faults()
    checker(shape_name)(params, "", faults)
    if faults.type:
        raise errors.SerializationException("; ".join(faults.type))
    if faults.constraint:
        error = _constraint_error(operation)
        if error is errors.InvalidParameterException:
            raise error(faults.constraint[0].ecr())
        raise error(messages.validation_report([fault.generic() for fault in faults.constraint]))
    return without_nulls(params) if faults.nulls else params
