"""ecr-emulator export / import: a whole emulator (every registry, image, policy and blob) moves to another server
and survives its restart; a bad archive is refused and changes nothing."""

import io
import json
import subprocess
import sys
import tarfile

import pytest

import sample_manifests as m
from ecr_emulator.testing import running_server
from registry_client import RegistryClient


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecr_emulator", *args], capture_output=True, text=True, timeout=120)


def populate(server) -> bytes:
    ecr = server.client()
    ecr.create_repository(repositoryName="team/app", imageTagMutability="IMMUTABLE")
    ecr.set_repository_policy(repositoryName="team/app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "ecr:BatchGetImage"}]}))
    reg = RegistryClient(server.endpoint, ecr)
    layer = b"layer bytes " * 1000
    config = reg.push_blob("team/app", b'{"os":"linux"}')
    manifest = json.dumps({"schemaVersion": 2, "mediaType": m.OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                                      "size": 14},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": reg.push_blob("team/app", layer), "size": len(layer)}]}).encode()
    assert reg.request("PUT", "/v2/team/app/manifests/v1", body=manifest)[0] == 201
    ecr.put_image(repositoryName="team/app", imageManifest=m.docker("api"), imageTag="api")
    server.client(access_key="210987654321", region="eu-west-1").create_repository(repositoryName="elsewhere")
    return layer


def snapshot(server) -> dict:
    ecr = server.client()
    return {"repositories": ecr.describe_repositories()["repositories"],
            "images": ecr.describe_images(repositoryName="team/app")["imageDetails"],
            "policy": ecr.get_repository_policy(repositoryName="team/app")["policyText"],
            "other": server.client(access_key="210987654321", region="eu-west-1").describe_repositories()[
                "repositories"]}


def test_export_then_import_moves_everything_including_blobs(tmp_path):
    archive = str(tmp_path / "emulator.tar")
    with running_server() as source:
        layer = populate(source)
        before = snapshot(source)
        result = cli("export", archive, "--endpoint", source.endpoint)
        assert result.returncode == 0, result.stderr
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as target:
        result = cli("import", archive, "--endpoint", target.endpoint)
        assert result.returncode == 0, result.stderr
        assert "'repositories': 2" in result.stdout
        assert snapshot(target) == before
    with running_server("--state-dir", state) as restarted:
        assert snapshot(restarted) == before
        reg = RegistryClient(restarted.endpoint, restarted.client())
        _, _, manifest = reg.request("GET", "/v2/team/app/manifests/v1")
        layer_digest = json.loads(manifest)["layers"][0]["digest"]
        status, _, body = reg.request("GET", f"/v2/team/app/blobs/{layer_digest}")
        assert status == 200 and body == layer


def tar_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("archive,fragment", [
    (b"not a tar at all" * 100, "not a readable tar archive"),
    (tar_of({"../../etc/passwd": b"x"}), "unexpected archive member"),
    (tar_of({"blobs/123456789012/us-east-1/sha256/" + "a" * 64: b"wrong bytes"}), "does not match its digest"),
    (tar_of({"state.snapshot": b"\x80\x04junk"}), "state.snapshot: at byte 0: the record is cut short"),
    (tar_of({"state.pickle": b"\x80\x04junk"}), "written by an older ecr-emulator"),
    (tar_of({}), "has no state.snapshot"),
])
def test_a_bad_archive_is_refused_and_changes_nothing(ecr_emulator, ecr, tmp_path, archive, fragment):
    ecr.create_repository(repositoryName="stays")
    path = tmp_path / "bad.tar"
    path.write_bytes(archive)
    result = cli("import", str(path), "--endpoint", ecr_emulator.endpoint)
    assert result.returncode == 1 and "400" in result.stderr and fragment in result.stderr
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["stays"]
