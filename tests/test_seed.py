"""Seeds: repositories, settings, policies and synthesized images with real blobs, from JSON, TOML or a dict; bad
seeds refused with file, line and path, loading nothing; ``ecr-emulator --seed``."""

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import textwrap

import pytest

from ecr_emulator import mock_ecr
from ecr_emulator.mock import SeedError
from ecr_emulator.seeds.images import MIN_LAYER_SIZE
from ecr_emulator.testing import running_server

LIFECYCLE = {"rules": [{"rulePriority": 1, "description": "old untagged", "selection": {
    "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
    "action": {"type": "expire"}}]}
REGISTRY_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "Replication", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/*"}]}
POLICY = {"Version": "2012-10-17", "Statement": [{"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "*"},
                                                  "Action": ["ecr:BatchGetImage"]}]}

SEED = {
    "version": 1,
    "registries": [{
        "region": "us-east-1",
        "policy": REGISTRY_POLICY,
        "repositories": [{
            "name": "team/app",
            "tag_mutability": "IMMUTABLE",
            "scan_on_push": True,
            "encryption": "KMS",
            "tags": {"env": "dev", "team": "core"},
            "policy": POLICY,
            "lifecycle_policy": LIFECYCLE,
            "created_at": "2024-01-01T00:00:00Z",
            "images": [
                {"tags": ["v1", "latest"], "layers": [5000, 70000], "pushed_at": "2024-01-02T03:04:05Z"},
                {"media_type": "application/vnd.oci.image.index.v1+json", "platforms": ["linux/amd64",
                                                                                        "linux/arm64/v8"],
                 "tags": ["multi"], "layers": [3000], "pushed_at": "2024-02-01T00:00:00"},
            ]}]},
        {"account": "210987654321", "region": "eu-west-1", "repositories": [{"name": "away"}]},
    ],
}


def blob_bytes(mock, digest: str, account="123456789012", region="us-east-1") -> bytes:
    return mock.store.blobs.path(account, region, digest).read_bytes()


def check_image_blobs(mock, manifest: dict, platform: dict | None = None) -> None:
    """Every blob a manifest names is stored under its true digest and size; layers are gzip-compressed tars whose
    uncompressed digests are the config's diff_ids."""
    config_data = blob_bytes(mock, manifest["config"]["digest"])
    assert "sha256:" + hashlib.sha256(config_data).hexdigest() == manifest["config"]["digest"]
    assert len(config_data) == manifest["config"]["size"]
    config = json.loads(config_data)
    if platform:
        assert (config["os"], config["architecture"], config.get("variant")) == (
            platform["os"], platform["architecture"], platform.get("variant"))
    diff_ids = []
    for layer in manifest["layers"]:
        data = blob_bytes(mock, layer["digest"])
        assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"] and len(data) == layer["size"]
        tar = gzip.decompress(data)
        tarfile.open(fileobj=io.BytesIO(tar)).getmembers()
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    assert config["rootfs"]["diff_ids"] == diff_ids


def test_a_seed_dict_declares_repositories_settings_policies_and_images():
    with mock_ecr(seed=SEED) as mock:
        ecr = mock.client()
        [repo] = ecr.describe_repositories(repositoryNames=["team/app"])["repositories"]
        assert repo["imageTagMutability"] == "IMMUTABLE"
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
        assert repo["createdAt"].isoformat() == "2024-01-01T00:00:00+00:00"
        tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
        assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "core")]
        assert json.loads(ecr.get_repository_policy(repositoryName="team/app")["policyText"]) == POLICY
        assert json.loads(ecr.get_registry_policy()["policyText"]) == REGISTRY_POLICY
        assert json.loads(ecr.get_lifecycle_policy(repositoryName="team/app")["lifecyclePolicyText"]) == LIFECYCLE
        assert [r["repositoryName"] for r in mock.client(region="eu-west-1", account="210987654321")
                .describe_repositories()["repositories"]] == ["away"]

        details = {tuple(sorted(d.get("imageTags", []))): d
                   for d in ecr.describe_images(repositoryName="team/app")["imageDetails"]}
        single = details[("latest", "v1")]
        assert single["imageSizeInBytes"] == 75000
        assert single["imagePushedAt"].isoformat() == "2024-01-02T03:04:05+00:00"
        assert single["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        index = details[("multi",)]
        assert index["imageManifestMediaType"] == "application/vnd.oci.image.index.v1+json"
        assert index["imagePushedAt"].isoformat() == "2024-02-01T00:00:00+00:00"
        assert len(details[()]) and len(ecr.describe_images(repositoryName="team/app")["imageDetails"]) == 4

        [got] = ecr.batch_get_image(repositoryName="team/app", imageIds=[{"imageTag": "v1"}])["images"]
        manifest = json.loads(got["imageManifest"])
        assert got["imageId"]["imageDigest"] == "sha256:" + hashlib.sha256(got["imageManifest"].encode()).hexdigest()
        check_image_blobs(mock, manifest, {"os": "linux", "architecture": "amd64"})

        [got] = ecr.batch_get_image(repositoryName="team/app", imageIds=[{"imageTag": "multi"}])["images"]
        entries = json.loads(got["imageManifest"])["manifests"]
        assert [e["platform"] for e in entries] == [{"architecture": "amd64", "os": "linux"},
                                                     {"architecture": "arm64", "os": "linux", "variant": "v8"}]
        for entry in entries:
            [child] = ecr.batch_get_image(repositoryName="team/app",
                                          imageIds=[{"imageDigest": entry["digest"]}])["images"]
            assert child["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json"
            check_image_blobs(mock, json.loads(child["imageManifest"]), entry["platform"])


def test_seeded_digests_are_the_same_on_every_load():
    def digests():
        with mock_ecr(seed=SEED) as mock:
            return sorted(d["imageDigest"] for d in mock.client().describe_images(
                repositoryName="team/app")["imageDetails"])
    assert digests() == digests()


def test_a_seeded_lifecycle_policy_acts_on_seeded_push_times():
    seed = {"repositories": [{"name": "app", "lifecycle_policy": LIFECYCLE, "images": [
        {"pushed_at": "2024-01-01T00:00:00Z"}, {"tags": ["kept"], "pushed_at": "2024-01-01T00:00:00Z"}]}]}
    with mock_ecr(seed=seed) as mock:
        mock.set_clock("2024-01-05T00:00:00Z")
        assert mock.run_lifecycle()["expired"] == []
        mock.set_clock("2024-03-01T00:00:00Z")
        [expired] = mock.run_lifecycle()["expired"]
        assert expired["imageTags"] == []
        [left] = mock.client().describe_images(repositoryName="app")["imageDetails"]
        assert left["imageTags"] == ["kept"]


TOML_SEED = textwrap.dedent("""\
    version = 1

    [[registries]]
    region = "us-west-2"

    [[registries.repositories]]
    name = "svc/api"
    tag_mutability = "MUTABLE"
    tags = { owner = "me" }

    [[registries.repositories.images]]
    tags = ["v2"]
    layers = [4000]
    pushed_at = 2024-05-06T07:08:09Z

    [[registries.repositories.images]]
    media_type = "application/vnd.docker.distribution.manifest.list.v2+json"
    platforms = ["linux/amd64", "linux/arm/v7"]
    tags = ["multi"]
    """)


def test_a_toml_seed_file(tmp_path):
    path = tmp_path / "seed.toml"
    path.write_text(TOML_SEED)
    with mock_ecr(seed=path) as mock:
        ecr = mock.client(region="us-west-2")
        images = ecr.describe_images(repositoryName="svc/api")["imageDetails"]
        by_tag = {tuple(d.get("imageTags", [])): d for d in images}
        assert by_tag[("v2",)]["imagePushedAt"].isoformat() == "2024-05-06T07:08:09+00:00"
        assert by_tag[("v2",)]["imageSizeInBytes"] == 4000
        assert by_tag[("multi",)]["imageManifestMediaType"] == \
            "application/vnd.docker.distribution.manifest.list.v2+json"
        assert len(images) == 4


def test_a_json_seed_file(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED, indent=2))
    with mock_ecr(seed=str(path)) as mock:
        assert len(mock.client().describe_images(repositoryName="team/app")["imageDetails"]) == 4


def _json_lines(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


BAD_SEEDS = [
    ("seed.json", _json_lines("""
        {"repositories": [
          {"name": "ok"},
          {"name": "bad", }
        ]}"""), 3, "not valid JSON"),
    ("seed.json", _json_lines("""
        {"repositories": [
          {"name": "app",
           "images": [
             {"tags": ["v1"],
              "layer": [4096]}
           ]}
        ]}"""), 5, "repositories[0].images[0].layer: unknown key"),
    ("seed.json", _json_lines("""
        {"repositories": [
          {"name": "app",
           "images": [{"tags": ["v1"]},
                      {"layers": [4096,
                                  12]}]}
        ]}"""), 5, f"repositories[0].images[1].layers[1]: a layer size is a whole number of bytes of at least "
                   f"{MIN_LAYER_SIZE}"),
    ("seed.json", _json_lines("""
        {"repositories": [
          {"name": "app",
           "images": [{"pushed_at": "last tuesday"}]}
        ]}"""), 3, "repositories[0].images[0].pushed_at: not an ISO-8601 time"),
    ("seed.json", _json_lines("""
        {"repositories": [
          {"name": "app"},
          {"name": "other",
           "lifecycle_policy": {"rules": []}}
        ]}"""), 4, "repositories[1].lifecycle_policy: PutLifecyclePolicy refused it: "),
    ("seed.json", _json_lines("""
        {"repositories": [
          {"name": "app"},
          {"name": "app"}
        ]}"""), 3, "repositories[1]: CreateRepository refused it: RepositoryAlreadyExistsException"),
    ("seed.json", _json_lines("""
        {"repositories": [
          {"name": "app", "tag_mutability": "IMMUTABLE",
           "images": [{"tags": ["v1"]},
                      {"tags": ["v1"]}]}
        ]}"""), 4, "repositories[0].images[1].tags[0]: PutImage refused it: ImageTagAlreadyExistsException"),
    ("seed.json", _json_lines("""
        {"version": 2}"""), 1, "unsupported seed version 2"),
    ("seed.json", _json_lines("""
        {"registries": [
          {"region": "eu-west-1"},
          {"region": "us-east-1",
           "policy": {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "iam:PassRole"}]}}
        ]}"""), 4, "registries[1].policy: PutRegistryPolicy refused it: InvalidParameterException"),
    ("seed.toml", textwrap.dedent("""\
        [[repositories]]
        name = "app"
        tags = { env = "dev"
        """), 3, "not valid TOML"),
    ("seed.toml", textwrap.dedent("""\
        [[registries]]
        region = "us-east-1"

        [[registries.repositories]]
        name = "first"

        [[registries.repositories]]
        name = "second"

        [[registries.repositories.images]]
        tags = ["v1"]
        platforms = ["linux/amd64", "linux/arm64"]
        media_type = "application/vnd.oci.image.manifest.v1+json"
        """), 12, "registries[0].repositories[1].images[0].platforms: application/vnd.oci.image.manifest.v1+json "
                  "is one image"),
    ("seed.toml", textwrap.dedent("""\
        [[registries]]
        account = "12345"
        """), 2, "registries[0].account: an account is 12 digits"),
]


@pytest.mark.parametrize("name, text, line, message", BAD_SEEDS, ids=[f"{i}-{b[3][:30]}" for i, b in
                                                                      enumerate(BAD_SEEDS)])
def test_a_bad_seed_names_file_line_and_fault_and_loads_nothing(tmp_path, name, text, line, message):
    path = tmp_path / name
    path.write_text(text)
    with mock_ecr(seed={"repositories": [{"name": "kept", "images": [{"tags": ["v1"]}]}]}) as mock:
        before = sorted(p.name for p in mock.store.blobs.root.rglob("*") if p.is_file())
        with pytest.raises(SeedError) as caught:
            mock.load_seed(path)
        assert str(caught.value).startswith(f"{path}:{line}: ")
        assert message in str(caught.value)
        ecr = mock.client()
        assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["kept"]
        assert ecr.describe_images(repositoryName="kept")["imageDetails"][0]["imageTags"] == ["v1"]
        assert sorted(p.name for p in mock.store.blobs.root.rglob("*") if p.is_file()) == before
    assert not list(tmp_path.glob("seed-*"))


def test_a_bad_seed_given_to_mock_ecr_raises_and_leaves_no_mock_active():
    with pytest.raises(SeedError, match=r"^seed: repositories\[0\]: missing required key 'name'"):
        mock_ecr(seed={"repositories": [{}]}).start()
    with mock_ecr() as mock:
        assert mock.client().describe_repositories()["repositories"] == []


def test_cli_seed_loads_at_start(tmp_path):
    path = tmp_path / "seed.toml"
    path.write_text(TOML_SEED)
    with running_server("--seed", str(path)) as server:
        ecr = server.client(region="us-west-2")
        assert len(ecr.describe_images(repositoryName="svc/api")["imageDetails"]) == 4


def test_cli_bad_seed_is_one_line_and_no_start(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text('{"repositories": [\n  {"name": "app", "images": [{"layers": [1]}]}\n]}\n')
    result = subprocess.run([sys.executable, "-m", "ecr_emulator", "--port", "0", "--seed", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"ecr-emulator: error: bad seed: {path}:2: repositories[0].images[0].layers[0]: a layer size is a whole "
        f"number of bytes of at least {MIN_LAYER_SIZE} (the smallest gzip-compressed tar), not 1; nothing was "
        f"loaded"]


def test_cli_seed_with_a_state_dir_seeds_only_an_empty_state(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"repositories": [{"name": "seeded"}]}))
    state = tmp_path / "state"
    with running_server("--state-dir", str(state), "--seed", str(path)) as server:
        ecr = server.client()
        ecr.delete_repository(repositoryName="seeded")
        ecr.create_repository(repositoryName="mine")
    with running_server("--state-dir", str(state), "--seed", str(path)) as server:
        assert [r["repositoryName"] for r in server.client().describe_repositories()["repositories"]] == ["mine"]


def test_a_seed_loaded_again_is_the_same_state_and_shares_nothing_mutable():
    seed = {"repositories": [{"name": "app", "images": [{"tags": ["v1"], "layers": [200000]}]}]}
    for _ in range(2):
        with mock_ecr(seed=seed) as mock:
            ecr = mock.client()
            [image] = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])["images"]
            check_image_blobs(mock, json.loads(image["imageManifest"]))
            ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
            ecr.create_repository(repositoryName="added")
            mock.reset()
            assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["app"]
            assert ecr.describe_images(repositoryName="app")["imageDetails"][0]["imageTags"] == ["v1"]
