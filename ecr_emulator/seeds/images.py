"""Synthesized images for seeds: real layer and config blobs of chosen sizes, and the manifests that name them.

Each layer is a real gzip-compressed tar (one file of deterministic bytes) of exactly the requested size: the tar is
wrapped in stored (uncompressed) deflate blocks and the gzip header's comment field takes up the difference, so any
size from ``MIN_LAYER_SIZE`` up is possible and a client can pull and unpack it. Layers are produced in pieces and
streamed into the blob store, never whole in memory; their bytes depend only on the seed, so digests are the same on
every load.
"""

import hashlib
import json
import struct
import tarfile
import zlib

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPES = (DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX)
LISTS = {DOCKER_LIST: DOCKER_MANIFEST, OCI_INDEX: OCI_MANIFEST}
_CONFIG = {DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
           OCI_MANIFEST: "application/vnd.oci.image.config.v1+json"}
_LAYER = {DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
          OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip"}

_GZIP_FIXED = 10 + 8  # header without optional fields, and the CRC32/size trailer
_STORED_MAX = 65535
_BLOCK = tarfile.BLOCKSIZE
_EMPTY_TAR = 2 * _BLOCK
MIN_LAYER_SIZE = _EMPTY_TAR + _GZIP_FIXED + 5
_PATTERN_SIZE = 64 * 1024


def _gzip_overhead(tar_size: int) -> int:
    return _GZIP_FIXED + 5 * max(1, -(-tar_size // _STORED_MAX))


def _tar_size(size: int) -> int:
    """The largest tar (a multiple of 512 bytes) whose gzip framing fits in ``size`` bytes."""
    tar = (size - _gzip_overhead(size)) // _BLOCK * _BLOCK
    while tar + _gzip_overhead(tar) > size:
        tar -= _BLOCK
    # One file needs a header block besides the two end blocks; below that the tar is just its end.
    return tar if tar >= _EMPTY_TAR + _BLOCK else _EMPTY_TAR


def _pattern(key: str) -> bytes:
    return b"".join(hashlib.sha256(f"{key}/{n}".encode()).digest() for n in range(_PATTERN_SIZE // 32))


def _tar_pieces(tar_size: int, key: str):
    if tar_size > _EMPTY_TAR:
        data_size = tar_size - _EMPTY_TAR - _BLOCK
        info = tarfile.TarInfo(f"seed/{hashlib.sha256(key.encode()).hexdigest()[:16]}")
        info.size, info.mode, info.mtime = data_size, 0o644, 0
        yield info.tobuf(format=tarfile.USTAR_FORMAT)
        pattern = _pattern(key)
        while data_size:
            piece = pattern[:data_size]
            data_size -= len(piece)
            yield piece
    yield b"\0" * _EMPTY_TAR


class Layer:
    """A layer of ``size`` bytes; iterate it for its bytes, then read ``diff_id`` (the digest of its tar)."""

    def __init__(self, size: int, key: str):
        if size < MIN_LAYER_SIZE:
            raise ValueError(f"a layer is a real gzip-compressed tar, at least {MIN_LAYER_SIZE} bytes")
        self.size = size
        self.key = key
        self._diff_id: str | None = None

    @property
    def diff_id(self) -> str:
        if self._diff_id is None:
            raise RuntimeError("a layer's diff_id is known once the layer has been read")
        return self._diff_id

    def __iter__(self):
        tar_size = _tar_size(self.size)
        padding = self.size - tar_size - _gzip_overhead(tar_size)
        flags = 0x10 if padding else 0
        yield b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0" + b"\0\xff"
        if padding:
            yield b"c" * (padding - 1) + b"\0"
        crc, tar_hash, pending, sent = 0, hashlib.sha256(), bytearray(), 0
        for piece in _tar_pieces(tar_size, self.key):
            crc = zlib.crc32(piece, crc)
            tar_hash.update(piece)
            pending += piece
            while len(pending) >= _STORED_MAX:
                sent += _STORED_MAX
                yield _stored(bytes(pending[:_STORED_MAX]), final=sent == tar_size)
                del pending[:_STORED_MAX]
        if pending:
            yield _stored(bytes(pending), final=True)
        yield struct.pack("<II", crc, tar_size & 0xFFFFFFFF)
        self._diff_id = "sha256:" + tar_hash.hexdigest()


def _stored(data: bytes, final: bool) -> bytes:
    return bytes([1 if final else 0]) + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


def platform_of(text: str) -> dict:
    os_name, arch, *variant = text.split("/")
    platform = {"architecture": arch, "os": os_name}
    if variant:
        platform["variant"] = variant[0]
    return platform


def config_blob(platform: dict, diff_ids: list[str], created: str) -> bytes:
    return json.dumps({
        "architecture": platform["architecture"], "os": platform["os"],
        **({"variant": platform["variant"]} if "variant" in platform else {}),
        "created": created, "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": "ecr-emulator seed"} for _ in diff_ids],
    }, sort_keys=True).encode()


def image_manifest(media_type: str, config: tuple[str, int], layers: list[tuple[str, int]]) -> bytes:
    """The manifest of one image; ``config`` and each layer are (digest, size)."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": _CONFIG[media_type], "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": _LAYER[media_type], "digest": d, "size": s} for d, s in layers],
    }, indent=2).encode()


def list_manifest(media_type: str, children: list[tuple[bytes, dict]]) -> bytes:
    """A manifest list / image index over (child manifest bytes, platform) pairs."""
    child_type = LISTS[media_type]
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "manifests": [{"mediaType": child_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                       "size": len(data), "platform": platform} for data, platform in children],
    }, indent=2).encode()
