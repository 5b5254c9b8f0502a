"""Hostile input driven from botocore's model: every operation gets requests built from its input shape, then
bent (members dropped, wrong types, out-of-range and off-pattern values, nulls). Every reply must be a 2xx or an
AWS-shaped 4xx, and the server must still answer afterwards.

ECR_EMULATOR_FUZZ_EXAMPLES sets how many requests each operation gets (default 15; raise it for a longer run).
"""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_emulator.specs import model
from helpers import raw_call

EXAMPLES = int(os.environ.get("ECR_EMULATOR_FUZZ_EXAMPLES", "15"))

_junk = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                  st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                  st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


def _string(shape: dict):
    if "enum" in shape:
        return st.sampled_from(shape["enum"])
    lo = shape.get("min", 0)
    hi = max(lo, min(shape.get("max", 40), 80))
    if "pattern" in shape:
        return st.from_regex(shape["pattern"], fullmatch=True).map(lambda s: s[:hi])
    return st.text(min_size=lo, max_size=hi)


def _valid(shape_name: str, depth: int = 0):
    shape = model.shape(shape_name)
    kind = shape["type"]
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        return st.integers(min_value=shape.get("min", -2 ** 31), max_value=shape.get("max", 2 ** 31))
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(min_value=0, max_value=2 ** 32)
    if kind == "blob":
        return st.binary(max_size=64).map(lambda b: __import__("base64").b64encode(b).decode())
    if depth > 4:
        return st.none()
    if kind == "list":
        return st.lists(_valid(shape["member"]["shape"], depth + 1), min_size=shape.get("min", 0),
                        max_size=min(shape.get("max", 3), 3))
    if kind == "map":
        return st.dictionaries(_valid(shape["key"]["shape"], depth + 1), _valid(shape["value"]["shape"], depth + 1),
                               max_size=3)
    members = shape.get("members", {})
    required = set(shape.get("required", ()))
    return st.fixed_dictionaries(
        {n: _valid(r["shape"], depth + 1) for n, r in members.items() if n in required},
        optional={n: _valid(r["shape"], depth + 1) for n, r in members.items() if n not in required})


def _bent(shape_name: str):
    """A valid request with one of its members replaced by junk, or removed, or the whole body replaced."""
    def bend(draw_value):
        params, choice, junk = draw_value
        if not params or choice == 0:
            return junk if choice == 0 else params
        key = sorted(params)[choice % len(params)]
        if choice % 3 == 1:
            return {k: v for k, v in params.items() if k != key}
        return {**params, key: junk}

    return st.tuples(_valid(shape_name), st.integers(min_value=0, max_value=30), _junk).map(bend)


OPERATIONS = sorted(op for op in model.operations() if model.input_shape_name(op))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_operation_survives_hostile_input(ecr_emulator, operation):
    endpoint = ecr_emulator.endpoint

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.function_scoped_fixture])
    @given(params=st.one_of(_valid(model.input_shape_name(operation)), _bent(model.input_shape_name(operation))))
    def run(params):
        status, body, headers = raw_call(endpoint, operation, json.dumps(params).encode())
        assert status < 500, (operation, params, body)
        if status >= 400:
            assert isinstance(body.get("__type"), str) and isinstance(body.get("message"), str), body
        assert headers["x-amzn-RequestId"]

    run()
    status, _, _ = raw_call(endpoint, "DescribeRepositories", {})
    assert status == 200
