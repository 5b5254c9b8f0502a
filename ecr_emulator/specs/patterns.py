"""Model patterns compiled for Python's backtracking regex engine.

A few patterns in botocore's ECR model are written so that a backtracking engine takes exponential time on
near-miss input (AWS's engine does not backtrack). Each one here is rewritten to an unambiguous equivalent that
matches exactly the same strings in linear time; error messages keep quoting the model's own text.
"""

import functools
import re

LINEAR_EQUIVALENTS = {
    # An optional separator-or-character followed by a run is ambiguous: "aaaa" splits many ways. Equivalent: runs of
    # name characters joined by single separators.
    r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$": r"^[a-z0-9*]+(?:[._\-/][a-z0-9*]+)*$",
}


@functools.cache
def compiled(pattern: str) -> re.Pattern:
    """The compiled matcher for a model pattern (its linear equivalent where the model's text backtracks)."""
    return re.compile(LINEAR_EQUIVALENTS.get(pattern, pattern))
