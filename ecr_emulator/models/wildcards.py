"""ECR's wildcard filters (tag mutability exclusions, scanning and signing repository filters, lifecycle tag
patterns): ``*`` matches any run of characters, slashes included, and everything else matches itself."""

import functools
import re


@functools.lru_cache(maxsize=1024)
def compiled(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def matches(pattern: str, text: str) -> bool:
    return compiled(pattern).fullmatch(text) is not None
