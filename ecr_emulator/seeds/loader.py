"""Seeds: a file (or dict) declaring registries, repositories, policies and images, loaded as a starting state.

The whole seed is checked before anything is loaded: first its shape (keys, types, sizes, times), then its meaning,
by applying it through the JSON API's own path (``protocol.apply``: validation, handlers, PutImage with every blob
present) to a scratch store whose blobs live in a staging directory. Only when every step succeeded does the scratch
state replace the running one and its blobs move into the blob store; a fault raises ``SeedError`` naming the file,
the line and the seed path, and changes nothing.

Schema (JSON shown; TOML is the same with ``[[registries]]`` / ``[[registries.repositories]]`` /
``[[registries.repositories.images]]`` tables)::

    {"version": 1,
     "registries": [{
        "account": "123456789012",          # default: the emulator's account
        "region": "us-east-1",              # default: us-east-1
        "policy": {...},                    # PutRegistryPolicy (an object or its JSON text)
        "repositories": [{
            "name": "team/app",             # required
            "tag_mutability": "IMMUTABLE",  # imageTagMutability
            "tag_mutability_exclusions": ["dev-*"],
            "scan_on_push": true,
            "encryption": "KMS", "kms_key": "arn:...",
            "tags": {"env": "dev"},
            "policy": {...},                # SetRepositoryPolicy
            "lifecycle_policy": {...},      # PutLifecyclePolicy
            "created_at": "2024-01-01T00:00:00Z",   # default: the earliest push, else the load time
            "images": [{
                "tags": ["v1", "latest"],
                "media_type": "application/vnd.oci.image.index.v1+json",
                "platforms": ["linux/amd64", "linux/arm64/v8"],
                "layers": [1048576, 4096],          # each layer's size in bytes (default [2048])
                "pushed_at": "2024-02-01T12:00:00Z" # default: the load time
            }]}]}],
     "repositories": [...]}                 # shorthand: repositories of the default registry

``media_type`` is one of Docker's image manifest (the default for one platform) or manifest list (the default for
several), or OCI's image manifest or image index; a list or index gets one image manifest per platform, each pushed
untagged before the list. Times are ISO-8601 strings (or TOML datetimes); without a zone they are UTC.
"""

import atexit
import dataclasses
import datetime
import json
import os
import pathlib
import re
import shutil
import tempfile
import time
from typing import NoReturn

from .. import errors
from ..api import protocol
from ..api.context import RequestContext
from ..models import blob_links
from ..models.store import Store
from ..registry.blob_store import BlobStore
from ..state import codec
from . import images as seed_images
from . import source as seed_source

VERSION = 1
DEFAULT_LAYERS = (2048,)


class SeedError(ValueError):
    """A seed that cannot be loaded: the message is ``FILE:LINE: PATH: what is wrong``."""


@dataclasses.dataclass
class _Image:
    path: tuple
    tags: list
    media_type: str
    platforms: list
    layers: list
    pushed_at: float | None


@dataclasses.dataclass
class _Repository:
    path: tuple
    create: dict
    policy: str | None
    lifecycle_policy: str | None
    created_at: float | None
    images: list


@dataclasses.dataclass
class _Registry:
    path: tuple
    account: str
    region: str
    policy: str | None
    repositories: list


def read(seed) -> seed_source.Source:
    """A seed file's path, or a dict in the seed schema, as a ``Source``."""
    if isinstance(seed, seed_source.Source):
        return seed
    if isinstance(seed, dict):
        return seed_source.Source(seed, "seed")
    if isinstance(seed, (str, pathlib.Path)):
        try:
            return seed_source.read(seed)
        except seed_source.SeedSourceError as exc:
            raise SeedError(str(exc)) from None
    raise SeedError(f"a seed is a file path or a dict, not {type(seed).__name__}")


class _Built:
    """A seed applied once, kept so that loading it again (a seeded fixture, test after test) costs a decode and some
    hard links instead of synthesizing every blob anew: its state as snapshot records, and its blob files."""

    def __init__(self, records: list[bytes], blobs: list[tuple[str, str, str, pathlib.Path]], summary: dict):
        self.records = records
        self.blobs = blobs
        self.summary = summary


_built: dict[str, _Built] = {}
_built_root: pathlib.Path | None = None


def load(store: Store, config, seed, reuse: bool = False) -> dict:
    """Check ``seed`` whole, then replace ``store``'s state with it; returns what was loaded. ``reuse`` keeps the
    result for the next load of the same seed in this process (the in-process mock's resets and fixtures)."""
    source = read(seed)
    plan = _Checker(source, config).registries()
    key = json.dumps([source.data, config.account_id, config.default_region], sort_keys=True, default=str)
    built = _built.get(key) if reuse else None
    staging = pathlib.Path(tempfile.mkdtemp(prefix="seed-", dir=store.blob_store().root.parent))
    try:
        if built is None:
            scratch = Store()
            scratch.scan_seconds = store.scan_seconds
            scratch.blobs = BlobStore(staging / "scratch", durable=store.blob_store().durable)
            _Builder(source, scratch, config).build(plan)
            registries, blobs = scratch.snapshot_state(), list(scratch.blobs.blobs())
            summary = {"registries": len(plan), "repositories": sum(len(r.repositories) for r in plan),
                       "images": sum(len(repo.images) for r in plan for repo in r.repositories)}
            if reuse:
                built = _keep(key, registries, blobs, summary, store)
        else:
            registries = codec.read_snapshot(built.records, "the kept seed")[0]
            blobs = []
            for n, (account, region, digest, path) in enumerate(built.blobs):
                _link(path, staging / f"{n}.blob")
                blobs.append((account, region, digest, staging / f"{n}.blob"))
        with store.lock:
            store.reset(registries)
            for account, region, digest, path in blobs:
                store.blob_store().adopt(account, region, digest, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dict(built.summary if built is not None else summary)


def _keep(key: str, registries: dict, blobs: list, summary: dict, store: Store) -> _Built:
    """Keep a built seed: its snapshot, and hard links to its blobs in a directory removed at exit."""
    global _built_root
    if _built_root is None:
        _built_root = pathlib.Path(tempfile.mkdtemp(prefix="ecr-emulator-seeds-", dir=store.blob_store().root.parent))
        atexit.register(shutil.rmtree, _built_root, ignore_errors=True)
    kept: list[tuple[str, str, str, pathlib.Path]] = []
    for account, region, digest, path in blobs:
        target = _built_root / f"{len(_built)}-{len(kept)}.blob"
        _link(path, target)
        kept.append((account, region, digest, target))
    _built[key] = _Built(list(codec.snapshot_records(registries, 0)), kept, summary)
    return _built[key]


def _link(source: pathlib.Path, target: pathlib.Path) -> None:
    """Blobs never change once written, so a second name for the same file will do; a copy where links fail."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def fault(source: seed_source.Source, path: tuple, message: str) -> SeedError:
    return SeedError(f"{source.where(path)}: {dotted(path) or 'the seed'}: {message}")


_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")


class _Checker:
    """The shape of a seed, checked and turned into a plan; the first fault raises."""

    def __init__(self, source: seed_source.Source, config):
        self.source = source
        self.config = config

    def fail(self, path: tuple, message: str) -> NoReturn:
        raise fault(self.source, path, message)

    def table(self, value, path: tuple, allowed: tuple, required: tuple = ()) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be a table/object, not {_kind(value)}")
        for key in value:
            if key not in allowed:
                self.fail(path + (key,), f"unknown key (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return value

    def sequence(self, value, path: tuple) -> list:
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {_kind(value)}")
        return value

    def string(self, value, path: tuple) -> str:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, not {_kind(value)}")
        return value

    def boolean(self, value, path: tuple) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def time(self, value, path: tuple) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                self.fail(path, f"not an ISO-8601 time: {value!r}")
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            value = datetime.datetime(value.year, value.month, value.day)
        if not isinstance(value, datetime.datetime):
            self.fail(path, f"must be an ISO-8601 time, not {_kind(value)}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()

    def document(self, value, path: tuple) -> str | None:
        """A policy: an object (written out as JSON) or its JSON text; the API checks what it says."""
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict):
            return json.dumps(value, default=str)
        self.fail(path, f"must be an object or its JSON text, not {_kind(value)}")

    def registries(self) -> list[_Registry]:
        data = self.table(self.source.data, (), ("version", "registries", "repositories"))
        version = data.get("version", VERSION)
        if version != VERSION or isinstance(version, bool):
            self.fail(("version",), f"unsupported seed version {version!r} (this emulator reads version {VERSION})")
        plan = [self.registry(r, ("registries", i)) for i, r in enumerate(self.sequence(data.get("registries", []),
                                                                                      ("registries",)))]
        if "repositories" in data:
            plan.append(self.registry({"repositories": data["repositories"]}, ()))
        seen: dict[tuple[str, str], tuple] = {}
        for registry in plan:
            key = (registry.account, registry.region)
            if key in seen:
                self.fail(registry.path, f"registry {registry.account} in {registry.region} is declared twice "
                                         f"(first at {dotted(seen[key]) or 'the top level'})")
            seen[key] = registry.path
        return plan

    def registry(self, value, path: tuple) -> _Registry:
        value = self.table(value, path, ("account", "region", "policy", "repositories"))
        account = self.string(value.get("account", self.config.account_id), path + ("account",))
        if not _ACCOUNT.fullmatch(account):
            self.fail(path + ("account",), f"an account is 12 digits, not {account!r}")
        region = self.string(value.get("region", self.config.default_region), path + ("region",))
        if not _REGION.fullmatch(region):
            self.fail(path + ("region",), f"not a region name: {region!r}")
        repositories = self.sequence(value.get("repositories", []), path + ("repositories",))
        return _Registry(path, account, region, self.document(value.get("policy"), path + ("policy",)),
                         [self.repository(r, path + ("repositories", i)) for i, r in enumerate(repositories)])

    def repository(self, value, path: tuple) -> _Repository:
        value = self.table(value, path, ("name", "tag_mutability", "tag_mutability_exclusions", "scan_on_push",
                                         "encryption", "kms_key", "tags", "policy", "lifecycle_policy",
                                         "created_at", "images"), required=("name",))
        create: dict = {"repositoryName": self.string(value["name"], path + ("name",))}
        if "tag_mutability" in value:
            create["imageTagMutability"] = self.string(value["tag_mutability"], path + ("tag_mutability",))
        if "tag_mutability_exclusions" in value:
            where = path + ("tag_mutability_exclusions",)
            create["imageTagMutabilityExclusionFilters"] = [
                {"filterType": "WILDCARD", "filter": self.string(f, where + (i,))}
                for i, f in enumerate(self.sequence(value["tag_mutability_exclusions"], where))]
        if "scan_on_push" in value:
            create["imageScanningConfiguration"] = {
                "scanOnPush": self.boolean(value["scan_on_push"], path + ("scan_on_push",))}
        if "encryption" in value or "kms_key" in value:
            encryption = {"encryptionType": self.string(value.get("encryption", "KMS"), path + ("encryption",))}
            if "kms_key" in value:
                encryption["kmsKey"] = self.string(value["kms_key"], path + ("kms_key",))
            create["encryptionConfiguration"] = encryption
        if "tags" in value:
            tags = self.table(value["tags"], path + ("tags",), tuple(value["tags"]) if isinstance(
                value["tags"], dict) else ())
            create["tags"] = [{"Key": k, "Value": self.string(v, path + ("tags", k))} for k, v in tags.items()]
        images = self.sequence(value.get("images", []), path + ("images",))
        return _Repository(path, create, self.document(value.get("policy"), path + ("policy",)),
                           self.document(value.get("lifecycle_policy"), path + ("lifecycle_policy",)),
                           self.time(value.get("created_at"), path + ("created_at",)),
                           [self.image(image, path + ("images", i)) for i, image in enumerate(images)])

    def image(self, value, path: tuple) -> _Image:
        value = self.table(value, path, ("tags", "media_type", "platforms", "layers", "pushed_at"))
        tags = [self.string(t, path + ("tags", i)) for i, t in enumerate(self.sequence(value.get("tags", []),
                                                                                   path + ("tags",)))]
        platforms = self.sequence(value.get("platforms", ["linux/amd64"]), path + ("platforms",))
        if not platforms:
            self.fail(path + ("platforms",), "name at least one platform")
        for i, platform in enumerate(platforms):
            if not _PLATFORM.fullmatch(self.string(platform, path + ("platforms", i))):
                self.fail(path + ("platforms", i), f"a platform is os/architecture[/variant], not {platform!r}")
        default_type = seed_images.DOCKER_LIST if len(platforms) > 1 else seed_images.DOCKER_MANIFEST
        media_type = self.string(value.get("media_type", default_type), path + ("media_type",))
        if media_type not in seed_images.MEDIA_TYPES:
            self.fail(path + ("media_type",), f"one of {', '.join(seed_images.MEDIA_TYPES)}, not {media_type!r}")
        if media_type not in seed_images.LISTS and len(platforms) > 1:
            self.fail(path + ("platforms",), f"{media_type} is one image: give one platform, or a manifest list "
                                             f"or image index media_type for several")
        layers = self.sequence(value.get("layers", list(DEFAULT_LAYERS)), path + ("layers",))
        for i, size in enumerate(layers):
            if isinstance(size, bool) or not isinstance(size, int) or size < seed_images.MIN_LAYER_SIZE:
                self.fail(path + ("layers", i), f"a layer size is a whole number of bytes of at least "
                                                f"{seed_images.MIN_LAYER_SIZE} (the smallest gzip-compressed tar), "
                                                f"not {size!r}")
        return _Image(path, tags, media_type, platforms, layers, self.time(value.get("pushed_at"),
                                                                           path + ("pushed_at",)))


def _kind(value) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


class _Builder:
    """Applies a checked plan to a scratch store through the JSON API's own path."""

    def __init__(self, source: seed_source.Source, store: Store, config):
        self.source = source
        self.store = store
        # Every blob a seeded manifest names is written first, so PutImage may insist on them.
        self.config = dataclasses.replace(config, strict_layers=True, state_dir=None)
        self.now = time.time()

    def call(self, ctx: RequestContext, path: tuple, operation: str, params: dict, when: float) -> dict:
        with self.store.clock.frozen_at(when):
            try:
                return protocol.apply(ctx, operation, params)
            except errors.ServiceError as exc:
                raise fault(self.source, path, f"{operation} refused it: {exc.code}: {exc.message}") from None

    def build(self, plan: list[_Registry]) -> None:
        for registry in plan:
            ctx = RequestContext(self.store, self.config, registry.account, registry.region)
            if registry.policy is not None:
                self.call(ctx, registry.path + ("policy",), "PutRegistryPolicy", {"policyText": registry.policy},
                          self.now)
            for repo in registry.repositories:
                self.repository(ctx, repo)

    def repository(self, ctx: RequestContext, repo: _Repository) -> None:
        pushes = [image.pushed_at for image in repo.images if image.pushed_at is not None]
        created = repo.created_at or min(pushes, default=self.now)
        self.call(ctx, repo.path, "CreateRepository", repo.create, created)
        name = repo.create["repositoryName"]
        if repo.policy is not None:
            self.call(ctx, repo.path + ("policy",), "SetRepositoryPolicy",
                      {"repositoryName": name, "policyText": repo.policy}, created)
        if repo.lifecycle_policy is not None:
            self.call(ctx, repo.path + ("lifecycle_policy",), "PutLifecyclePolicy",
                      {"repositoryName": name, "lifecyclePolicyText": repo.lifecycle_policy}, created)
        for index, image in enumerate(repo.images):
            self.image(ctx, name, index, image)

    def image(self, ctx: RequestContext, name: str, index: int, image: _Image) -> None:
        blobs = self.store.blob_store()
        pushed = image.pushed_at if image.pushed_at is not None else self.now
        created = datetime.datetime.fromtimestamp(pushed, datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        child_type = seed_images.LISTS.get(image.media_type, image.media_type)
        children = []
        for platform_name in image.platforms:
            platform = seed_images.platform_of(platform_name)
            layers = []
            diff_ids: list[str] = []
            for position, size in enumerate(image.layers):
                layer = seed_images.Layer(size, f"{ctx.account}/{ctx.region}/{name}/{index}/{platform_name}/"
                                                f"{position}")
                layers.append(blobs.put(ctx.account, ctx.region, layer))
                diff_ids.append(layer.diff_id)
            config = seed_images.config_blob(platform, diff_ids, created)
            config_ref = blobs.put(ctx.account, ctx.region, [config])
            registry = self.store.registry(ctx.account, ctx.region)
            for digest, _ in (*layers, config_ref):
                blob_links.grant(self.store, registry, name, digest, journal=False)
            children.append((seed_images.image_manifest(child_type, config_ref, layers), platform))
        if image.media_type in seed_images.LISTS:
            for manifest, _ in children:
                self.put(ctx, image, name, manifest, child_type, None, pushed)
            top = seed_images.list_manifest(image.media_type, children)
        else:
            top = children[0][0]
        for tag in image.tags or [None]:
            self.put(ctx, image, name, top, image.media_type, tag, pushed)

    def put(self, ctx: RequestContext, image: _Image, name: str, manifest: bytes, media_type: str, tag, when):
        params = {"repositoryName": name, "imageManifest": manifest.decode(), "imageManifestMediaType": media_type}
        if tag is not None:
            params["imageTag"] = tag
        path = image.path + (("tags", image.tags.index(tag)) if tag is not None else ())
        self.call(ctx, path, "PutImage", params, when)
