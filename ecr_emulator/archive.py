"""Whole-emulator archives: every registry's state and every blob in one tar stream, and back.

An archive holds ``state.pickle`` (the registries, in the state directory's own format) followed by
``blobs/<account>/<region>/sha256/<hex>`` files. Importing is all or nothing: the archive is read into a staging
area beside the blob store first, every name and blob digest checked and the state file loaded with the restricted
unpickler; only then is the running state replaced. A bad archive changes nothing.
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

from . import persistence
from .models.blobs import CHUNK_SIZE
from .models.store import Store

STATE_MEMBER = "state.pickle"
_BLOB_MEMBER = re.compile(r"blobs/(\d{12})/([a-z0-9-]{1,200})/sha256/([0-9a-f]{64})")
MAX_STATE_BYTES = 4 * 1024 ** 3


class ArchiveError(ValueError):
    """The archive cannot be imported; the message says which member and why."""


def export_stream(store: Store) -> Iterator[bytes]:
    """The archive of ``store``, produced piece by piece: the state is pickled under the store lock (a consistent
    cut), then blobs are streamed from disk in chunks without holding it (blobs never change once written). The tar
    framing is written here, so no blob is ever whole in memory."""
    with store.lock:
        state = persistence.dumps_state(store.snapshot_state())
    yield _header(STATE_MEMBER, len(state))
    yield state + _padding(len(state))
    for account, region, digest, path in store.blobs.blobs():
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
    staging = pathlib.Path(tempfile.mkdtemp(prefix="import-", dir=store.blobs.root.parent))
    try:
        registries, blobs = _stage(stream, staging)
        with store.lock:
            store.reset()
            for account, region, digest, path in blobs:
                store.blobs.adopt(account, region, digest, path)
            store.restore_state(registries)
            if store.persistence is not None:
                store.persistence.compact(store.snapshot_state())
        repositories = sum(len(r.repositories) for r in registries.values())
        return {"registries": len(registries), "repositories": repositories, "blobs": len(blobs)}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage(stream, staging: pathlib.Path) -> tuple[dict, list]:
    registries = None
    blobs = []
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.name == STATE_MEMBER and member.isfile():
                    if member.size > MAX_STATE_BYTES:
                        raise ArchiveError(f"{STATE_MEMBER} is larger than {MAX_STATE_BYTES} bytes")
                    registries = _load_state(tar.extractfile(member).read())
                    continue
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


def _load_state(data: bytes) -> dict:
    try:
        registries, _ = persistence.loads_state(data)
    except Exception as exc:
        raise ArchiveError(f"{STATE_MEMBER} is not an ecr-emulator state: {exc}") from None
    if not isinstance(registries, dict):
        raise ArchiveError(f"{STATE_MEMBER} holds no registries")
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
