"""Reading a seed file: JSON, or TOML through the standard library's ``tomllib`` (Python 3.11+), into plain data
plus a map from each value's path to the line it starts on, so a fault found later can name its line.

JSON positions come from a second walk over the (already valid) text with the standard decoder's own pieces; TOML
positions from the table headers and ``key =`` lines, which is exact for the documented layout (tables and arrays of
tables) and otherwise names the line of the nearest enclosing key that was found.
"""

import bisect
import json
import pathlib
import re

Path = tuple


class SeedSourceError(ValueError):
    """The file cannot be read or parsed; the message names the file and, where known, the line."""


class Source:
    """A seed's data and where each part of it came from."""

    def __init__(self, data, name: str, lines: dict[Path, int] | None = None):
        self.data = data
        self.name = name
        self._lines = lines or {}

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self._lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def where(self, path: Path) -> str:
        line = self.line(path)
        return f"{self.name}:{line}" if line is not None else self.name


def read(path) -> Source:
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SeedSourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SeedSourceError(f"{path}: cannot read the seed file: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".toml":
        return _toml(text, str(path))
    return _json(text, str(path))


def _json(text: str, name: str) -> Source:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedSourceError(f"{name}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise SeedSourceError(f"{name}: not valid JSON: nested too deeply") from None
    return Source(data, name, _JsonLines(text).walk())


_SPACE = re.compile(r"[ \t\n\r]*")


class _JsonLines:
    """Where each value of a valid JSON text starts (for object members: where the key is)."""

    def __init__(self, text: str):
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.decoder = json.JSONDecoder()
        self.lines: dict[Path, int] = {}

    def line_at(self, index: int) -> int:
        return bisect.bisect_left(self.newlines, index) + 1

    def skip(self, index: int) -> int:
        # _SPACE matches the empty string too, so there is always a match.
        return _SPACE.match(self.text, index).end()  # type: ignore[union-attr]

    def walk(self) -> dict[Path, int]:
        self.value(0, ())
        return self.lines

    def value(self, index: int, path: Path) -> int:
        text = self.text
        index = self.skip(index)
        self.lines.setdefault(path, self.line_at(index))
        if text[index] == "{":
            return self.members(index + 1, path, "}", self.member)
        if text[index] == "[":
            return self.members(index + 1, path, "]", self.element)
        return self.decoder.raw_decode(text, index)[1]

    def members(self, index: int, path: Path, close: str, one) -> int:
        index = self.skip(index)
        if self.text[index] == close:
            return index + 1
        position = 0
        while True:
            index = self.skip(one(index, path, position))
            position += 1
            if self.text[index] == ",":
                index += 1
                continue
            return index + 1

    def member(self, index: int, path: Path, _position: int) -> int:
        index = self.skip(index)
        key, end = json.decoder.scanstring(self.text, index + 1)  # type: ignore[attr-defined]  # public, not in typeshed
        self.lines[path + (key,)] = self.line_at(index)
        return self.value(self.skip(end) + 1, path + (key,))

    def element(self, index: int, path: Path, position: int) -> int:
        return self.value(index, path + (position,))


def _toml(text: str, name: str) -> Source:
    try:
        import tomllib  # type: ignore[import-not-found]  # Python 3.11+; 3.10 gets the error below
    except ImportError:
        raise SeedSourceError(f"{name}: TOML seeds need Python 3.11 or later (tomllib); use a JSON seed") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{name}:{match.group(1)}" if match else name
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise SeedSourceError(f"{where}: not valid TOML: {message}") from None
    return Source(data, name, _toml_lines(text))


_HEADER = re.compile(r"\s*(\[\[|\[)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _toml_key(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


def _toml_lines(text: str) -> dict[Path, int]:
    lines: dict[Path, int] = {(): 1}
    counts: dict[tuple, int] = {}
    table: Path = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            is_array = header.group(1) == "[["
            keys = tuple(_toml_key(header.group(2)))
            if is_array:
                counts[keys] = counts.get(keys, 0) + 1
                for longer in [k for k in counts if len(k) > len(keys) and k[:len(keys)] == keys]:
                    del counts[longer]
            table = ()
            for end in range(1, len(keys) + 1):
                table += (keys[end - 1],)
                if keys[:end] in counts:
                    table += (counts[keys[:end]] - 1,)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key and not line.lstrip().startswith(("#", "{", "[", "\"\"\"", "'''")):
            lines.setdefault(table + tuple(_toml_key(key.group(1))), number)
    return lines
