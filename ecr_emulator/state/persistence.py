"""Durable state under ``--state-dir``: a snapshot plus a journal of acknowledged mutations, in the data-only format
of ``codec``.

Every mutating operation that succeeds is appended to the journal and fsynced before its reply is sent. Every write
and fsync is checked: when one fails (a full disk, an I/O error, a read-only file system) the journal is cut back to
its last complete record, the in-memory state is rebuilt from what is on disk (``rollback``, set by ``recovery``),
and the caller gets ``StateWriteError`` saying why, so the operation is refused instead of acknowledged and a later
write, once the disk has room, follows an intact journal.

Snapshots and journals are numbered by generation: the snapshot of generation N is followed by ``journal.N`` only.
Writing the snapshot (under a temporary name, fsynced, renamed) is the single commit point of a compaction, so a
crash between it and the new journal never replays a journal the snapshot already contains.

One server owns a state directory: it holds an exclusive ``flock`` on ``lock`` for its lifetime (the kernel drops it
when the process dies, so a killed server never blocks a restart) and writes its pid there for the message a second
server prints.

Recording operations rather than objects keeps one code path for every area: a new handler is durable the day it is
written. Blobs are not journaled: the blob store writes them as content-addressed files of its own.
"""

import errno
import fcntl
import logging
import os
from collections.abc import Callable, Iterable

from . import codec

log = logging.getLogger(__name__)

SNAPSHOT = "state.snapshot"
LEGACY_SNAPSHOT = "state.pickle"
JOURNAL_PREFIX = "journal."
SECRET = "token.secret"
LOCK = "lock"

# Operations whose success changes nothing that must survive a restart. Layer uploads live in the blob store.
_NOT_JOURNALED_PREFIXES = ("Describe", "Get", "List", "BatchCheck", "Validate", "BatchGetRepositoryScanning")
_NOT_JOURNALED = frozenset({"InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload"})


def journaled(operation: str) -> bool:
    return operation not in _NOT_JOURNALED and not operation.startswith(_NOT_JOURNALED_PREFIXES)


class StateDirError(Exception):
    """The state directory cannot be opened; the message is one line that names the file and what to do."""


class StateWriteError(Exception):
    """A write to the state directory failed; nothing was acknowledged and the message says why."""


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_atomically(path: str, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` as ``path``: a temporary file, fsynced, renamed, the directory fsynced. On any failure the
    temporary file is removed, ``path`` is as it was, and ``StateWriteError`` says why."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise StateWriteError(f"cannot write {path}: {_describe(exc)}") from None
    except BaseException:
        _remove(tmp)
        raise
    try:
        _fsync_dir(os.path.dirname(path) or ".")
    except OSError as exc:
        raise StateWriteError(f"cannot sync {os.path.dirname(path)}: {_describe(exc)}") from None


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written: a short write (a disk filling up) is continued, and the error that
    stops it raised."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


class Persistence:
    """Owns the state directory of one store: its lock, snapshot and journal."""

    # A journal this large is folded into a new snapshot, so a restart never replays more than about this much.
    COMPACT_AFTER_BYTES = 64 * 1024 * 1024

    def __init__(self, state_dir: str):
        self.dir = state_dir
        try:
            os.makedirs(state_dir, exist_ok=True)
        except OSError as exc:
            raise StateDirError(f"cannot create the state directory {state_dir}: {_describe(exc)}") from None
        self._lock_fd = self._lock()
        self._journal_fd: int | None = None
        self._journal_bytes = 0
        # True when a failed append may have left bytes past the last complete record.
        self._needs_rewind = False
        self.generation = 0
        # Set by recovery: the registries to snapshot when the journal is compacted, and the function that rebuilds
        # the in-memory state from disk after a failed write.
        self.snapshot_source: Callable[[], dict] | None = None
        self.rollback: Callable[[], None] | None = None
        # True while ``rollback`` replays the journal: the records replayed are on disk already.
        self.paused = False
        self.compact_after_bytes = self.COMPACT_AFTER_BYTES

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _lock(self) -> int:
        path = self.path(LOCK)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateDirError(f"cannot open {path}: {_describe(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StateDirError(f"the state directory {self.dir} is in use by another ecr-emulator (pid {holder}); "
                                f"stop it or choose another --state-dir") from None
        try:
            os.ftruncate(fd, 0)
            _write_all(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise StateDirError(f"cannot write {path}: {_describe(exc)}") from None
        return fd

    def token_secret(self) -> bytes:
        """The secret that signs registry passwords, kept so passwords stay valid across restarts."""
        path = self.path(SECRET)
        try:
            with open(path, "rb") as f:
                secret = f.read()
        except FileNotFoundError:
            secret = b""
        except OSError as exc:
            raise StateDirError(f"cannot read {path}: {_describe(exc)}") from None
        if len(secret) == 32:
            return secret
        secret = os.urandom(32)
        try:
            write_atomically(path, [secret])
        except StateWriteError as exc:
            raise StateDirError(str(exc)) from None
        return secret

    def _journal_path(self, generation: int) -> str:
        return self.path(f"{JOURNAL_PREFIX}{generation}")

    def load_snapshot(self) -> dict | None:
        """The snapshot's registries (None without one); its generation names the journal that follows it."""
        path = self.path(SNAPSHOT)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            if os.path.exists(self.path(LEGACY_SNAPSHOT)):
                raise StateDirError(
                    f"{self.path(LEGACY_SNAPSHOT)} was written by an older ecr-emulator in a format this version "
                    f"no longer reads (it could run code); start with an empty --state-dir, or keep using the older "
                    f"version for this one") from None
            return None
        except OSError as exc:
            raise StateDirError(f"cannot read {path}: {_describe(exc)}") from None
        try:
            with f:
                registries, self.generation = codec.read_snapshot(codec.bounded_lines(f), path)
        except codec.StateFormatError as exc:
            raise StateDirError(f"{exc}; the snapshot cannot be trusted: restore it from a backup, or move the "
                                f"state directory aside to start empty") from None
        except OSError as exc:
            raise StateDirError(f"cannot read {path}: {_describe(exc)}") from None
        return registries

    def journal_records(self):
        """``(path, offset, record)`` for each record of the current generation's journal. A torn last record (a
        crash, a full disk) is dropped with a warning; a damaged record followed by intact ones is corruption and
        refuses the start."""
        path = self._journal_path(self.generation)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateDirError(f"cannot read {path}: {_describe(exc)}") from None
        with f:
            records = codec.iter_records(codec.bounded_lines(f))
            try:
                first = next(records, None)
                if first is None:
                    return
                try:
                    generation = codec.check_journal_header(first[1], path)
                except codec.StateFormatError as exc:
                    raise StateDirError(f"{exc}; move it aside to start from the snapshot alone") from None
                if generation != self.generation:
                    raise StateDirError(f"{path}: its header names generation {generation}, not {self.generation}; "
                                        f"move it aside to start from the snapshot alone")
                for offset, record in records:
                    yield path, offset, record
            except codec.BadRecord as exc:
                if exc.intact_after:
                    raise StateDirError(
                        f"{path}: at byte {exc.offset}: {exc.reason}, and intact records follow it, so the journal "
                        f"is corrupt; restore it from a backup, or cut it at byte {exc.offset} to keep what precedes "
                        f"it") from None
                log.warning("%s ends with a torn record at byte %d (%s); recovered the %s before it", path,
                            exc.offset, exc.reason, "records" if exc.offset else "nothing")

    def compact(self, registries: dict) -> None:
        """Write ``registries`` as the next generation's snapshot, then start its journal and drop older journals.

        Raises ``StateWriteError`` only when the snapshot could not be written, and then nothing changed. Once the
        snapshot is in place it is the state; a journal that cannot be started yet is started by the next append.
        """
        generation = self.generation + 1
        write_atomically(self.path(SNAPSHOT), codec.snapshot_records(registries, generation))
        self.generation = generation
        self._close_journal()
        for name in os.listdir(self.dir):
            if name.startswith(JOURNAL_PREFIX) and name != f"{JOURNAL_PREFIX}{generation}":
                _remove(self.path(name))
        try:
            self._open_journal()
        except StateWriteError as exc:
            log.warning("%s; the next write will try again", exc)

    def _open_journal(self) -> int:
        path = self._journal_path(self.generation)
        header = codec.journal_header(self.generation)
        write_atomically(path, [header])
        try:
            self._journal_fd = fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except OSError as exc:
            raise StateWriteError(f"cannot open {path}: {_describe(exc)}") from None
        self._journal_bytes = len(header)
        self._needs_rewind = False
        return fd

    def _close_journal(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None

    def _rewind(self, fd: int) -> None:
        """Cut the journal (open as ``fd``) back to its last complete record."""
        try:
            os.ftruncate(fd, self._journal_bytes)
            os.fsync(fd)
        except OSError as exc:
            raise StateWriteError(f"cannot repair {self._journal_path(self.generation)} after a failed write: "
                                  f"{_describe(exc)}") from None
        self._needs_rewind = False

    def append(self, record: dict) -> None:
        """Make ``record`` durable, or restore the acknowledged state and raise ``StateWriteError``. Callers hold
        the store lock, so records are in the order changes were made and no other change is half made."""
        if self.paused:
            return
        try:
            fd = self._journal_fd if self._journal_fd is not None else self._open_journal()
            if self._needs_rewind:
                self._rewind(fd)
            try:
                data = codec.encode_record(record)
            except (TypeError, ValueError) as exc:
                raise StateWriteError(f"cannot journal the change: {exc}") from None
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError as exc:
                self._needs_rewind = True
                failure = StateWriteError(f"cannot write {self._journal_path(self.generation)}: {_describe(exc)}")
                try:
                    self._rewind(fd)
                except StateWriteError:
                    pass
                raise failure from None
        except StateWriteError:
            if self.rollback is not None:
                self.rollback()
            raise
        self._journal_bytes += len(data)
        if self.snapshot_source is not None and self._journal_bytes > self.compact_after_bytes:
            try:
                self.compact(self.snapshot_source())
            except StateWriteError as exc:
                log.warning("compacting the journal failed (%s); it keeps growing until a compaction succeeds", exc)

    def close(self) -> None:
        self._close_journal()
        os.close(self._lock_fd)
