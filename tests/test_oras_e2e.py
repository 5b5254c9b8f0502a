"""End to end with oras-py's ECR authenticator, which reads the account and region from the registry's 401
challenge (``Basic realm="https://<account>.dkr.ecr.<region>.amazonaws.com/",service="ecr.amazonaws.com"``) and
fetches a token with boto3's GetAuthorizationToken. oras-py comes with the test extra; without it the test skips,
except under ECR_EMULATOR_REQUIRE_E2E=1."""

import os

import pytest

try:
    from oras import client as oras_client
except ImportError:
    if os.environ.get("ECR_EMULATOR_REQUIRE_E2E") == "1":
        raise
    pytest.skip("oras-py is not installed (pip install oras)", allow_module_level=True)


def test_oras_push_and_pull_through_the_ecr_challenge(ecr_emulator, ecr, tmp_path, monkeypatch):
    for name, value in {"AWS_ENDPOINT_URL": ecr_emulator.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    ecr.create_repository(repositoryName="oras/demo")
    artifact = tmp_path / "artifact.txt"
    artifact.write_text("hello from oras")
    host = ecr_emulator.endpoint.removeprefix("http://")
    monkeypatch.chdir(tmp_path)
    client = oras_client.OrasClient(hostname=host, insecure=True, auth_backend="ecr")

    assert client.push(files=["artifact.txt"], target=f"{host}/oras/demo:v1").status_code == 201
    [detail] = ecr.describe_images(repositoryName="oras/demo")["imageDetails"]
    assert detail["imageTags"] == ["v1"]
    [pulled] = client.pull(target=f"{host}/oras/demo:v1", outdir=str(tmp_path / "out"))
    assert open(pulled).read() == "hello from oras"
