"""Real clients at AWS-shaped registry host names, end to end, each with a private /etc/hosts (see tls_servers):

- skopeo and podman push and pull by the repositoryUri the API returns in the --registry-domain mode, over HTTPS,
  trusting the local CA through --cert-dir (podman after a ``podman login`` with the API's password);
- amazon-ecr-credential-helper (docker-credential-ecr-login) as skopeo's credHelpers for
  <account>.dkr.ecr.<region>.amazonaws.com, with the CA trusted through SSL_CERT_FILE. The Debian package's
  version (0.6.0) takes its ECR endpoint from the registry host name only (its aws-sdk-go-v2 predates
  AWS_ENDPOINT_URL_ECR), so api.ecr.<region>.amazonaws.com and the registry host are pointed at an emulator on port
  443 of a loopback address of the test's own;
- account B pulling account A's image with the helper: refused without a policy, allowed with one.

They need root (unshare --mount); elsewhere they skip, and under ECR_EMULATOR_REQUIRE_E2E=1 they fail.
"""

import base64
import json
import shutil
import subprocess
import tempfile

import pytest

from helpers import require_tool
from oci_layout import write_layout
from tls_servers import emulator, loopback_address, require_private_hosts, run_with_hosts

A, B = "123456789012", "210987654321"


def env_for(home, **extra) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home), **extra}


def test_skopeo_pushes_and_pulls_by_repository_uri_over_https(tmp_path):
    require_private_hosts()
    skopeo = require_tool("skopeo")
    ca = tmp_path / "ca"
    with emulator("--tls", "--ca-dir", str(ca), "--registry-domain", "localhost") as server:
        ecr = server.client()
        uri = ecr.create_repository(repositoryName="team/app")["repository"]["repositoryUri"]
        host = uri.split("/")[0]
        assert host == f"{A}.dkr.ecr.us-east-1.localhost:{server.endpoint.rsplit(':', 1)[1]}"
        data = ecr.get_authorization_token()["authorizationData"][0]
        assert data["proxyEndpoint"] == f"https://{host}"
        creds = base64.b64decode(data["authorizationToken"]).decode()
        hosts_file = tmp_path / "hosts"
        hosts_file.write_text(f"127.0.0.1 localhost {host.split(':')[0]}\n")
        layout = tmp_path / "layout"
        write_layout(layout)
        pushed = run_with_hosts(hosts_file, [skopeo, "--insecure-policy", "copy", "--dest-cert-dir", str(ca),
                                             "--dest-creds", creds, f"oci:{layout}:latest", f"docker://{uri}:v1"],
                                env_for(tmp_path))
        assert pushed.returncode == 0, pushed.stderr
        inspected = run_with_hosts(hosts_file, [skopeo, "inspect", "--cert-dir", str(ca), "--creds", creds,
                                                f"docker://{uri}:v1"], env_for(tmp_path))
        assert inspected.returncode == 0, inspected.stderr
        [detail] = ecr.describe_images(repositoryName="team/app")["imageDetails"]
        assert json.loads(inspected.stdout)["Digest"] == detail["imageDigest"]
        assert detail["imageTags"] == ["v1"]


def test_podman_logs_in_pushes_and_pulls_by_repository_uri_over_https(tmp_path):
    require_private_hosts()
    podman = require_tool("podman")
    ca = tmp_path / "ca"
    # podman wants a run root of at most 50 characters, shorter than pytest's temporary paths.
    runroot = tempfile.TemporaryDirectory(prefix="ecr-podman-", dir="/tmp")
    storage = ["--root", str(tmp_path / "root"), "--runroot", runroot.name, "--storage-driver", "vfs",
               "--events-backend", "none"]
    with runroot, emulator("--tls", "--ca-dir", str(ca), "--registry-domain", "localhost") as server:
        ecr = server.client()
        uri = ecr.create_repository(repositoryName="pod/app")["repository"]["repositoryUri"]
        host = uri.split("/")[0]
        password = base64.b64decode(
            ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode().partition(":")[2]
        hosts_file = tmp_path / "hosts"
        hosts_file.write_text(f"127.0.0.1 localhost {host.split(':')[0]}\n")
        layout = tmp_path / "layout"
        write_layout(layout)
        auth = tmp_path / "auth.json"
        auth.write_text("{}")
        env = env_for(tmp_path, REGISTRY_AUTH_FILE=str(auth))

        def run(*args):
            result = run_with_hosts(hosts_file, [podman, *storage, *args], env)
            assert result.returncode == 0, f"podman {args[0]}: {result.stderr}"
            return result.stdout

        run("pull", f"oci:{layout}:latest")
        run("tag", f"localhost{layout}:latest", f"{uri}:v1")
        login = run_with_hosts(hosts_file, ["sh", "-c", f'echo "$0" | {podman} {" ".join(storage)} login '
                                            f'--cert-dir {ca} --username AWS --password-stdin {host}', password], env)
        assert login.returncode == 0, login.stderr
        assert host in json.loads(auth.read_text())["auths"]
        run("push", "--cert-dir", str(ca), f"{uri}:v1")
        local_id = run("image", "inspect", "--format", "{{.Id}}", f"{uri}:v1").strip()
        run("rmi", "--all", "--force")
        run("pull", "--cert-dir", str(ca), f"{uri}:v1")
        assert run("image", "inspect", "--format", "{{.Id}}", f"{uri}:v1").strip() == local_id
        [detail] = ecr.describe_images(repositoryName="pod/app")["imageDetails"]
        assert detail["imageTags"] == ["v1"]


@pytest.fixture
def aws_hosts(tmp_path):
    """An emulator answering AWS's own host names on port 443 of a private loopback address, and the hosts file
    that points those names at it."""
    require_private_hosts()
    require_tool("skopeo")
    require_tool("docker-credential-ecr-login")
    address = loopback_address()
    ca = tmp_path / "ca"
    with emulator("--tls", "--ca-dir", str(ca), "--registry-domain", "amazonaws.com", host=address,
                  port=443) as server:
        hosts_file = tmp_path / "hosts"
        hosts_file.write_text(f"127.0.0.1 localhost\n{address} api.ecr.us-east-1.amazonaws.com "
                              f"{A}.dkr.ecr.us-east-1.amazonaws.com {B}.dkr.ecr.us-east-1.amazonaws.com\n")
        yield server, hosts_file, ca / "ca.crt"


def helper_run(tmp_path, hosts_file, ca_cert, account: str, *skopeo_args: str):
    """skopeo with the credential helper for A's registry host, as ``account`` (its access key)."""
    home = tmp_path / f"home-{account}"
    home.mkdir(exist_ok=True)
    auth = home / "auth.json"
    auth.write_text(json.dumps({"credHelpers": {f"{A}.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}}))
    env = env_for(home, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="secret", SSL_CERT_FILE=str(ca_cert),
                  AWS_EC2_METADATA_DISABLED="true", REGISTRY_AUTH_FILE=str(auth))
    command, *rest = skopeo_args
    return run_with_hosts(hosts_file, [shutil.which("skopeo"), "--insecure-policy", command, "--authfile", str(auth),
                                       *rest], env)


def test_credential_helper_push_and_cross_account_pull_by_policy(aws_hosts, tmp_path):
    server, hosts_file, ca_cert = aws_hosts
    owner = server.client(access_key=A)
    uri = owner.create_repository(repositoryName="shared/app")["repository"]["repositoryUri"]
    assert uri == f"{A}.dkr.ecr.us-east-1.amazonaws.com/shared/app"
    layout = tmp_path / "layout"
    write_layout(layout)
    pushed = helper_run(tmp_path, hosts_file, ca_cert, A, "copy", f"oci:{layout}:latest", f"docker://{uri}:v1")
    assert pushed.returncode == 0, pushed.stderr
    [detail] = owner.describe_images(repositoryName="shared/app")["imageDetails"]
    assert detail["imageTags"] == ["v1"]

    refused = helper_run(tmp_path, hosts_file, ca_cert, B, "inspect", "--raw", f"docker://{uri}:v1")
    assert refused.returncode != 0
    assert (f"User: arn:aws:iam::{B}:root is not authorized to perform: ecr:BatchGetImage on resource: "
            f"arn:aws:ecr:us-east-1:{A}:repository/shared/app because no resource-based policy allows the "
            "ecr:BatchGetImage action") in refused.stderr

    owner.set_repository_policy(repositoryName="shared/app", policyText=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "PullFromB", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]}))
    out = tmp_path / "pulled"
    pulled = helper_run(tmp_path, hosts_file, ca_cert, B, "copy", f"docker://{uri}:v1", f"oci:{out}:v1")
    assert pulled.returncode == 0, pulled.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["digest"] == detail["imageDigest"]
    # The policy grants pulls only: B's push is refused (its blobs are there already, so at the manifest).
    denied = helper_run(tmp_path, hosts_file, ca_cert, B, "copy", f"oci:{layout}:latest", f"docker://{uri}:fromb")
    assert denied.returncode != 0 and "not authorized to perform: ecr:PutImage" in denied.stderr
    assert [i.get("imageTag") for i in owner.list_images(repositoryName="shared/app")["imageIds"]] == ["v1"]


def test_the_helper_refuses_a_host_that_is_not_aws_shaped(tmp_path):
    """Why the AWS host names: the Debian helper accepts nothing else (so the *.localhost names need plain creds)."""
    helper = require_tool("docker-credential-ecr-login")
    result = subprocess.run([helper, "get"], input=f"{A}.dkr.ecr.us-east-1.localhost:5000", capture_output=True,
                            text=True, env=env_for(tmp_path), timeout=60)
    assert result.returncode != 0
    log = (tmp_path / ".ecr" / "log" / "ecr-login.log").read_text()
    assert "can only be used with Amazon Elastic Container Registry" in log
