"""Durable state under ``--state-dir``: a snapshot plus a journal of acknowledged mutations.

Every mutating operation that succeeds is appended to the journal and fsynced before its reply is sent, so an
acknowledged write is never lost. A record is one line, ``<length> <crc32> <json>``; a record torn by a crash fails
its length or checksum and ends the replay there, so a SIGKILL at any moment leaves a journal that opens cleanly.
On start the latest snapshot is loaded, the journal replayed through the same handlers with the clock frozen at
each record's time, and the result written as a new snapshot (written under a temporary name, fsynced, renamed).

Snapshots and journals are numbered by generation: snapshot N is followed by ``journal.N`` only. Writing snapshot
N+1 is the single commit point of a compaction, so a crash between it and the new journal never replays a journal
the snapshot already contains.

Recording operations rather than objects keeps one code path for every area: a new handler is durable the day it
is written. Blobs are not journaled: the blob store writes them as content-addressed files of its own.
"""

import io
import json
import logging
import os
import pickle
import zlib

log = logging.getLogger(__name__)

SNAPSHOT = "state.pickle"
JOURNAL_PREFIX = "journal."
SECRET = "token.secret"

# Operations whose success changes nothing that must survive a restart. Layer uploads live in the blob store.
_NOT_JOURNALED_PREFIXES = ("Describe", "Get", "List", "BatchCheck", "Validate", "BatchGetRepositoryScanning")
_NOT_JOURNALED = frozenset({"InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload"})

_ALLOWED_GLOBALS = {("builtins", n) for n in ("set", "frozenset", "bytearray", "dict", "list", "tuple")} | {
    ("collections", "OrderedDict"), ("collections", "deque"),
    ("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta"),
}


def journaled(operation: str) -> bool:
    return operation not in _NOT_JOURNALED and not operation.startswith(_NOT_JOURNALED_PREFIXES)


class _StateUnpickler(pickle.Unpickler):
    """Loads only the emulator's own model classes and plain containers, never arbitrary callables."""

    def find_class(self, module, name):
        if module.startswith("ecr_emulator.models.") or (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a state file")


def dumps_state(registries: dict, generation: int = 0) -> bytes:
    return pickle.dumps({"version": 1, "generation": generation, "registries": registries},
                        protocol=pickle.HIGHEST_PROTOCOL)


def loads_state(data: bytes) -> tuple[dict, int]:
    """The registries a state file holds, and its generation."""
    state = _StateUnpickler(io.BytesIO(data)).load()
    if not isinstance(state, dict) or state.get("version") != 1:
        raise ValueError("not an ecr-emulator state file")
    return state["registries"], state.get("generation", 0)


def write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def encode_record(record: dict) -> bytes:
    data = json.dumps(record, separators=(",", ":")).encode()
    return b"%d %08x " % (len(data), zlib.crc32(data)) + data + b"\n"


def read_records(path: str):
    """The intact records of a journal, in order; stops at the first torn or corrupt one."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            try:
                length, crc, data = line.rstrip(b"\n").split(b" ", 2)
                if int(length) != len(data) or int(crc, 16) != zlib.crc32(data) or not line.endswith(b"\n"):
                    raise ValueError
                yield json.loads(data)
            except ValueError:
                log.warning("journal %s ends with a torn record; ignoring it and what follows", path)
                return


class Persistence:
    """Owns the state directory of one store."""

    # A journal this large is folded into a new snapshot, so a restart never replays more than about this much.
    COMPACT_AFTER_BYTES = 64 * 1024 * 1024

    def __init__(self, state_dir: str, snapshot_source=None):
        """``snapshot_source`` returns the registries to snapshot; ``append`` calls it (under the store lock its
        callers hold) when the journal has grown past ``compact_after_bytes``."""
        self.dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        self._journal = None
        self.generation = 0
        self.snapshot_source = snapshot_source
        self.compact_after_bytes = self.COMPACT_AFTER_BYTES
        self._journal_bytes = 0

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def token_secret(self) -> bytes:
        """The secret that signs registry passwords, kept so passwords stay valid across restarts."""
        path = self.path(SECRET)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            secret = os.urandom(32)
            write_atomically(path, secret)
            return secret

    def _journal_path(self, generation: int) -> str:
        return self.path(f"{JOURNAL_PREFIX}{generation}")

    def load_snapshot(self) -> dict | None:
        """The snapshot's registries (None without one); its generation names the journal that follows it."""
        try:
            with open(self.path(SNAPSHOT), "rb") as f:
                registries, self.generation = loads_state(f.read())
        except FileNotFoundError:
            return None
        return registries

    def journal_records(self):
        return read_records(self._journal_path(self.generation))

    def compact(self, registries: dict) -> None:
        """Write ``registries`` as the next generation's snapshot, then start its empty journal and drop older
        journals."""
        generation = self.generation + 1
        write_atomically(self.path(SNAPSHOT), dumps_state(registries, generation))
        self.generation = generation
        if self._journal is not None:
            self._journal.close()
        write_atomically(self._journal_path(generation), b"")
        self._journal = open(self._journal_path(generation), "ab", buffering=0)
        self._journal_bytes = 0
        for name in os.listdir(self.dir):
            if name.startswith(JOURNAL_PREFIX) and name != f"{JOURNAL_PREFIX}{generation}":
                os.unlink(self.path(name))

    def append(self, record: dict) -> None:
        """Make ``record`` durable; callers hold the store lock, so records are in the order changes were made."""
        data = encode_record(record)
        self._journal.write(data)
        os.fsync(self._journal.fileno())
        self._journal_bytes += len(data)
        if self.snapshot_source is not None and self._journal_bytes > self.compact_after_bytes:
            self.compact(self.snapshot_source())

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
