"""Whole-emulator archives: every registry's state and every blob in one tar stream, and back.

An archive holds ``state.snapshot`` (the registries, as a snapshot in the state directory's own data-only format,
``codec``) followed by ``blobs/<account>/<region>/sha256/<hex>`` files. Importing is all or nothing: the
archive is read into a staging area beside the blob store first, every name, record checksum and blob digest checked
and the state decoded; only then is the running state replaced. A bad archive changes nothing.
"""

import hashlib
import os
import pathlib
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator

from ..models.store import Store
from ..registry.blob_store import CHUNK_SIZE
from . import codec

STATE_MEMBER = "state.snapshot"
LEGACY_STATE_MEMBER = "state.pickle"
_BLOB_MEMBER = re.compile(r"blobs/(\d{12})/([a-z0-9-]{1,200})/sha256/([0-9a-f]{64})")


class ArchiveError(ValueError):
    """The archive cannot be imported; the message says which member and why."""


def export_stream(store: Store) -> Iterator[bytes]:
    """The archive of ``store``, produced piece by piece: the state is encoded under the store lock (a consistent
    cut), then blobs are streamed from disk in chunks without holding it (blobs never change once written). The tar
    framing is written here, so no blob is ever whole in memory."""
    with store.lock:
        state = b"".join(codec.snapshot_records(store.snapshot_state(), 0))
    yield _header(STATE_MEMBER, len(state))
    yield state + _padding(len(state))
    for account, region, digest, path in store.blob_store().blobs():
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            continue
        with f:
            size = os.fstat(f.fileno()).st_size
            yield _header(f"blobs/{account}/{region}/sha256/{digest[7:]}", size)
            while chunk := f.read(CHUNK_SIZE):
                yield chunk
            yield _padding(size)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = int(time.time())
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def import_stream(store: Store, stream) -> dict:
    """Replace everything ``store`` holds with the archive read from ``stream``; report what was imported."""
    staging = pathlib.Path(tempfile.mkdtemp(prefix="import-", dir=store.blob_store().root.parent))
    try:
        registries, blobs = _stage(stream, staging)
        with store.lock:
            store.reset(registries)
            for account, region, digest, path in blobs:
                store.blob_store().adopt(account, region, digest, path)
        repositories = sum(len(r.repositories) for r in registries.values())
        return {"registries": len(registries), "repositories": repositories, "blobs": len(blobs)}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage(stream, staging: pathlib.Path) -> tuple[dict, list]:
    registries: dict | None = None
    blobs: list[tuple[str, str, str, pathlib.Path]] = []
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.name == STATE_MEMBER and member.isfile() and registries is None:
                    registries = _load_state(tar.extractfile(member))
                    continue
                if member.name == LEGACY_STATE_MEMBER:
                    raise ArchiveError(f"{LEGACY_STATE_MEMBER}: the archive was written by an older ecr-emulator in "
                                       f"a format this version no longer reads (it could run code); export it again "
                                       f"with this version from a server that holds the state")
                match = _BLOB_MEMBER.fullmatch(member.name)
                if match is None or not member.isfile():
                    raise ArchiveError(f"unexpected archive member {member.name!r}")
                account, region, hex_digest = match.groups()
                path = staging / f"{len(blobs)}.blob"
                _copy_verified(tar.extractfile(member), path, hex_digest, member.name)
                blobs.append((account, region, f"sha256:{hex_digest}", path))
    except tarfile.TarError as exc:
        raise ArchiveError(f"not a readable tar archive: {exc}") from None
    if registries is None:
        raise ArchiveError(f"the archive has no {STATE_MEMBER}")
    return registries, blobs


def _load_state(member) -> dict:
    try:
        registries, _ = codec.read_snapshot(codec.bounded_lines(member), STATE_MEMBER)
    except codec.StateFormatError as exc:
        raise ArchiveError(str(exc)) from None
    return registries


def _copy_verified(source, target: pathlib.Path, hex_digest: str, name: str) -> None:
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != hex_digest:
        raise ArchiveError(f"{name}: content does not match its digest")
