"""Resource tags as AWS's tagging rules define them (keys 1-128 characters, values up to 256, no ``aws:`` prefix,
50 tags per resource). The model types keys and values only as strings, so the rules live here."""

import re

from .. import errors

MAX_TAGS = 50
_ALLOWED = re.compile(r"[\w\s+\-=.:/@]*", re.UNICODE)


def check_key(key: str) -> None:
    if not 1 <= len(key) <= 128:
        raise errors.InvalidTagParameterException(f"Tag key '{key[:128]}' must be between 1 and 128 characters long")
    if key.lower().startswith("aws:"):
        raise errors.InvalidTagParameterException(f"Tag key '{key}' may not begin with the reserved prefix 'aws:'")
    if not _ALLOWED.fullmatch(key):
        raise errors.InvalidTagParameterException(
            f"Tag key '{key}' may only contain letters, numbers, spaces and the characters + - = . _ : / @")


def parse_tags(tag_list: list[dict]) -> dict[str, str]:
    """Validate a ``TagList`` and return it as a dict; duplicate keys and bad keys or values are refused."""
    tags: dict[str, str] = {}
    for tag in tag_list:
        key, value = tag["Key"], tag["Value"]
        check_key(key)
        if len(value) > 256:
            raise errors.InvalidTagParameterException(f"Tag value for key '{key}' must be at most 256 characters long")
        if not _ALLOWED.fullmatch(value):
            raise errors.InvalidTagParameterException(
                f"Tag value for key '{key}' may only contain letters, numbers, spaces and the characters "
                f"+ - = . _ : / @")
        if key in tags:
            raise errors.InvalidTagParameterException(f"Tag key '{key}' appears more than once")
        tags[key] = value
    return tags


def check_count(tags: dict) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.TooManyTagsException(
            f"A resource can have at most {MAX_TAGS} tags; this request would leave it with {len(tags)}")


def tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]
