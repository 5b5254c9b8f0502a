"""Manifest parsing: what ECR reads out of the bytes a client pushes.

Understands Docker image manifest v2 schema 2, Docker manifest lists, OCI image manifests and indexes, and Docker
schema 1 (signed or not). The digest is always sha256 of the exact bytes, as registries compute it.
"""

import hashlib
import json
import re

from ..specs import messages

DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

IMAGE_CONFIG_TYPES = frozenset({"application/vnd.docker.container.image.v1+json",
                                "application/vnd.oci.image.config.v1+json"})
LIST_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX} | SCHEMA1_TYPES)

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
DIGEST_SYNTAX = re.compile(r"[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+")


class ManifestError(ValueError):
    """The manifest cannot be stored; the message says why in ECR's terms."""


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    return bool(_DIGEST.fullmatch(value))


class Manifest:
    """What a registry needs from a manifest: its type, the blobs and manifests it names, and its subject."""

    __slots__ = ("digest", "media_type", "config", "config_media_type", "layers", "children", "subject",
                 "artifact_type")

    def __init__(self, digest: str, media_type: str):
        self.digest = digest
        self.media_type = media_type
        self.config: tuple[str, int] | None = None
        self.config_media_type: str | None = None
        self.layers: list[tuple[str, int]] = []
        self.children: list[str] = []
        self.subject: str | None = None
        self.artifact_type: str | None = None

    @property
    def is_list(self) -> bool:
        return self.media_type in LIST_TYPES

    @property
    def artifact_media_type(self) -> str | None:
        """ECR's artifactMediaType: the artifact type when one is declared, else the config's media type."""
        return self.artifact_type or self.config_media_type

    @property
    def is_image(self) -> bool:
        """An image as scanners see it: a manifest whose config is an image config (not an OCI artifact)."""
        return self.media_type in SCHEMA1_TYPES or (
            self.config_media_type in IMAGE_CONFIG_TYPES and not self.artifact_type)

    def layer_size(self) -> int:
        return sum(size for _, size in self.layers)

    def blobs(self) -> list[str]:
        """Every blob digest the manifest needs: config first, then layers."""
        return ([self.config[0]] if self.config else []) + [digest for digest, _ in self.layers]


def parse(data: bytes, declared_media_type: str | None = None) -> Manifest:
    """Parse ``data``; ``declared_media_type`` is the type the client gave beside the bytes, if any."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _invalid(messages.MANIFEST_SYNTAX) from None
    if not isinstance(doc, dict):
        raise _invalid("Manifest must be a JSON object")
    media_type = _media_type(doc, declared_media_type)
    manifest = Manifest(digest_of(data), media_type)
    if media_type in SCHEMA1_TYPES:
        _schema1(doc, manifest)
    elif media_type in LIST_TYPES:
        _index(doc, manifest)
    else:
        _image(doc, manifest)
    return manifest


def _media_type(doc: dict, declared: str | None) -> str:
    embedded = doc.get("mediaType")
    if embedded is not None and not isinstance(embedded, str):
        raise _invalid("mediaType must be a string")
    if embedded and declared and embedded != declared:
        raise ManifestError(messages.invalid_parameter(
            "imageManifestMediaType",
            f"The media type '{declared}' does not match the mediaType '{embedded}' in the manifest"))
    media_type = embedded or declared or _inferred(doc)
    if media_type not in MANIFEST_TYPES:
        raise ManifestError(messages.invalid_parameter("imageManifestMediaType",
                                                       f"Unsupported manifest media type: {media_type}"))
    version = doc.get("schemaVersion")
    expected = 1 if media_type in SCHEMA1_TYPES else 2
    if version != expected or isinstance(version, bool):
        raise _invalid(f"schemaVersion must be {expected} for {media_type}")
    return media_type


def _inferred(doc: dict) -> str:
    """The type of a manifest that carries no mediaType and came without one. Schema 1 never carries it and its
    schemaVersion names it. Any other needs imageManifestMediaType, as the PutImage API reference says; ECR refuses
    the manifest as 'Invalid JSON syntax' (see ``specs.messages``)."""
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1_SIGNED if "signatures" in doc else DOCKER_SCHEMA1
    raise _invalid(messages.MANIFEST_SYNTAX)


def _invalid(why: str) -> ManifestError:
    return ManifestError(messages.invalid_parameter("ImageManifest", why))


def _descriptor(value, where: str) -> tuple[str, int, dict]:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    digest, size = value.get("digest"), value.get("size")
    if not isinstance(digest, str) or not is_digest(digest):
        raise _invalid(f"{where} has an invalid digest: {digest!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where} has an invalid size: {size!r}")
    return digest, size, value


def _image(doc: dict, manifest: Manifest) -> None:
    digest, size, config = _descriptor(doc.get("config"), "config")
    manifest.config = (digest, size)
    manifest.config_media_type = config.get("mediaType") if isinstance(config.get("mediaType"), str) else None
    layers = doc.get("layers", [])
    if not isinstance(layers, list):
        raise _invalid("layers must be a list")
    manifest.layers = [_descriptor(layer, f"layers[{i}]")[:2] for i, layer in enumerate(layers)]
    _referrer_fields(doc, manifest)


def _index(doc: dict, manifest: Manifest) -> None:
    children = doc.get("manifests")
    if not isinstance(children, list):
        raise _invalid("manifests must be a list")
    manifest.children = [_descriptor(child, f"manifests[{i}]")[0] for i, child in enumerate(children)]
    _referrer_fields(doc, manifest)


def _referrer_fields(doc: dict, manifest: Manifest) -> None:
    artifact_type = doc.get("artifactType")
    if artifact_type is not None:
        if not isinstance(artifact_type, str):
            raise _invalid("artifactType must be a string")
        manifest.artifact_type = artifact_type
    if "subject" in doc:
        manifest.subject = _descriptor(doc["subject"], "subject")[0]


def _schema1(doc: dict, manifest: Manifest) -> None:
    layers = doc.get("fsLayers")
    if not isinstance(layers, list) or not isinstance(doc.get("name"), str) or not isinstance(doc.get("tag"), str):
        raise _invalid("a schema 1 manifest needs name, tag and fsLayers")
    sums = []
    for i, layer in enumerate(layers):
        blob_sum = layer.get("blobSum") if isinstance(layer, dict) else None
        if not isinstance(blob_sum, str) or not is_digest(blob_sum):
            raise _invalid(f"fsLayers[{i}] has an invalid blobSum: {blob_sum!r}")
        sums.append(blob_sum)
    manifest.layers = [(digest, 0) for digest in dict.fromkeys(sums)]
