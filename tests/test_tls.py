"""HTTPS on the HTTP port: the local CA and its SNI leaves, user certificates, `ecr-emulator ca`, and boto3, the aws
CLI and skopeo trusting the CA as each client does (AWS_CA_BUNDLE, AWS_ENDPOINT_URL_ECR, --cert-dir)."""

import base64
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.parse

import boto3
import botocore.config
import pytest

from helpers import require_tool
from oci_layout import write_layout
from registry_client import RegistryClient
from tls_servers import emulator

ACCOUNT = "123456789012"


@pytest.fixture
def ca_dir(tmp_path):
    return tmp_path / "ca"


@pytest.fixture
def server(ca_dir):
    with emulator("--tls", "--ca-dir", str(ca_dir)) as running:
        yield running


def https(server) -> str:
    return server.endpoint.replace("http://", "https://")


def peer_names(server, ca_file, server_name: str) -> list[str]:
    """The DNS and IP names of the certificate the server presents to a client that sends ``server_name``."""
    context = ssl.create_default_context(cafile=str(ca_file))
    parts = urllib.parse.urlsplit(server.endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            return [value for _, value in tls.getpeercert()["subjectAltName"]]


def test_leaf_certificates_follow_sni_for_names_this_server_answers(server, ca_dir):
    ca = ca_dir / "ca.crt"
    registry = f"{ACCOUNT}.dkr.ecr.eu-west-1.localhost"
    assert peer_names(server, ca, registry) == [registry]
    assert peer_names(server, ca, "api.ecr.us-east-1.amazonaws.com") == ["api.ecr.us-east-1.amazonaws.com"]
    assert peer_names(server, ca, "localhost") == ["localhost", "127.0.0.1", "0:0:0:0:0:0:0:1"]
    # A name the server does not answer as AWS's gets the default leaf, which a verifying client refuses.
    with pytest.raises(ssl.SSLCertVerificationError):
        peer_names(server, ca, "registry.example.com")
    # The CA directory holds the certificate and, apart, its key (so it can be a --cert-dir as it is).
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.crt", "private"]
    assert (ca_dir / "private" / "ca.key").stat().st_mode & 0o077 == 0


def test_plain_http_and_https_share_the_port(server, ca_dir):
    import urllib.request

    with urllib.request.urlopen(server.endpoint + "/_emulator/health", timeout=10) as reply:
        assert json.loads(reply.read())["status"] == "ok"
    context = ssl.create_default_context(cafile=str(ca_dir / "ca.crt"))
    with urllib.request.urlopen(https(server) + "/_emulator/health", timeout=10, context=context) as reply:
        assert json.loads(reply.read())["status"] == "ok"


def test_blobs_stream_over_https(server, ca_dir):
    """Whole-blob replies leave through sendfile over plain HTTP; over TLS they must go through the TLS layer."""
    ecr = server.client()
    ecr.create_repository(repositoryName="big")
    reg = RegistryClient(server.endpoint, ecr)
    data = os.urandom(3 * 1024 * 1024 + 7)
    digest = reg.push_blob("big", data)
    parts = urllib.parse.urlsplit(server.endpoint)
    import http.client

    conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=60,
                                       context=ssl.create_default_context(cafile=str(ca_dir / "ca.crt")))
    conn.request("GET", f"/v2/big/blobs/{digest}", headers={"Authorization": reg.auth})
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    assert reply.status == 200 and hashlib.sha256(body).hexdigest() == digest.split(":")[1]


def test_the_ca_is_kept_and_reused(ca_dir):
    with emulator("--tls", "--ca-dir", str(ca_dir)):
        first = (ca_dir / "ca.crt").read_bytes()
    with emulator("--tls", "--ca-dir", str(ca_dir)):
        assert (ca_dir / "ca.crt").read_bytes() == first


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ecr_emulator", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_ca_command_prints_where_the_ca_is_and_how_to_trust_it(tmp_path):
    state = tmp_path / "state"
    result = cli("ca", "--state-dir", str(state), "--registry-domain", "localhost", "--port", "8443")
    assert result.returncode == 0, result.stderr
    cert = state / "ca" / "ca.crt"
    assert cert.is_file()
    out = result.stdout
    assert f"CA certificate: {cert}" in out
    assert f"export AWS_CA_BUNDLE={cert}" in out and f"export SSL_CERT_FILE={cert}" in out
    assert f"--cert-dir {cert.parent}" in out
    assert f"/etc/docker/certs.d/{ACCOUNT}.dkr.ecr.us-east-1.localhost:8443/ca.crt" in out
    # Without a state directory or --ca-dir the CA lives in the user's cache directory.
    result = cli("ca", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert f"CA certificate: {tmp_path / 'cache' / 'ecr-emulator' / 'ca' / 'ca.crt'}" in result.stdout


def test_user_supplied_certificate(tmp_path, ca_dir):
    from ecr_emulator.server.tls import CertificateAuthority

    authority = CertificateAuthority(ca_dir)
    cert, key = authority.issue(["registry.test", "127.0.0.1"])
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    with emulator("--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")) as running:
        assert peer_names(running, ca_dir / "ca.crt", "registry.test") == ["registry.test", "127.0.0.1"]


def test_an_unusable_certificate_is_a_one_line_error(tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    result = cli("--port", "0", "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"))
    assert result.returncode == 2
    assert result.stderr.startswith("ecr-emulator: error: cannot use --tls-cert") and "Traceback" not in result.stderr
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "ca.crt").write_text("garbage")
    result = cli("ca", "--ca-dir", str(tmp_path / "ca"))
    assert result.returncode == 2 and "is not readable PEM" in result.stderr and "Traceback" not in result.stderr


def test_boto3_with_aws_endpoint_url_ecr_and_aws_ca_bundle(server, ca_dir, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", https(server))
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca_dir / "ca.crt"))
    ecr = boto3.client("ecr", region_name="us-east-1", aws_access_key_id=ACCOUNT, aws_secret_access_key="x",
                       config=botocore.config.Config(retries={"max_attempts": 1}))
    assert ecr.meta.endpoint_url == https(server)
    assert ecr.create_repository(repositoryName="over-tls")["repository"]["repositoryName"] == "over-tls"
    proxy = ecr.get_authorization_token()["authorizationData"][0]["proxyEndpoint"]
    assert proxy == https(server)
    # Without the CA bundle the certificate is refused.
    monkeypatch.delenv("AWS_CA_BUNDLE")
    untrusting = boto3.client("ecr", region_name="us-east-1", aws_access_key_id=ACCOUNT, aws_secret_access_key="x",
                              config=botocore.config.Config(retries={"max_attempts": 1}))
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        untrusting.describe_repositories()


def test_aws_cli_with_aws_endpoint_url_ecr_and_aws_ca_bundle(server, ca_dir, tmp_path):
    aws = require_tool("aws")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": ACCOUNT,
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_ECR": https(server),
           "AWS_CA_BUNDLE": str(ca_dir / "ca.crt")}
    created = subprocess.run([aws, "ecr", "create-repository", "--repository-name", "from-cli"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["repository"]["repositoryName"] == "from-cli"
    password = subprocess.run([aws, "ecr", "get-login-password"], env=env, capture_output=True, text=True,
                              timeout=120)
    assert password.returncode == 0 and password.stdout.strip().startswith(f"{ACCOUNT}.{ACCOUNT}.us-east-1.")


def test_skopeo_over_https_with_cert_dir(skopeo, server, ca_dir, tmp_path):
    ecr = server.client()
    ecr.create_repository(repositoryName="tls/app")
    token = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode()
    host = urllib.parse.urlsplit(server.endpoint).netloc
    layout = tmp_path / "layout"
    write_layout(layout)
    skopeo("copy", "--dest-cert-dir", str(ca_dir), "--dest-creds", token, f"oci:{layout}:latest",
           f"docker://{host}/tls/app:v1")
    raw = skopeo("inspect", "--raw", "--cert-dir", str(ca_dir), "--creds", token,
                 f"docker://{host}/tls/app:v1").stdout.encode()
    [detail] = ecr.describe_images(repositoryName="tls/app")["imageDetails"]
    assert detail["imageDigest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    # Without the CA, skopeo refuses the certificate rather than falling back to plain HTTP.
    refused = skopeo("inspect", "--raw", "--creds", token, f"docker://{host}/tls/app:v1", check=False)
    assert refused.returncode != 0 and "certificate" in refused.stderr


def test_without_tls_a_handshake_is_still_refused_at_once():
    """Plain HTTP as before: no flags, no TLS; a client trying HTTPS is hung up on, as insecure clients expect."""
    with emulator() as running:
        parts = urllib.parse.urlsplit(running.endpoint)
        context = ssl.create_default_context()
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                context.wrap_socket(raw, server_hostname="localhost")
