"""The state format (version 2): how snapshots, journals and export archives write the emulator's state.

A state file is a sequence of records, one per line: ``<length> <crc32> <json>\\n``, where ``length`` is the decimal
byte length of the JSON text and ``crc32`` its CRC-32 in eight hex digits. A record whose framing or checksum fails is
torn (the last record of a file cut short by a crash or a full disk) or corrupt (anywhere else).

- A snapshot is a header record ``{"format": "ecr-emulator-snapshot", "version": 2, "generation": N}``, one record
  per registry (``{"registry": VALUE}``), and a trailer ``{"end": COUNT}`` giving the number of registry records, so
  a snapshot cut short is told from a whole one.
- A journal is a header ``{"format": "ecr-emulator-journal", "version": 2, "generation": N}`` followed by one record
  per acknowledged change.

Values are JSON with tags for what JSON lacks: ``{"$tuple": [...]}``, ``{"$set": [...]}``, ``{"$bytes": BASE64}``,
``{"$text": STR}`` (bytes that are UTF-8), ``{"$map": [[KEY, VALUE], ...]}`` (a dict whose keys are not all strings,
or that has a key starting with ``$``), ``{"$object": CLASS, "id": N, "state": {ATTRIBUTE: VALUE}}`` and
``{"$ref": N}`` (the same object again, so images indexed by digest and by tag stay one object). ``CLASS`` is looked
up in a fixed table of the emulator's own model classes and only their declared attributes are set: nothing in a
state file can name a module, a function or an attribute a class does not declare, so reading one never runs code.

Images and repositories written before they had an attribute for each thing they carry kept those things in one dict
attribute, ``extra``; reading such an object moves each of its keys to the attribute that replaced it (``_from_extra``).
"""

import base64
import json
import zlib
from collections.abc import Iterable, Iterator

from ..models.images import Image, ImageIndex
from ..models.manifests import Manifest
from ..models.repository import Repository
from ..models.store import Registry

VERSION = 2
SNAPSHOT_FORMAT = "ecr-emulator-snapshot"
JOURNAL_FORMAT = "ecr-emulator-journal"
# The largest record read back: a registry's record holds its manifests, so this bounds a state file's registry.
MAX_RECORD_BYTES = 2 * 1024 ** 3

# The classes a state file may hold, by name; a state file may set only the attributes their ``__slots__`` declare.
_CLASSES = {cls.__name__: cls for cls in (Registry, Repository, Image, ImageIndex, Manifest)}
_ATTRIBUTES = {name: frozenset(cls.__slots__) for name, cls in _CLASSES.items()}
# The keys of the ``extra`` dict that earlier versions wrote, by class, and the attribute each key's value now fills.
_LEGACY_EXTRA = {
    "Image": {"scan": "scan", "enhancedScan": "enhanced_scan", "activatingUntil": "activating_until",
              "lastActivatedAt": "last_activated", "replicationStatuses": "replication_statuses"},
    "Repository": {"lifecyclePolicyPreview": "lifecycle_preview", "pendingRestores": "pending_restores",
                   "pullThroughCache": "pull_through_checks"},
}


class StateFormatError(ValueError):
    """A state file that cannot be read; the message says where and why."""


def _is_model_class(kind: type) -> bool:
    """Whether ``kind`` is one of the table's classes; by module and name, so a copy of a model module imported
    again (as pytest's in-process runs do) still counts."""
    known = _CLASSES.get(kind.__name__)
    return known is not None and (known is kind or (known.__module__, known.__qualname__) == (
        kind.__module__, kind.__qualname__))


# ---- values -------------------------------------------------------------------------------------------------------

def encode_value(value) -> object:
    """``value`` as JSON-ready data in the tagged form above."""
    return _Encoder().encode(value)


class _Encoder:
    def __init__(self):
        self._ids: dict[int, int] = {}

    def encode(self, value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        kind = type(value)
        if kind is list:
            return [self.encode(v) for v in value]
        if kind is dict:
            if all(type(k) is str and not k.startswith("$") for k in value):
                return {k: self.encode(v) for k, v in value.items()}
            return {"$map": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if kind is tuple:
            return {"$tuple": [self.encode(v) for v in value]}
        if kind in (set, frozenset):
            return {"$set": [self.encode(v) for v in value]}
        if kind in (bytes, bytearray):
            try:
                return {"$text": bytes(value).decode("utf-8")}
            except UnicodeDecodeError:
                return {"$bytes": base64.b64encode(value).decode("ascii")}
        if _is_model_class(kind):
            return self._object(value)
        raise TypeError(f"cannot write a {kind.__name__} to a state file")

    def _object(self, value):
        known = self._ids.get(id(value))
        if known is not None:
            return {"$ref": known}
        self._ids[id(value)] = ident = len(self._ids)
        state = {}
        for name in type(value).__slots__:
            try:
                state[name] = self.encode(getattr(value, name))
            except AttributeError:
                continue
        return {"$object": type(value).__name__, "id": ident, "state": state}


def decode_value(data) -> object:
    """The value ``encode_value`` wrote; raises ``StateFormatError`` for anything it would not have written."""
    return _Decoder().decode(data)


class _Decoder:
    def __init__(self):
        self._objects: dict[int, object] = {}

    def decode(self, data):
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict):
            raise StateFormatError(f"unexpected value {data!r}")
        tags = [k for k in data if k.startswith("$")]
        if not tags:
            return {k: self.decode(v) for k, v in data.items()}
        tag = tags[0]
        if tag == "$object":
            return self._object(data)
        if len(data) != 1:
            raise StateFormatError(f"malformed {tag} value")
        body = data[tag]
        if tag == "$ref":
            if type(body) is not int or body not in self._objects:
                raise StateFormatError(f"reference to unknown object {body!r}")
            return self._objects[body]
        if tag == "$text" and isinstance(body, str):
            return body.encode("utf-8")
        if tag == "$bytes" and isinstance(body, str):
            try:
                return base64.b64decode(body, validate=True)
            except ValueError:
                raise StateFormatError("malformed $bytes value") from None
        if not isinstance(body, list):
            raise StateFormatError(f"malformed {tag} value")
        if tag == "$tuple":
            return tuple(self.decode(v) for v in body)
        if tag == "$set":
            return {self._hashable(self.decode(v)) for v in body}
        if tag == "$map":
            if not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
                raise StateFormatError("malformed $map value")
            return {self._hashable(self.decode(k)): self.decode(v) for k, v in body}
        raise StateFormatError(f"unknown tag {tag}")

    @staticmethod
    def _hashable(value):
        try:
            hash(value)
        except TypeError:
            raise StateFormatError(f"unhashable key {value!r}") from None
        return value

    def _object(self, data: dict):
        name, ident, state = data.get("$object"), data.get("id"), data.get("state")
        if set(data) != {"$object", "id", "state"} or type(ident) is not int or not isinstance(state, dict):
            raise StateFormatError("malformed $object value")
        if not isinstance(name, str) or name not in _CLASSES:
            raise StateFormatError(f"unknown class {name!r}")
        cls = _CLASSES[name]
        if ident in self._objects:
            raise StateFormatError(f"object id {ident} defined twice")
        legacy = name in _LEGACY_EXTRA and "extra" in state
        if legacy:
            state = dict(state)
            extra = state.pop("extra")
        unknown = set(state) - _ATTRIBUTES[name]
        if unknown:
            raise StateFormatError(f"{name} has no attribute {sorted(unknown)[0]!r}")
        obj = object.__new__(cls)
        self._objects[ident] = obj
        for attribute, value in state.items():
            object.__setattr__(obj, attribute, self.decode(value))
        if legacy:
            for attribute, value in _from_extra(name, self.decode(extra)).items():
                object.__setattr__(obj, attribute, value)
        return obj


def _from_extra(name: str, extra) -> dict:
    """The attributes that hold what the ``extra`` dict of an earlier version's object held; an attribute whose key
    is absent gets the value a new object has."""
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise StateFormatError(f"{name}'s extra is not a dict")
    keys = _LEGACY_EXTRA[name]
    unknown = set(extra) - set(keys)
    if unknown:
        raise StateFormatError(f"{name}'s extra has no key {sorted(unknown, key=str)[0]!r}")
    attributes = {attribute: extra.get(key) for key, attribute in keys.items()}
    if name == "Repository":
        # Restores were listed only while some were under way; a pull through cache kept {"checked": {tag: time}}.
        attributes["pending_restores"] = attributes["pending_restores"] or {}
        sync = attributes["pull_through_checks"]
        if sync is not None:
            if not isinstance(sync, dict):
                raise StateFormatError(f"{name}'s pull through cache record is not a dict")
            attributes["pull_through_checks"] = sync.get("checked", {})
    return attributes


# ---- records ------------------------------------------------------------------------------------------------------

def encode_record(record: dict) -> bytes:
    data = json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
    return b"%d %08x " % (len(data), zlib.crc32(data)) + data + b"\n"


def _parse_line(line: bytes) -> dict:
    """The record on ``line``, or ``ValueError`` saying why it is not one."""
    if not line.endswith(b"\n"):
        raise ValueError("the record is cut short")
    try:
        length_text, crc_text, data = line[:-1].split(b" ", 2)
        length, crc = int(length_text), int(crc_text, 16)
    except ValueError:
        raise ValueError("the record's framing is damaged") from None
    if length != len(data):
        raise ValueError("the record's length does not match")
    if crc != zlib.crc32(data):
        raise ValueError("the record's checksum does not match")
    try:
        record = json.loads(data)
    except ValueError:
        raise ValueError("the record is not JSON") from None
    if not isinstance(record, dict):
        raise ValueError("the record is not a JSON object")
    return record


class BadRecord(Exception):
    def __init__(self, offset: int, reason: str, intact_after: bool):
        super().__init__(reason)
        self.offset, self.reason, self.intact_after = offset, reason, intact_after


def iter_records(lines: Iterable[bytes]) -> Iterator[tuple[int, dict]]:
    """``(offset, record)`` for each record of a file read as lines; raises ``BadRecord`` at the first one that fails,
    saying whether an intact record follows it (corruption) or not (a torn tail)."""
    offset = 0
    lines = iter(lines)
    for line in lines:
        try:
            record = _parse_line(line)
        except ValueError as exc:
            raise BadRecord(offset, str(exc), any(_intact(rest) for rest in lines)) from None
        yield offset, record
        offset += len(line)


def _intact(line: bytes) -> bool:
    try:
        _parse_line(line)
    except ValueError:
        return False
    return True


def bounded_lines(f, limit: int = MAX_RECORD_BYTES) -> Iterator[bytes]:
    """The lines of binary file ``f``, refusing one longer than ``limit`` bytes instead of reading it whole."""
    while line := f.readline(limit + 1):
        if len(line) > limit:
            raise StateFormatError(f"a record is larger than {limit} bytes")
        yield line


def snapshot_records(registries: dict, generation: int) -> Iterator[bytes]:
    """A snapshot of ``registries`` (keyed by (account, region)), record by record."""
    yield encode_record({"format": SNAPSHOT_FORMAT, "version": VERSION, "generation": generation})
    for registry in registries.values():
        yield encode_record({"registry": encode_value(registry)})
    yield encode_record({"end": len(registries)})


def read_snapshot(lines: Iterable[bytes], name: str) -> tuple[dict, int]:
    """The registries and generation of the snapshot read from ``lines``; ``StateFormatError`` names ``name``, the
    byte offset and the fault of anything that is not a whole, intact snapshot."""
    records = iter_records(lines)
    registries: dict = {}
    offset = 0
    try:
        offset, header = next(records, (0, None))
        generation = _check_header(header, SNAPSHOT_FORMAT, name)
        for offset, record in records:
            if "end" in record:
                if record["end"] != len(registries):
                    raise StateFormatError(f"{name}: at byte {offset}: the snapshot's record count does not match")
                if next(records, None) is not None:
                    raise StateFormatError(f"{name}: data after the end of the snapshot")
                return registries, generation
            registry = decode_value(record.get("registry"))
            if not isinstance(registry, Registry):
                raise StateFormatError(f"{name}: at byte {offset}: not a registry record")
            registries[(registry.account, registry.region)] = registry
    except BadRecord as exc:
        raise StateFormatError(f"{name}: at byte {exc.offset}: {exc.reason}") from None
    except StateFormatError as exc:
        if str(exc).startswith(name):
            raise
        raise StateFormatError(f"{name}: at byte {offset}: {exc}") from None
    except RecursionError:
        raise StateFormatError(f"{name}: at byte {offset}: a value is nested too deeply") from None
    raise StateFormatError(f"{name}: the snapshot is cut short (no end record)")


def journal_header(generation: int) -> bytes:
    return encode_record({"format": JOURNAL_FORMAT, "version": VERSION, "generation": generation})


def _check_header(header: dict | None, expected: str, name: str) -> int:
    if header is None:
        raise StateFormatError(f"{name}: the file is empty")
    if header.get("format") != expected:
        raise StateFormatError(f"{name}: not an {expected} file")
    if header.get("version") != VERSION:
        raise StateFormatError(f"{name}: format version {header.get('version')!r}; this emulator reads version "
                               f"{VERSION}")
    generation = header.get("generation")
    if type(generation) is not int or generation < 0:
        raise StateFormatError(f"{name}: the header's generation is not a number")
    return generation


def check_journal_header(header: dict | None, name: str) -> int:
    return _check_header(header, JOURNAL_FORMAT, name)
