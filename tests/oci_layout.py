"""Write small OCI image layouts on disk for end-to-end tests with registry clients."""

import hashlib
import io
import json
import os
import pathlib
import tarfile


def _put(root: pathlib.Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_layout(root: pathlib.Path, layers: int = 2, layer_bytes: int = 256 * 1024, tag: str = "latest") -> str:
    """An OCI layout holding one image of ``layers`` random uncompressed tar layers; returns its manifest digest."""
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    descriptors, diff_ids = [], []
    for n in range(layers):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            payload = os.urandom(layer_bytes)
            info = tarfile.TarInfo(f"file{n}.bin")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        blob = _put(root, buffer.getvalue())
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", **blob})
        diff_ids.append(blob["digest"])
    config = _put(root, json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                                    "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
    manifest = _put(root, json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": descriptors}).encode())
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return manifest["digest"]
