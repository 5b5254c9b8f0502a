"""Random bodies, targets and headers never produce a 5xx, and the server still answers afterwards."""

import json
import random

from ecr_emulator.specs import model
from helpers import raw_call

_SCALARS = [None, True, False, 0, -1, 2 ** 63, 1.5, "", "a", "A" * 300, "../..", "\u0000", "sha256:zz", [], {}]


def _random_value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return rng.choice(_SCALARS)
    if roll < 0.8:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["repositoryName", "imageIds", "x", "maxResults", "tags"]): _random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def _random_params(rng: random.Random, operation: str) -> dict:
    shape = model.shape(model.input_shape_name(operation) or "Tag")
    members = list(shape.get("members", {}))
    return {name: _random_value(rng) for name in rng.sample(members, rng.randint(0, len(members)))}


def test_random_bodies_never_produce_a_5xx(ecr_emulator):
    rng = random.Random(20261125)
    operations = list(model.operations())
    for _ in range(600):
        operation = rng.choice(operations + [None, "Bogus"])
        kind = rng.random()
        if kind < 0.7 and operation in model.operations():
            body = json.dumps(_random_params(rng, operation)).encode()
        elif kind < 0.85:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        else:
            body = json.dumps(_random_value(rng)).encode()
        status, reply, headers = raw_call(ecr_emulator.endpoint, operation, body)
        assert status < 500, (operation, body, reply)
        if status >= 400:
            assert set(reply) >= {"__type", "message"}, reply
        assert headers["x-amzn-RequestId"]
    assert ecr_emulator.client.describe_repositories()["repositories"] is not None
