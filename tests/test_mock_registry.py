"""mock_ecr(registry=True): the registry API served from the in-process state on a free 127.0.0.1 port, reached
with skopeo through GetAuthorizationToken's proxyEndpoint. Skipped without skopeo unless ECR_EMULATOR_REQUIRE_E2E=1."""

import base64
import hashlib
import json
import socket
import urllib.request

import pytest

from ecr_emulator import mock_ecr
from oci_layout import write_layout

SEED = {"repositories": [{"name": "seeded/app", "images": [
    {"tags": ["v1"], "media_type": "application/vnd.oci.image.manifest.v1+json", "layers": [300000, 5000]}]}]}


def login(mock) -> tuple[str, str]:
    token = mock.client().get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    return token["proxyEndpoint"], f"{user}:{password}"


def test_proxy_endpoint_is_the_in_process_registry_and_it_stops_with_the_mock():
    with mock_ecr(registry=True) as mock:
        endpoint, creds = login(mock)
        assert endpoint == mock.endpoint and endpoint.startswith("http://127.0.0.1:")
        request = urllib.request.Request(endpoint + "/v2/", headers={
            "Authorization": "Basic " + base64.b64encode(creds.encode()).decode()})
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
        port = int(endpoint.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_without_registry_no_server_runs():
    with mock_ecr() as mock:
        assert mock.endpoint is None


def test_skopeo_pushes_into_and_pulls_from_the_in_process_state(skopeo, tmp_path):
    with mock_ecr(registry=True, seed=SEED) as mock:
        ecr = mock.client()
        ecr.create_repository(repositoryName="pushed/app")
        endpoint, creds = login(mock)
        host = endpoint.removeprefix("http://")

        layout = tmp_path / "in"
        write_layout(layout, layers=1, layer_bytes=64 * 1024)
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout}:latest",
               f"docker://{host}/pushed/app:v1")
        [detail] = ecr.describe_images(repositoryName="pushed/app")["imageDetails"]
        assert detail["imageTags"] == ["v1"]

        out = tmp_path / "out"
        skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{host}/seeded/app:v1",
               f"oci:{out}:v1")
        [seeded] = ecr.batch_get_image(repositoryName="seeded/app", imageIds=[{"imageTag": "v1"}])["images"]
        manifest = json.loads(seeded["imageManifest"])
        assert json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == \
            seeded["imageId"]["imageDigest"]
        for blob in [manifest["config"], *manifest["layers"]]:
            data = (out / "blobs" / "sha256" / blob["digest"].split(":")[1]).read_bytes()
            assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"] and len(data) == blob["size"]

