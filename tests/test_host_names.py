"""AWS-shaped host names: a registry per <account>.dkr.ecr.<region>.<domain>, a region per api.ecr.<region>.<domain>,
and the --registry-domain mode in which repositoryUri and proxyEndpoint name this server."""

import json
import urllib.parse

import pytest

import sample_manifests as m
from ecr_emulator.server import hosts
from ecr_emulator.testing import running_server
from helpers import raw_call
from registry_client import RegistryClient

ACCOUNT, OTHER = "123456789012", "210987654321"


@pytest.mark.parametrize("host, expected", [
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com", ("123456789012", "us-east-1")),
    ("123456789012.dkr.ecr.eu-west-2.localhost:5000", ("123456789012", "eu-west-2")),
    ("123456789012.DKR.ECR.us-east-1.LOCALHOST.", ("123456789012", "us-east-1")),
    ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ("123456789012", "us-gov-west-1")),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", ("123456789012", "cn-north-1")),
    ("123456789012.dkr.ecr.us-east-1.example.com", None),
    ("12345678901.dkr.ecr.us-east-1.amazonaws.com", None),
    ("123456789012.dkr.ecr.nowhere.amazonaws.com", None),
    ("127.0.0.1:5000", None),
    ("[::1]:5000", None),
    (None, None),
])
def test_registry_host_names(host, expected):
    assert hosts.registry_of(host, hosts.DEFAULT_DOMAINS) == expected


@pytest.mark.parametrize("host, expected", [
    ("api.ecr.eu-west-1.amazonaws.com", "eu-west-1"),
    ("ecr.ap-southeast-2.localhost:8443", "ap-southeast-2"),
    ("api.ecr.eu-west-1.example.com", None),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com", None),
])
def test_api_host_names(host, expected):
    assert hosts.api_region(host, hosts.DEFAULT_DOMAINS) == expected


def test_unsigned_requests_take_the_region_of_their_api_host(ecr_emulator, ecr):
    ecr.create_repository(repositoryName="east")
    eu = ecr_emulator.server.client(region="eu-west-1")
    eu.create_repository(repositoryName="west")
    for host, names in (("api.ecr.eu-west-1.amazonaws.com", ["west"]), ("ecr.eu-west-1.localhost:5000", ["west"]),
                        ("api.ecr.eu-west-1.example.com", ["east"]), ("127.0.0.1", ["east"])):
        status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", headers={"Host": host})
        assert status == 200 and [r["repositoryName"] for r in body["repositories"]] == names, host
    # A signed request keeps the region of its signature.
    eu_signed = ecr_emulator.server.client(region="eu-west-1")
    assert [r["repositoryName"] for r in eu_signed.describe_repositories()["repositories"]] == ["west"]


def test_a_registry_host_addresses_that_registry(ecr_emulator, ecr, other):
    """The same password reaches the caller's registry by default and the registry its host names."""
    other.create_repository(repositoryName="theirs")
    other.set_repository_policy(repositoryName="theirs", policyText=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "ecr:*"}]}))
    ecr.create_repository(repositoryName="mine")
    reg = RegistryClient(ecr_emulator.endpoint, ecr)
    assert reg.json("GET", "/v2/_catalog")[2]["repositories"] == ["mine"]
    status, _, body = reg.json("GET", "/v2/theirs/tags/list")
    assert status == 404 and body["errors"][0]["code"] == "NAME_UNKNOWN"
    at_other = {"Host": f"{OTHER}.dkr.ecr.us-east-1.localhost:5000"}
    status, _, body = reg.json("GET", "/v2/theirs/tags/list", headers=at_other)
    assert (status, body) == (200, {"name": "theirs", "tags": []})
    # A password is regional: another region's registry host refuses it.
    status, _, body = reg.json("GET", "/v2/theirs/tags/list",
                               headers={"Host": f"{OTHER}.dkr.ecr.eu-west-1.localhost"})
    assert status == 401 and "region us-east-1" in body["errors"][0]["detail"]


def test_default_uris_are_aws_shaped(ecr_emulator, ecr):
    repo = ecr.create_repository(repositoryName="team/app")["repository"]
    assert repo["repositoryUri"] == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/app"
    data = ecr.get_authorization_token()["authorizationData"][0]
    assert data["proxyEndpoint"] == ecr_emulator.endpoint


def test_registry_domain_mode_names_this_server(tmp_path):
    with running_server("--registry-domain", "localhost") as server:
        port = urllib.parse.urlsplit(server.endpoint).port
        ecr = server.client()
        repo = ecr.create_repository(repositoryName="team/app")["repository"]
        host = f"{ACCOUNT}.dkr.ecr.us-east-1.localhost:{port}"
        assert repo["repositoryUri"] == f"{host}/team/app"
        assert ecr.describe_repositories()["repositories"][0]["repositoryUri"] == f"{host}/team/app"
        [mine, theirs] = ecr.get_authorization_token(registryIds=[ACCOUNT, OTHER])["authorizationData"]
        assert mine["proxyEndpoint"] == f"http://{host}"
        assert theirs["proxyEndpoint"] == f"http://{OTHER}.dkr.ecr.us-east-1.localhost:{port}"
        # The URI the API returned is the address a push uses (the host resolved to this server).
        reg = RegistryClient(server.endpoint, ecr)
        manifest = m.docker("uri").encode()
        status, _, _ = reg.request("PUT", "/v2/team/app/manifests/v1", body=manifest, headers={
            "Host": host, "Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
        assert status == 201
        assert ecr.describe_images(repositoryName="team/app")["imageDetails"][0]["imageTags"] == ["v1"]


def test_registry_domain_with_https_and_port_443_leaves_the_port_out():
    from ecr_emulator.config import Config

    config = Config(advertise_url="https://127.0.0.1:443", registry_domain="amazonaws.com", tls=True)
    assert config.registry_host(ACCOUNT, "us-east-1") == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    assert config.proxy_endpoint(ACCOUNT, "us-east-1") == f"https://{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    assert Config(port=8443, tls=True, registry_domain="localhost").proxy_endpoint(OTHER, "eu-west-1") == (
        f"https://{OTHER}.dkr.ecr.eu-west-1.localhost:8443")


@pytest.mark.parametrize("args, message", [
    (["--registry-domain", "not a domain"], "is not a domain name"),
    (["--domains", "ok.example,-bad"], "is not a domain name"),
    (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
    (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], "is not a readable file"),
])
def test_bad_host_and_tls_flags_are_one_line_errors(args, message, capsys):
    from ecr_emulator.cli import parse_args

    with pytest.raises(SystemExit):
        parse_args(args)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
