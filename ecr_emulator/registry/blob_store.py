"""The blob store: content-addressed files on disk, one namespace per registry, and resumable uploads.

Which repositories of a registry hold a blob is not this store's business: ``blob_links`` keeps that, and removes a
file here when no repository holds it any more.

Layout under ``root``::

    <account>/<region>/sha256/<2 hex>/<64 hex>     a blob, named by the sha256 of its bytes
    <account>/<region>/uploads/<uuid>              the bytes of an upload in progress

Bytes always live on disk and move in chunks, so a blob is never whole in memory. The running sha256 of an upload is
kept in memory beside it; when that is lost (a restart) it is recomputed from the file, so an upload survives a
restart as long as its file does. A blob becomes visible only by an atomic rename of a complete, verified, fsynced
file, so a reader never sees a partial blob. Every digest, upload id, account and region is checked against a strict
pattern before any path is built from it, so no request can name a file outside ``root``.
"""

import concurrent.futures
import contextlib
import errno
import hashlib
import os
import pathlib
import re
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import TypeGuard

from ..models.manifests import is_digest

CHUNK_SIZE = 1024 * 1024
# Monolithic writes in progress; never resumable, so a crash's leftovers are removed when a store opens.
_PUT_SUFFIX = ".put"

_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z0-9-]{1,200}")


class InvalidDigestError(ValueError):
    """A digest that is not ``sha256:`` followed by 64 lowercase hex digits."""


class UnknownUploadError(KeyError):
    """No upload with this id exists in this registry (ids that are not uuids included)."""


class UploadOffsetError(Exception):
    """An append that does not start where the upload ends; ``size`` is what the upload holds."""

    def __init__(self, size: int):
        super().__init__(f"upload holds {size} bytes")
        self.size = size


class DigestMismatchError(Exception):
    """The bytes received hash to ``actual``, not to the digest the client claimed."""

    def __init__(self, actual: str):
        super().__init__(f"content digest is {actual}")
        self.actual = actual


class DiskFaultError(Exception):
    """The disk could not take a write (full, read-only, failing): the machine's fault, not the request's. The message
    says why and what was being written; any partial file is already removed."""

    def __init__(self, message: str, errno_: int):
        super().__init__(message)
        self.errno = errno_


# Faults of the file system itself; other OSErrors (a client's connection failing while its body is read) pass on.
_DISK_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM,
                          errno.ENFILE, errno.EMFILE})


def is_disk_fault(exc: BaseException) -> TypeGuard[OSError]:
    return isinstance(exc, OSError) and exc.errno in _DISK_FAULTS


def fault_reason(exc: OSError) -> str:
    """The system's words for a disk fault, in lower case ("no space left on device")."""
    return (exc.strerror or str(exc)).lower()


@contextlib.contextmanager
def _disk_faults(doing: str):
    """Turn a file system fault inside the block into a DiskFaultError saying what was being done."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None or not is_disk_fault(exc):
            raise
        raise DiskFaultError(f"{os.strerror(exc.errno).lower()} {doing}", exc.errno) from exc


_hashers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="blob-hash")


def _write_hashing(chunks: Iterable[bytes], f, hash_) -> int:
    """Write ``chunks`` to ``f`` while ``hash_`` digests them on another thread (both release the GIL), so a large
    blob costs about the larger of the two rather than their sum. Returns the number of bytes written."""
    pending = None
    written = 0
    try:
        for chunk in chunks:
            if pending is not None:
                pending.result()
            pending = _hashers.submit(hash_.update, chunk)
            f.write(chunk)
            written += len(chunk)
    finally:
        if pending is not None:
            pending.result()
    return written


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not is_digest(digest):
        raise InvalidDigestError(f"unsupported digest {digest!r}: expected sha256:<64 lowercase hex digits>")
    return digest


class _Upload:
    """The in-memory side of an upload: its running hash and byte count, and a lock serialising its appends."""

    __slots__ = ("hash", "size", "lock")

    def __init__(self, hash_, size: int):
        self.hash = hash_
        self.size = size
        self.lock = threading.Lock()


class BlobStore:
    def __init__(self, root: pathlib.Path, durable: bool = True):
        """``durable`` fsyncs each blob before it becomes visible; a store in a directory removed at exit has
        nothing to keep across a crash and skips it."""
        self.root = pathlib.Path(root)
        self.durable = durable
        self.root.mkdir(parents=True, exist_ok=True)
        self._uploads: dict[tuple[str, str, str], _Upload] = {}
        self._lock = threading.Lock()
        for leftover in self.root.glob(f"*/*/uploads/*{_PUT_SUFFIX}"):
            leftover.unlink(missing_ok=True)

    # Paths: every component is validated before it is joined.

    def _registry_dir(self, account: str, region: str) -> pathlib.Path:
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise ValueError(f"invalid account {account!r}")
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ValueError(f"invalid region {region!r}")
        return self.root / account / region

    def path(self, account: str, region: str, digest: str) -> pathlib.Path:
        """Where the blob lives (whether or not it exists), for streaming reads."""
        hex_ = check_digest(digest)[len("sha256:"):]
        return self._registry_dir(account, region) / "sha256" / hex_[:2] / hex_

    def _upload_path(self, account: str, region: str, upload_id: str) -> pathlib.Path:
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise UnknownUploadError(upload_id)
        return self._registry_dir(account, region) / "uploads" / upload_id

    # Blobs.

    def exists(self, account: str, region: str, digest: str) -> bool:
        return self.path(account, region, digest).is_file()

    def size(self, account: str, region: str, digest: str) -> int | None:
        try:
            return self.path(account, region, digest).stat().st_size
        except FileNotFoundError:
            return None

    def copy_between(self, source_account: str, source_region: str, account: str, region: str, digest: str) -> bool:
        """Make a blob of one registry present in another (replication); False when the source lacks it. Blobs are
        immutable and content-addressed, so both names may share one file: a hard link, which appears whole at once,
        or a copy installed like any other blob where linking fails (another file system)."""
        source = self.path(source_account, source_region, digest)
        target = self.path(account, region, digest)
        if target.exists():
            return True
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except FileExistsError:
            return True
        except FileNotFoundError:
            return False
        except OSError:
            return self._copy_in(source, account, region, target)
        if self.durable:
            _fsync_dir(target.parent)
        return True

    def _copy_in(self, source: pathlib.Path, account: str, region: str, target: pathlib.Path) -> bool:
        uploads = self._registry_dir(account, region) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        tmp = uploads / f"{uuid.uuid4()}{_PUT_SUFFIX}"
        try:
            try:
                shutil.copyfile(source, tmp)
            except FileNotFoundError:
                return False
            if self.durable:
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
            self._install(tmp, target)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, account: str, region: str, digest: str) -> bool:
        try:
            self.path(account, region, digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def put(self, account: str, region: str, chunks: Iterable[bytes], digest: str | None = None) -> tuple[str, int]:
        """Store a blob in one streamed write; with ``digest``, refuse (store nothing) unless the bytes match it."""
        if digest is not None:
            check_digest(digest)
        uploads = self._registry_dir(account, region) / "uploads"
        # Not a uuid, so never addressable as an upload.
        tmp = uploads / f"{uuid.uuid4()}{_PUT_SUFFIX}"
        with _disk_faults(f"writing blob {digest}" if digest else "writing a blob"):
            uploads.mkdir(parents=True, exist_ok=True)
            try:
                hash_ = hashlib.sha256()
                size = 0
                with open(tmp, "wb") as f:
                    size += _write_hashing(chunks, f, hash_)
                    actual = "sha256:" + hash_.hexdigest()
                    if digest is not None and actual != digest:
                        raise DigestMismatchError(actual)
                    if self.durable:
                        f.flush()
                        os.fsync(f.fileno())
                self._install(tmp, self.path(account, region, actual))
                return actual, size
            finally:
                tmp.unlink(missing_ok=True)

    def _install(self, source: pathlib.Path, target: pathlib.Path) -> None:
        """Rename a verified, fsynced file into place; content-addressed, so an existing blob is already right."""
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        if self.durable:
            _fsync_dir(target.parent)

    # Uploads.

    def start_upload(self, account: str, region: str) -> str:
        upload_id = str(uuid.uuid4())
        path = self._upload_path(account, region, upload_id)
        with _disk_faults("starting a blob upload"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=False)
        with self._lock:
            self._uploads[(account, region, upload_id)] = _Upload(hashlib.sha256(), 0)
        return upload_id

    def _state(self, account: str, region: str, upload_id: str) -> tuple[pathlib.Path, _Upload]:
        """An upload's file and in-memory state, rebuilding the state from the file when it was lost."""
        path = self._upload_path(account, region, upload_id)
        key = (account, region, upload_id)
        with self._lock:
            state = self._uploads.get(key)
        if state is not None:
            return path, state
        if not path.is_file():
            raise UnknownUploadError(upload_id)
        hash_ = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK_SIZE):
                hash_.update(chunk)
                size += len(chunk)
        with self._lock:
            return path, self._uploads.setdefault(key, _Upload(hash_, size))

    def upload_size(self, account: str, region: str, upload_id: str) -> int:
        return self._state(account, region, upload_id)[1].size

    def append(self, account: str, region: str, upload_id: str, chunks: Iterable[bytes],
               offset: int | None = None) -> int:
        """Add bytes to the end of an upload; return its new size.

        All or nothing: if the chunks fail part way (a client that hangs up, a full disk), the upload goes back to its
        previous size, so its reported size is always what was fully received.
        """
        path, state = self._state(account, region, upload_id)
        with state.lock, _disk_faults(f"writing blob upload {upload_id}"):
            self._check_offset(path, state, upload_id, offset)
            return self._write(path, state, chunks)

    @staticmethod
    def _check_offset(path: pathlib.Path, state: _Upload, upload_id: str, offset: int | None) -> None:
        if not path.is_file():
            raise UnknownUploadError(upload_id)
        if offset is not None and offset != state.size:
            raise UploadOffsetError(state.size)

    @staticmethod
    def _write(path: pathlib.Path, state: _Upload, chunks: Iterable[bytes]) -> int:
        """Append under the upload's lock; on any failure the file is cut back to what it held."""
        hash_, size = state.hash.copy(), state.size
        try:
            with open(path, "r+b") as f:
                f.seek(size)
                size += _write_hashing(chunks, f, hash_)
        except BaseException:
            with open(path, "r+b") as f:
                f.truncate(state.size)
            raise
        state.hash, state.size = hash_, size
        return size

    def finish(self, account: str, region: str, upload_id: str, digest: str) -> int:
        """Turn a complete upload into the blob ``digest``; on a mismatch the upload is dropped and nothing stored."""
        check_digest(digest)
        path, state = self._state(account, region, upload_id)
        with state.lock, _disk_faults(f"storing blob {digest}"):
            if not path.is_file():
                raise UnknownUploadError(upload_id)
            actual = "sha256:" + state.hash.hexdigest()
            try:
                if actual != digest:
                    raise DigestMismatchError(actual)
                if self.durable:
                    with open(path, "rb") as f:
                        os.fsync(f.fileno())
                self._install(path, self.path(account, region, digest))
                return state.size
            finally:
                self._forget(account, region, upload_id, path)

    def cancel(self, account: str, region: str, upload_id: str) -> None:
        path, state = self._state(account, region, upload_id)
        with state.lock:
            self._forget(account, region, upload_id, path)

    def _forget(self, account: str, region: str, upload_id: str, path: pathlib.Path) -> None:
        path.unlink(missing_ok=True)
        with self._lock:
            self._uploads.pop((account, region, upload_id), None)

    def blobs(self) -> Iterator[tuple[str, str, str, pathlib.Path]]:
        """Every stored blob as (account, region, digest, path), for archives."""
        for account_dir in sorted(p for p in self.root.iterdir() if _ACCOUNT.fullmatch(p.name)):
            for region_dir in sorted(p for p in account_dir.iterdir() if _REGION.fullmatch(p.name)):
                for path in sorted((region_dir / "sha256").glob("*/*")):
                    if is_digest(f"sha256:{path.name}"):
                        yield account_dir.name, region_dir.name, f"sha256:{path.name}", path

    def adopt(self, account: str, region: str, digest: str, source: pathlib.Path) -> None:
        """Move a complete, verified file into place as blob ``digest`` (an archive import's staged blobs)."""
        self._install(source, self.path(account, region, digest))

    def clear(self) -> None:
        """Remove every blob and upload: after a store reset no registry holds anything, so neither does this."""
        with self._lock:
            self._uploads.clear()
            for child in self.root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)


def _fsync_dir(directory: pathlib.Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
