"""The linear rewrites of model patterns accept exactly what the model's own patterns accept."""

import itertools
import re

import pytest

from ecr_emulator.specs import model, patterns


def test_every_rewrite_replaces_a_pattern_the_model_uses():
    used = {s["pattern"] for s in model.shapes().values() if "pattern" in s}
    assert set(patterns.LINEAR_EQUIVALENTS) <= used


@pytest.mark.parametrize("original", sorted(patterns.LINEAR_EQUIVALENTS))
def test_rewrite_is_equivalent_on_every_short_string(original):
    alphabet = "a1*./-_A!"
    slow, fast = re.compile(original), patterns.compiled(original)
    checked = 0
    for length in range(0, 7):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            assert bool(slow.fullmatch(text)) == bool(fast.fullmatch(text)), text
            checked += 1
    assert checked > 500_000 / 10


def test_rewrite_answers_near_miss_input_that_hangs_the_original():
    fast = patterns.compiled(r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$")
    assert fast.fullmatch("a" * 255 + "!") is None
    assert fast.fullmatch("prod-*/team.a_b") is not None
