"""Layers belong to the repositories that received them: the same layer pushed to two repositories, then deleted,
checked and mounted across them, through boto3 and the /v2 API; ownership across restarts, archives and state written
before it existed."""

import base64
import hashlib
import json
import pathlib
import subprocess
import sys
import urllib.request

import pytest

import sample_manifests as m
from ecr_emulator.models import blob_links
from ecr_emulator.models.repository import Repository
from ecr_emulator.models.store import Store
from ecr_emulator.registry.blob_store import BlobStore
from ecr_emulator.state import codec, persistence
from ecr_emulator.testing import running_server
from oci_layout import write_layout
from registry_client import RegistryClient

ACCOUNT = "123456789012"
LAYER = b"a layer both repositories push " * 100
CONFIG = b'{"architecture":"amd64","os":"linux"}'


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_of(config: bytes = CONFIG, layer: bytes = LAYER,
                layer_type: str = "application/vnd.oci.image.layer.v1.tar+gzip") -> str:
    return json.dumps({"schemaVersion": 2, "mediaType": m.OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                                  "size": len(config)},
                       "layers": [{"mediaType": layer_type, "digest": sha(layer), "size": len(layer)}]})


def push_image(reg: RegistryClient, name: str, tag: str = "v1", **kwargs) -> None:
    """Push config, layer and manifest through /v2, as a registry client does."""
    reg.push_blob(name, kwargs.get("config", CONFIG))
    reg.push_blob(name, kwargs.get("layer", LAYER))
    status, _, body = reg.request("PUT", f"/v2/{name}/manifests/{tag}", body=manifest_of(**kwargs).encode(),
                                  headers={"Content-Type": m.OCI_MANIFEST})
    assert status == 201, body


def head(reg: RegistryClient, name: str, digest: str) -> int:
    return reg.request("HEAD", f"/v2/{name}/blobs/{digest}")[0]


def available(ecr, name: str, digest: str) -> bool:
    reply = ecr.batch_check_layer_availability(repositoryName=name, layerDigests=[digest])
    return [layer["layerDigest"] for layer in reply["layers"]] == [digest]


@pytest.fixture
def reg(ecr_emulator, ecr):
    for name in ("team/app", "team/other", "team/empty"):
        ecr.create_repository(repositoryName=name)
    return RegistryClient(ecr_emulator.endpoint, ecr)


def test_a_layer_is_seen_only_through_the_repositories_that_received_it(reg, ecr):
    digest = reg.push_blob("team/app", LAYER)
    assert head(reg, "team/app", digest) == 200
    status, _, body = reg.json("GET", f"/v2/team/other/blobs/{digest}")
    assert status == 404 and body["errors"][0]["code"] == "BLOB_UNKNOWN"
    assert head(reg, "team/other", digest) == 404
    assert available(ecr, "team/app", digest)
    reply = ecr.batch_check_layer_availability(repositoryName="team/other", layerDigests=[digest])
    assert reply["layers"] == [] and reply["failures"][0]["failureCode"] == "MissingLayerDigest"
    ecr.get_download_url_for_layer(repositoryName="team/app", layerDigest=digest)
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.get_download_url_for_layer(repositoryName="team/other", layerDigest=digest)


def test_a_blob_delete_is_unsupported_and_never_touches_another_repository(reg, ecr):
    push_image(reg, "team/app")
    push_image(reg, "team/other")
    for name in ("team/empty", "team/other", "team/app"):
        status, headers, body = reg.request("DELETE", f"/v2/{name}/blobs/{sha(LAYER)}")
        assert status == 405 and json.loads(body)["errors"][0]["code"] == "UNSUPPORTED"
    for name in ("team/app", "team/other"):
        status, _, body = reg.request("GET", f"/v2/{name}/blobs/{sha(LAYER)}")
        assert status == 200 and body == LAYER
        assert available(ecr, name, sha(LAYER))
    assert head(reg, "team/empty", sha(LAYER)) == 404
    # With mounting disabled, a mount into a repository that already holds the blob needs nothing; into one that
    # lacks it, it is an upload.
    assert mount(reg, "team/other", sha(LAYER))[0] == 201
    assert mount(reg, "team/empty", sha(LAYER))[0] == 202


def test_deleting_a_repository_keeps_the_layer_of_another_and_its_image_pullable(reg, ecr):
    push_image(reg, "team/app")
    push_image(reg, "team/other")
    ecr.delete_repository(repositoryName="team/app", force=True)
    status, _, body = reg.request("GET", f"/v2/team/other/blobs/{sha(LAYER)}")
    assert status == 200 and body == LAYER
    assert available(ecr, "team/other", sha(LAYER))
    # A repository made again under the deleted name starts without the layers of its predecessor.
    ecr.create_repository(repositoryName="team/app")
    assert head(reg, "team/app", sha(LAYER)) == 404


def test_deleting_an_image_leaves_its_layers_in_the_repository(reg, ecr):
    push_image(reg, "team/app")
    ecr.batch_delete_image(repositoryName="team/app", imageIds=[{"imageTag": "v1"}])
    assert head(reg, "team/app", sha(LAYER)) == 200
    assert available(ecr, "team/app", sha(LAYER))


def mount(reg: RegistryClient, name: str, digest: str, source: str | None = "team/app"):
    query = f"mount={digest}" + (f"&from={source}" if source else "")
    status, headers, _ = reg.request("POST", f"/v2/{name}/blobs/uploads/?{query}")
    return status, headers


def test_a_mount_is_refused_unless_blob_mounting_is_enabled_and_falls_back_to_an_upload(reg, ecr):
    assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"
    digest = reg.push_blob("team/app", LAYER)
    status, headers = mount(reg, "team/other", digest)
    assert status == 202 and "/v2/team/other/blobs/uploads/" in headers["Location"]
    assert head(reg, "team/other", digest) == 404
    # The session it answered is a real upload: finishing it gives the repository its own copy.
    location = headers["Location"]
    assert reg.request("PUT", f"{location}?digest={digest}", body=LAYER)[0] == 201
    assert head(reg, "team/other", digest) == 200


def test_an_enabled_mount_gives_the_layer_to_the_target_only(reg, ecr):
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    digest = reg.push_blob("team/app", LAYER)
    status, headers = mount(reg, "team/other", digest)
    assert status == 201 and headers["Location"] == f"/v2/team/other/blobs/{digest}"
    assert headers["Docker-Content-Digest"] == digest
    assert head(reg, "team/other", digest) == 200 and available(ecr, "team/other", digest)
    assert head(reg, "team/empty", digest) == 404
    # Disabling the setting leaves mounted layers mounted, as AWS documents, but mounts no more.
    ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
    assert head(reg, "team/other", digest) == 200
    assert mount(reg, "team/empty", digest)[0] == 202


def test_a_mount_from_a_repository_that_lacks_the_blob_is_refused(reg, ecr):
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    digest = reg.push_blob("team/app", LAYER)
    assert mount(reg, "team/other", digest, source="team/empty")[0] == 202
    assert mount(reg, "team/other", digest, source="no/such")[0] == 202
    assert mount(reg, "team/other", sha(b"never pushed"))[0] == 202
    assert head(reg, "team/other", digest) == 404
    # Without "from", any repository of the registry that holds the blob will do.
    assert mount(reg, "team/other", digest, source=None)[0] == 201


def test_a_mount_needs_identical_encryption(reg, ecr):
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    ecr.create_repository(repositoryName="team/kms", encryptionConfiguration={"encryptionType": "KMS"})
    digest = reg.push_blob("team/app", LAYER)
    assert mount(reg, "team/kms", digest)[0] == 202
    assert head(reg, "team/kms", digest) == 404


def test_a_mount_stays_in_its_registry(ecr_emulator, reg, ecr, other):
    for client in (ecr, other):
        client.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    other.create_repository(repositoryName="team/app")
    there = RegistryClient(ecr_emulator.endpoint, other)
    digest = reg.push_blob("team/app", LAYER)
    assert mount(there, "team/app", digest)[0] == 202
    assert head(there, "team/app", digest) == 404


def upload_layer(ecr, name: str, data: bytes) -> dict:
    upload_id = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    ecr.upload_layer_part(repositoryName=name, uploadId=upload_id, partFirstByte=0, partLastByte=len(data) - 1,
                          layerPartBlob=data)
    return ecr.complete_layer_upload(repositoryName=name, uploadId=upload_id, layerDigests=[sha(data)])


def test_the_layer_api_uploads_the_same_layer_into_each_repository(reg, ecr):
    upload_layer(ecr, "team/app", LAYER)
    assert not available(ecr, "team/other", sha(LAYER))
    assert upload_layer(ecr, "team/other", LAYER)["layerDigest"] == sha(LAYER)
    assert available(ecr, "team/other", sha(LAYER))
    with pytest.raises(ecr.exceptions.LayerAlreadyExistsException):
        upload_layer(ecr, "team/other", LAYER)
    url = ecr.get_download_url_for_layer(repositoryName="team/other", layerDigest=sha(LAYER))["downloadUrl"]
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == LAYER


def test_availability_reports_the_media_types_the_manifests_give(reg, ecr):
    push_image(reg, "team/app", layer_type="application/vnd.oci.image.layer.v1.tar+zstd")
    docker_layer = b"pushed through a docker manifest"
    reg.push_blob("team/app", docker_layer)
    ecr.put_image(repositoryName="team/app", imageTag="docker", imageManifest=json.dumps({
        "schemaVersion": 2, "mediaType": m.DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha(CONFIG),
                   "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha(docker_layer),
                    "size": len(docker_layer)}]}))
    loose = reg.push_blob("team/app", b"named by no manifest")
    reply = ecr.batch_check_layer_availability(repositoryName="team/app",
                                               layerDigests=[sha(LAYER), sha(CONFIG), sha(docker_layer), loose])
    types = {layer["layerDigest"]: layer.get("mediaType") for layer in reply["layers"]}
    assert types == {sha(LAYER): "application/vnd.oci.image.layer.v1.tar+zstd",
                     sha(CONFIG): "application/vnd.oci.image.config.v1+json",
                     sha(docker_layer): "application/vnd.docker.image.rootfs.diff.tar.gzip", loose: None}


def test_strict_push_needs_the_layers_in_its_own_repository(tmp_path):
    with running_server("--strict-layers") as server:
        ecr = server.client()
        for name in ("team/app", "team/other"):
            ecr.create_repository(repositoryName=name)
        reg = RegistryClient(server.endpoint, ecr)
        reg.push_blob("team/app", CONFIG)
        reg.push_blob("team/app", LAYER)
        with pytest.raises(ecr.exceptions.LayersNotFoundException):
            ecr.put_image(repositoryName="team/other", imageManifest=manifest_of(), imageTag="v1")
        ecr.put_image(repositoryName="team/app", imageManifest=manifest_of(), imageTag="v1")


def test_replication_copies_only_what_the_source_repository_holds(ecr_emulator, reg, ecr, away):
    ecr.put_replication_configuration(replicationConfiguration={"rules": [
        {"destinations": [{"region": "eu-west-1", "registryId": ACCOUNT}]}]})
    reg.push_blob("team/app", CONFIG)
    reg.push_blob("team/other", LAYER)
    ecr.put_image(repositoryName="team/app", imageManifest=manifest_of(), imageTag="v1")
    there = RegistryClient(ecr_emulator.endpoint, away)
    assert (head(there, "team/app", sha(CONFIG)), head(there, "team/app", sha(LAYER))) == (200, 404)
    away.create_repository(repositoryName="team/other")
    assert head(there, "team/other", sha(CONFIG)) == 404


def blob_file(state: pathlib.Path, digest: str) -> pathlib.Path:
    hex_ = digest[7:]
    return state / "blobs" / ACCOUNT / "us-east-1" / "sha256" / hex_[:2] / hex_


def test_the_file_goes_with_the_last_repository_that_holds_it(tmp_path):
    state = tmp_path / "state"
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        for name in ("team/app", "team/other"):
            ecr.create_repository(repositoryName=name)
        reg = RegistryClient(server.endpoint, ecr)
        push_image(reg, "team/app")
        push_image(reg, "team/other")
        ecr.delete_repository(repositoryName="team/app", force=True)
        assert blob_file(state, sha(LAYER)).read_bytes() == LAYER
        ecr.delete_repository(repositoryName="team/other", force=True)
        assert not blob_file(state, sha(LAYER)).exists()


def test_a_file_an_upload_is_finishing_outlives_its_last_repository(tmp_path):
    """The grant an upload makes after its file is in place can follow the deletion of the file's last holder; the
    file stays for it. A claim that ends with no holder (a failed upload) leaves no file behind."""
    store = Store()
    store.blobs = BlobStore(tmp_path, durable=False)
    registry = store.registry(ACCOUNT, "us-east-1")
    repo = registry.repositories["team/app"] = Repository(ACCOUNT, "us-east-1", "team/app", 0.0)
    digest, _ = store.blobs.put(ACCOUNT, "us-east-1", [LAYER])
    blob_links.grant(store, registry, "team/app", digest)
    with blob_links.claiming(store, registry, digest):
        del registry.repositories["team/app"]
        blob_links.drop_repository(store, repo)
        assert store.blobs.exists(ACCOUNT, "us-east-1", digest)
        blob_links.grant(store, registry, "team/other", digest)
    assert store.blobs.exists(ACCOUNT, "us-east-1", digest)
    orphan, _ = store.blobs.put(ACCOUNT, "us-east-1", [b"an upload nobody came to hold"])
    with blob_links.claiming(store, registry, orphan):
        pass
    assert not store.blobs.exists(ACCOUNT, "us-east-1", orphan)


def test_with_a_journal_files_go_only_once_the_deletion_is_committed(tmp_path):
    """A crash between a repository's deletion and its journal record brings the repository back; its files must
    still be there."""
    store = Store()
    store.blobs = BlobStore(tmp_path, durable=False)
    store.persistence = object()  # only its presence matters here: nothing is appended by a drop
    store.subscribe("committed", lambda: blob_links.collect_dropped(store))
    registry = store.registry(ACCOUNT, "us-east-1")
    repo = registry.repositories["team/app"] = Repository(ACCOUNT, "us-east-1", "team/app", 0.0)
    digest, _ = store.blobs.put(ACCOUNT, "us-east-1", [LAYER])
    registry.blob_links["team/app"] = {digest}
    del registry.repositories["team/app"]
    blob_links.drop_repository(store, repo)
    assert store.blobs.exists(ACCOUNT, "us-east-1", digest)
    store.notify("committed")
    assert not store.blobs.exists(ACCOUNT, "us-east-1", digest)


def test_opening_a_state_directory_removes_files_no_repository_holds(tmp_path):
    state = tmp_path / "state"
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="team/app")
        digest = RegistryClient(server.endpoint, ecr).push_blob("team/app", LAYER)
    stray = blob_file(state, sha(b"left by a crash before its grant"))
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left by a crash before its grant")
    with running_server("--state-dir", str(state)) as server:
        assert head(RegistryClient(server.endpoint, server.client()), "team/app", digest) == 200
    assert not stray.exists() and blob_file(state, digest).exists()


def test_ownership_survives_a_restart(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        for name in ("team/app", "team/other", "team/empty", "team/layers"):
            ecr.create_repository(repositoryName=name)
        ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
        reg = RegistryClient(server.endpoint, ecr)
        digest = reg.push_blob("team/app", LAYER)
        assert mount(reg, "team/other", digest)[0] == 201
        upload_layer(ecr, "team/layers", b"through the layer api")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        reg = RegistryClient(server.endpoint, ecr)
        assert [head(reg, name, digest) for name in ("team/app", "team/other", "team/empty")] == [200, 200, 404]
        assert available(ecr, "team/layers", sha(b"through the layer api"))
        assert not available(ecr, "team/app", sha(b"through the layer api"))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecr_emulator", *args], capture_output=True, text=True, timeout=120)


def test_ownership_travels_in_an_archive(tmp_path):
    archive = str(tmp_path / "emulator.tar")
    with running_server() as source:
        ecr = source.client()
        for name in ("team/app", "team/other"):
            ecr.create_repository(repositoryName=name)
        digest = RegistryClient(source.endpoint, ecr).push_blob("team/app", LAYER)
        assert cli("export", archive, "--endpoint", source.endpoint).returncode == 0
    with running_server() as target:
        assert cli("import", archive, "--endpoint", target.endpoint).returncode == 0
        reg = RegistryClient(target.endpoint, target.client())
        assert (head(reg, "team/app", digest), head(reg, "team/other", digest)) == (200, 404)


def assert_each_repository_holds_what_its_images_name(state) -> None:
    """A server on ``state`` serves team/app's image blobs through team/app and nothing of them through team/other."""
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        reg = RegistryClient(server.endpoint, ecr)
        status, _, body = reg.request("GET", f"/v2/team/app/blobs/{sha(LAYER)}")
        assert status == 200 and body == LAYER
        assert available(ecr, "team/app", sha(CONFIG))
        assert head(reg, "team/other", sha(LAYER)) == 404


def test_a_state_directory_written_before_ownership_is_still_read(tmp_path):
    """Such a state has blob files and journaled pushes but no record of who received what: each repository holds
    the blobs its images name."""
    state = tmp_path / "state"
    for data in (CONFIG, LAYER):
        path = blob_file(state, sha(data))
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
    records = [{"op": "CreateRepository", "params": {"repositoryName": name}} for name in ("team/app", "team/other")]
    records.append({"op": "PutImage", "params": {"repositoryName": "team/app", "imageManifest": manifest_of(),
                                                 "imageTag": "v1"}})
    (state / "journal.0").write_bytes(codec.journal_header(0) + b"".join(codec.encode_record(
        {"account": ACCOUNT, "region": "us-east-1", "now": 1.7e9, **record}) for record in records))
    assert_each_repository_holds_what_its_images_name(state)


def test_a_snapshot_written_before_ownership_is_still_read(tmp_path):
    state = tmp_path / "state"
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        for name in ("team/app", "team/other"):
            ecr.create_repository(repositoryName=name)
        push_image(RegistryClient(server.endpoint, ecr), "team/app")
    with running_server("--state-dir", str(state)):
        pass  # starting folds the journal into the snapshot
    snapshot = state / persistence.SNAPSHOT
    with open(snapshot, "rb") as f:
        registries, generation = codec.read_snapshot(f, str(snapshot))
    for registry in registries.values():
        del registry.blob_links
    snapshot.write_bytes(b"".join(codec.snapshot_records(registries, generation)))
    assert_each_repository_holds_what_its_images_name(state)


@pytest.mark.parametrize("mounting", ["DISABLED", "ENABLED"])
def test_skopeo_copies_between_repositories_and_each_keeps_its_own_layers(skopeo, ecr_emulator, ecr, tmp_path,
                                                                          mounting):
    for name in ("e2e/app", "e2e/other", "e2e/manifest-only"):
        ecr.create_repository(repositoryName=name)
    ecr.put_account_setting(name="BLOB_MOUNTING", value=mounting)
    token = ecr.get_authorization_token()["authorizationData"][0]
    creds = base64.b64decode(token["authorizationToken"]).decode()
    host = token["proxyEndpoint"].removeprefix("http://")
    tls = ["--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", creds, "--dest-creds", creds]
    write_layout(tmp_path / "in")
    skopeo("copy", *tls, f"oci:{tmp_path / 'in'}:latest", f"docker://{host}/e2e/app:v1")

    # The manifest alone, put through the JSON API, does not make another repository's layers pullable.
    [image] = ecr.batch_get_image(repositoryName="e2e/app", imageIds=[{"imageTag": "v1"}])["images"]
    ecr.put_image(repositoryName="e2e/manifest-only", imageManifest=image["imageManifest"], imageTag="v1")
    result = skopeo("copy", *tls, f"docker://{host}/e2e/manifest-only:v1", f"oci:{tmp_path / 'none'}:v1",
                    check=False)
    assert result.returncode != 0 and "reading blob" in result.stderr and "404" in result.stderr

    # A copy between repositories (mounted, or uploaded when mounting is refused) gives the target its own layers,
    # which outlive the repository they came from.
    copied = skopeo("--debug", "copy", *tls, f"docker://{host}/e2e/app:v1", f"docker://{host}/e2e/other:v1")
    assert ("mount OK" in copied.stderr) == (mounting == "ENABLED")
    ecr.delete_repository(repositoryName="e2e/app", force=True)
    skopeo("copy", *tls, f"docker://{host}/e2e/other:v1", f"oci:{tmp_path / 'out'}:v1")
    pushed = json.loads(image["imageManifest"])
    for blob in [pushed["config"], *pushed["layers"]]:
        data = (tmp_path / "out" / "blobs" / "sha256" / blob["digest"].split(":")[1]).read_bytes()
        assert sha(data) == blob["digest"]
