"""End to end with skopeo: push an OCI layout with the password from GetAuthorizationToken, inspect it, pull it
back and compare every blob, delete it, and see bad credentials refused. Skipped without skopeo (apt-get install
skopeo) unless ECR_EMULATOR_REQUIRE_E2E=1."""

import base64
import hashlib
import json

import pytest

from oci_layout import write_layout


@pytest.fixture
def registry(ecr_emulator, ecr):
    ecr.create_repository(repositoryName="e2e/app")
    token = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    host = token["proxyEndpoint"].removeprefix("http://")
    return {"host": host, "creds": f"{user}:{password}", "ecr": ecr}


def test_push_inspect_pull_compare_and_delete(skopeo, registry, tmp_path):
    layout = tmp_path / "in"
    write_layout(layout)
    image = f"docker://{registry['host']}/e2e/app:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", registry["creds"], f"oci:{layout}:latest", image)

    raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", registry["creds"], image).stdout.encode()
    pushed = json.loads(raw)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    [detail] = registry["ecr"].describe_images(repositoryName="e2e/app")["imageDetails"]
    assert detail["imageDigest"] == digest and detail["imageTags"] == ["v1"]
    assert detail["imageManifestMediaType"] == pushed["mediaType"]
    assert detail["imageSizeInBytes"] == sum(layer["size"] for layer in pushed["layers"])
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", registry["creds"], image).stdout)
    assert inspected["Digest"] == digest and inspected["Architecture"] == "amd64"

    out = tmp_path / "out"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", registry["creds"], image, f"oci:{out}:v1")
    for blob in [pushed["config"], *pushed["layers"]]:
        data = (out / "blobs" / "sha256" / blob["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"] and len(data) == blob["size"]
    pulled = json.loads((out / "index.json").read_text())["manifests"][0]["digest"]
    assert pulled == digest

    skopeo("delete", "--tls-verify=false", "--creds", registry["creds"], f"docker://{registry['host']}/e2e/app@{digest}")
    assert registry["ecr"].describe_images(repositoryName="e2e/app")["imageDetails"] == []


def test_image_put_through_the_json_api_is_readable_by_skopeo(skopeo, registry):
    ecr = registry["ecr"]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "digest": "sha256:" + "c" * 64, "size": 1},
                           "layers": []})
    ecr.put_image(repositoryName="e2e/app", imageManifest=manifest, imageTag="api")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", registry["creds"],
                 f"docker://{registry['host']}/e2e/app:api").stdout
    assert json.loads(raw) == json.loads(manifest)


@pytest.mark.parametrize("creds", [None, "AWS:not-a-token", "someone:else"])
def test_missing_or_wrong_credentials_are_refused(skopeo, registry, tmp_path, creds):
    layout = tmp_path / "in"
    write_layout(layout, layers=1, layer_bytes=1024)
    args = ["copy", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{registry['host']}/e2e/app:x"]
    if creds:
        args[1:1] = ["--dest-creds", creds]
    result = skopeo(*args, check=False)
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower() or "authentication required" in result.stderr.lower()
    assert registry["ecr"].describe_images(repositoryName="e2e/app")["imageDetails"] == []


def test_pushing_to_a_repository_that_does_not_exist_fails_with_name_unknown(skopeo, registry, tmp_path):
    layout = tmp_path / "in"
    write_layout(layout, layers=1, layer_bytes=1024)
    result = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", registry["creds"], f"oci:{layout}:latest",
                    f"docker://{registry['host']}/missing/repo:x", check=False)
    assert result.returncode != 0 and "name unknown" in result.stderr.lower()


def test_an_archived_image_is_not_found_by_skopeo(skopeo, registry, tmp_path):
    """The ECR User Guide's "Archiving an image" page: pulling an archived image fails with a 404 error."""
    layout = tmp_path / "in"
    write_layout(layout, layers=1, layer_bytes=1024)
    image = f"docker://{registry['host']}/e2e/app:cold"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", registry["creds"], f"oci:{layout}:latest", image)
    registry["ecr"].update_image_storage_class(repositoryName="e2e/app", imageId={"imageTag": "cold"},
                                               targetStorageClass="ARCHIVE")
    result = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", registry["creds"], image, check=False)
    assert result.returncode != 0 and "manifest unknown" in result.stderr.lower()
