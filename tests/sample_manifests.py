"""Manifests of every kind ECR accepts, built from a seed so each call gives distinct, valid bytes."""

import hashlib
import json

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def digest(data: bytes | str) -> str:
    return "sha256:" + hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def descriptor(media_type: str, seed: str, size: int) -> dict:
    return {"mediaType": media_type, "digest": digest(seed), "size": size}


def docker(seed: str = "0", layer_sizes=(100, 200)) -> str:
    return json.dumps({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", f"config-{seed}", 7),
        "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", f"layer-{seed}-{i}", size)
                   for i, size in enumerate(layer_sizes)]})


def oci(seed: str = "0", layer_sizes=(50,), media_type_field=True, artifact_type=None, config_type=None,
        subject=None) -> str:
    doc = {"schemaVersion": 2}
    if media_type_field:
        doc["mediaType"] = OCI_MANIFEST
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = descriptor(config_type or "application/vnd.oci.image.config.v1+json", f"config-{seed}", 5)
    doc["layers"] = [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", f"layer-{seed}-{i}", size)
                     for i, size in enumerate(layer_sizes)]
    if subject:
        doc["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10}
    return json.dumps(doc)


def index(children: list[str], media_type: str = OCI_INDEX, child_type: str = OCI_MANIFEST) -> str:
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": [
        {"mediaType": child_type, "digest": digest(child), "size": len(child),
         "platform": {"architecture": arch, "os": "linux"}}
        for child, arch in zip(children, ["amd64", "arm64", "s390x", "ppc64le"], strict=False)]})


def schema1(seed: str = "0") -> str:
    return json.dumps({"schemaVersion": 1, "name": "app", "tag": "latest", "architecture": "amd64",
                       "fsLayers": [{"blobSum": digest(f"s1-{seed}-a")}, {"blobSum": digest(f"s1-{seed}-b")}],
                       "history": [{"v1Compatibility": "{}"}, {"v1Compatibility": "{}"}],
                       "signatures": [{"header": {"alg": "ES256"}, "signature": "c2ln", "protected": "cHI"}]})
