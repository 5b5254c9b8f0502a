"""Pulling through pull through cache rules: images fetched from an upstream registry on first pull, served from the
cache after, re-checked after AWS's 24 hours of model time, with credentials, faults, verification, ECR to ECR,
persistence and real clients.

The upstreams are a CNCF Distribution registry (Debian's ``docker-registry``, with ``htpasswd`` from apache2-utils
for its Basic auth) started on a free loopback port, and a small in-process registry (``upstreams.FakeUpstream``)
that speaks the bearer token flow and can be told to send bytes that do not match their digest. Tests that need the
Debian tools skip without them unless ECR_EMULATOR_REQUIRE_E2E=1.
"""

import base64
import contextlib
import json
import subprocess
import sys
import threading

import pytest
from botocore.exceptions import ClientError

import upstreams
from ecr_emulator.models import pull_through_cache as ptc
from ecr_emulator.testing import free_port, running_server
from helpers import advance_clock, error_of, require_tool
from registry_client import RegistryClient
from upstreams import Distribution, FakeUpstream, sha

ACCOUNT = "123456789012"
UPSTREAM_ACCOUNT = "210987654321"
REGION = "us-east-1"
DAY = 24 * 3600
HUB_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ecr-pullthroughcache/hub-AbCdEf"
WRONG_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ecr-pullthroughcache/wrong-AbCdEf"
GHCR_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ecr-pullthroughcache/ghcr-AbCdEf"
ACCEPT = {"Accept": f"{upstreams.OCI_MANIFEST}, {upstreams.OCI_INDEX}"}


@pytest.fixture
def distribution(tmp_path):
    """Start docker-registry servers (``distribution()`` or ``distribution(user=(name, password))``); all are
    stopped at the end."""
    binary = require_tool("docker-registry")
    started = []

    def start(user=None):
        htpasswd = require_tool("htpasswd", package="apache2-utils") if user else None
        root = tmp_path / f"registry{len(started)}"
        root.mkdir()
        registry = Distribution(binary, root, user, htpasswd)
        started.append(registry)
        return registry

    yield start
    for registry in started:
        registry.stop()


@pytest.fixture
def fake_upstream():
    upstream = FakeUpstream()
    yield upstream
    upstream.stop()


def credentials_file(tmp_path, secrets: dict) -> str:
    path = tmp_path / "upstream-credentials.json"
    path.write_text(json.dumps({arn: {"username": user, "accessToken": token}
                                for arn, (user, token) in secrets.items()}))
    return str(path)


def v2(server) -> RegistryClient:
    return RegistryClient(server.endpoint, server.client())


def manifest_of(reg: RegistryClient, name: str, reference: str) -> tuple[int, str | None, bytes]:
    status, headers, body = reg.request("GET", f"/v2/{name}/manifests/{reference}", headers=ACCEPT)
    return status, headers.get("Docker-Content-Digest"), body


def pull_by_tag(ecr, name: str, tag: str) -> dict:
    return ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": tag}])


# Against a CNCF Distribution registry.

def test_first_pull_fetches_with_the_template_and_later_pulls_are_served_locally(distribution):
    upstream = distribution()
    digest = upstream.push_image("team/app", "v1", b"first layer")
    with running_server("--upstream-endpoint", f"quay.io={upstream.url}") as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
        ecr.create_repository_creation_template(prefix="quay", appliedFor=["PULL_THROUGH_CACHE"],
                                                imageTagMutability="MUTABLE", resourceTags=[
                                                    {"Key": "source", "Value": "cache"}])
        reg = v2(server)
        assert ecr.describe_repositories()["repositories"] == []

        status, served, body = manifest_of(reg, "quay/team/app", "v1")
        assert status == 200 and served == digest and sha(body) == digest
        [repo] = ecr.describe_repositories()["repositories"]
        assert repo["repositoryName"] == "quay/team/app"
        assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [
            {"Key": "source", "Value": "cache"}]
        [detail] = ecr.describe_images(repositoryName="quay/team/app")["imageDetails"]
        assert detail["imageDigest"] == digest and detail["imageTags"] == ["v1"]
        assert detail["imageManifestMediaType"] == upstreams.OCI_MANIFEST
        layer = json.loads(body)["layers"][0]
        assert reg.request("GET", f"/v2/quay/team/app/blobs/{layer['digest']}")[2] == b"first layer"

        upstream.stop()
        assert manifest_of(reg, "quay/team/app", "v1")[:2] == (200, digest)
        assert manifest_of(reg, "quay/team/app", digest)[:2] == (200, digest)
        [image] = pull_by_tag(ecr, "quay/team/app", "v1")["images"]
        assert image["imageId"]["imageDigest"] == digest
        url = ecr.get_download_url_for_layer(repositoryName="quay/team/app", layerDigest=layer["digest"])
        assert url["layerDigest"] == layer["digest"]


def test_a_moved_upstream_tag_is_picked_up_only_after_the_interval(distribution):
    upstream = distribution()
    first = upstream.push_image("team/app", "v1", b"version one")
    with running_server("--upstream-endpoint", f"quay.io={upstream.url}") as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
        reg = v2(server)
        assert manifest_of(reg, "quay/team/app", "v1")[1] == first
        second = upstream.push_image("team/app", "v1", b"version two")
        assert second != first

        assert manifest_of(reg, "quay/team/app", "v1")[1] == first
        advance_clock(server, DAY - 3600)
        assert pull_by_tag(ecr, "quay/team/app", "v1")["images"][0]["imageId"]["imageDigest"] == first
        advance_clock(server, 2 * 3600)
        assert pull_by_tag(ecr, "quay/team/app", "v1")["images"][0]["imageId"]["imageDigest"] == second
        reg = v2(server)  # a registry password lasts 12 hours of model time
        assert manifest_of(reg, "quay/team/app", "v1")[1] == second
        images = {d["imageDigest"]: d.get("imageTags") for d in
                  ecr.describe_images(repositoryName="quay/team/app")["imageDetails"]}
        assert images == {first: None, second: ["v1"]}

        # An upstream that cannot be asked when the check is due leaves the cached image in service.
        upstream.stop()
        advance_clock(server, 2 * DAY)
        assert manifest_of(v2(server), "quay/team/app", "v1")[1] == second


def test_a_multi_architecture_image_is_cached_with_each_platform_image(distribution):
    upstream = distribution()
    amd64 = upstream.push_image("multi", "amd64-only", b"amd64 layer", "amd64")
    arm64 = upstream.push_image("multi", "arm64-only", b"arm64 layer", "arm64")
    amd64_manifest, arm64_manifest = (upstream.request("GET", f"/v2/multi/manifests/{d}", headers=ACCEPT)[2]
                                      for d in (amd64, arm64))
    listed = upstream.push_manifest("multi", "v1", upstreams.index((amd64_manifest, "amd64"),
                                                                   (arm64_manifest, "arm64")))
    with running_server("--upstream-endpoint", f"quay.io={upstream.url}") as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
        [image] = pull_by_tag(ecr, "quay/multi", "v1")["images"]
        assert image["imageId"]["imageDigest"] == listed
        assert image["imageManifestMediaType"] == upstreams.OCI_INDEX
        cached = {d["imageDigest"] for d in ecr.describe_images(repositoryName="quay/multi")["imageDetails"]}
        assert cached == {listed, amd64, arm64}
        upstream.stop()
        reg = v2(server)
        for payload in (b"amd64 layer", b"arm64 layer"):
            assert reg.request("GET", f"/v2/quay/multi/blobs/{sha(payload)}")[2] == payload


def test_credentials_are_required_and_wrong_ones_refused(distribution, tmp_path):
    upstream = distribution(user=("alice", "s3cret"))
    digest = upstream.push_image("library/nginx", "latest", b"nginx layer")
    secrets = credentials_file(tmp_path, {HUB_SECRET: ("alice", "s3cret"), WRONG_SECRET: ("alice", "guess")})
    with running_server("--upstream-endpoint", f"registry-1.docker.io={upstream.url}",
                        "--upstream-credentials", secrets) as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io",
                                           credentialArn=HUB_SECRET)
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="wrong", upstreamRegistryUrl="registry-1.docker.io",
                                           credentialArn=WRONG_SECRET)
        assert ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="hub")["isValid"] is True
        invalid = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="wrong")
        assert invalid["isValid"] is False and "refused access" in invalid["failure"]

        [image] = pull_by_tag(ecr, "hub/library/nginx", "latest")["images"]
        assert image["imageId"]["imageDigest"] == digest

        # Official images need their library/ prefix, as on Docker Hub; the upstream is not asked.
        with pytest.raises(ClientError) as exc:
            pull_by_tag(ecr, "hub/nginx", "latest")
        assert error_of(exc)[0] == "RepositoryNotFoundException"

        with pytest.raises(ClientError) as exc:
            pull_by_tag(ecr, "wrong/library/nginx", "latest")
        assert error_of(exc)[0] == "UnableToGetUpstreamImageException"
        ecr.create_repository(repositoryName="wrong/library/nginx")
        [failure] = pull_by_tag(ecr, "wrong/library/nginx", "latest")["failures"]
        assert failure["failureCode"] == "UpstreamAccessDenied" and failure["imageId"] == {"imageTag": "latest"}
        status, _, body = v2(server).request("GET", "/v2/wrong/library/nginx/manifests/latest", headers=ACCEPT)
        assert status == 403 and json.loads(body)["errors"][0]["code"] == "DENIED"
        assert ecr.describe_images(repositoryName="wrong/library/nginx")["imageDetails"] == []


def test_skopeo_pulls_through_the_rule(distribution, skopeo, tmp_path):
    upstream = distribution()
    digest = upstream.push_image("team/tool", "v3", b"tool layer " * 1000)
    with running_server("--upstream-endpoint", f"quay.io={upstream.url}") as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
        token = ecr.get_authorization_token()["authorizationData"][0]
        creds = base64.b64decode(token["authorizationToken"]).decode()
        host = token["proxyEndpoint"].removeprefix("http://")
        out = tmp_path / "out"
        image = f"docker://{host}/quay/team/tool:v3"
        raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, image).stdout.encode()
        assert sha(raw) == digest
        skopeo("copy", "--preserve-digests", "--src-tls-verify=false", "--src-creds", creds, image, f"oci:{out}:v3")
        index = json.loads((out / "index.json").read_text())
        assert index["manifests"][0]["digest"] == digest
        layer = (out / "blobs" / "sha256" / sha(b"tool layer " * 1000)[7:]).read_bytes()
        assert layer == b"tool layer " * 1000
        [detail] = ecr.describe_images(repositoryName="quay/team/tool")["imageDetails"]
        assert detail["imageTags"] == ["v3"]


def test_cached_images_survive_a_restart_and_move_with_export(distribution, tmp_path):
    upstream = distribution()
    digest = upstream.push_image("team/app", "v1", b"persisted layer")
    state = str(tmp_path / "state")
    archive = str(tmp_path / "emulator.tar")
    endpoint = f"quay.io={upstream.url}"
    with running_server("--state-dir", state, "--upstream-endpoint", endpoint) as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
        assert manifest_of(v2(server), "quay/team/app", "v1")[1] == digest
    upstream.stop()
    with running_server("--state-dir", state, "--upstream-endpoint", endpoint) as server:
        reg = v2(server)
        assert manifest_of(reg, "quay/team/app", "v1")[:2] == (200, digest)
        assert reg.request("GET", f"/v2/quay/team/app/blobs/{sha(b'persisted layer')}")[2] == b"persisted layer"
        # The check time came back too: nothing is due, so nothing is refetched or refused.
        assert pull_by_tag(server.client(), "quay/team/app", "v1")["failures"] == []
        exported = subprocess.run([sys.executable, "-m", "ecr_emulator", "export", archive, "--endpoint",
                                   server.endpoint], capture_output=True, text=True, timeout=120)
        assert exported.returncode == 0, exported.stderr
    with running_server() as server:
        imported = subprocess.run([sys.executable, "-m", "ecr_emulator", "import", archive, "--endpoint",
                                   server.endpoint], capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0, imported.stderr
        reg = v2(server)
        assert manifest_of(reg, "quay/team/app", "v1")[:2] == (200, digest)
        assert reg.request("GET", f"/v2/quay/team/app/blobs/{sha(b'persisted layer')}")[2] == b"persisted layer"


# Against the in-process fake upstream and no upstream at all.

@contextlib.contextmanager
def ghcr_cache(fake_upstream, tmp_path, *args: str):
    """A server whose rule ``ghcr`` caches ghcr.io, served by ``fake_upstream`` with its user's credentials."""
    secrets = credentials_file(tmp_path, {GHCR_SECRET: fake_upstream.user})
    with running_server("--upstream-endpoint", f"ghcr.io={fake_upstream.url}", "--upstream-credentials", secrets,
                        *args) as server:
        server.client().create_pull_through_cache_rule(ecrRepositoryPrefix="ghcr", upstreamRegistryUrl="ghcr.io",
                                                       credentialArn=GHCR_SECRET)
        yield server

def test_bearer_token_flow_and_a_digest_mismatch_or_a_cut_refused(fake_upstream, tmp_path):
    good = fake_upstream.add_image("org/app", "v1", b"honest layer")
    bad = fake_upstream.add_image("org/other", "v1", b"layer the upstream will tamper with")
    with ghcr_cache(fake_upstream, tmp_path) as server:
        ecr = server.client()
        assert ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="ghcr")["isValid"] is True
        assert manifest_of(v2(server), "ghcr/org/app", "v1")[1] == good
        assert any(request.startswith("/token?") and "scope=repository%3Aorg%2Fapp%3Apull" in request
                   for request in fake_upstream.requests)
        status, _, body = v2(server).request("GET", "/v2/ghcr/org/app/manifests/v404", headers=ACCEPT)
        assert status == 404 and json.loads(body)["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        # Asked once (a 401, then with the token), though the /v2 read goes on through BatchGetImage.
        assert fake_upstream.requests.count("/v2/org/app/manifests/v404") == 2

        fake_upstream.lie = True
        with pytest.raises(ClientError) as exc:
            pull_by_tag(ecr, "ghcr/org/other", "v1")
        code, message = error_of(exc)
        assert code == "UnableToGetUpstreamImageException" and "nothing was cached" in message
        assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["ghcr/org/app"]
        status, _, body = v2(server).request("GET", "/v2/ghcr/org/other/manifests/v1", headers=ACCEPT)
        assert status == 503 and json.loads(body)["errors"][0]["code"] == "UNAVAILABLE"

        fake_upstream.lie, fake_upstream.cut = False, True
        with pytest.raises(ClientError) as exc:
            pull_by_tag(ecr, "ghcr/org/other", "v1")
        assert error_of(exc)[0] == "UnableToGetUpstreamImageException" and "broke off" in error_of(exc)[1]
        assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["ghcr/org/app"]

        fake_upstream.cut = False
        assert pull_by_tag(ecr, "ghcr/org/other", "v1")["images"][0]["imageId"]["imageDigest"] == bad


def test_a_manifest_that_is_not_the_digest_asked_for_is_refused(fake_upstream, tmp_path):
    digest = fake_upstream.add_image("org/app", "v1", b"layer")
    forged = "sha256:" + "0" * 64
    fake_upstream.manifests[("org/app", forged)] = fake_upstream.manifests[("org/app", digest)]
    with ghcr_cache(fake_upstream, tmp_path) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="ghcr/org/app")
        [failure] = ecr.batch_get_image(repositoryName="ghcr/org/app",
                                        imageIds=[{"imageDigest": forged}])["failures"]
        assert failure["failureCode"] == "UpstreamUnavailable" and digest in failure["failureReason"]
        assert ecr.describe_images(repositoryName="ghcr/org/app")["imageDetails"] == []


def test_rate_limits_and_an_unreachable_upstream_map_to_ecr_failure_codes(fake_upstream, tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    with ghcr_cache(fake_upstream, tmp_path, "--upstream-endpoint", f"quay.io={nowhere}") as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
        for name in ("ghcr/app", "quay/app"):
            ecr.create_repository(repositoryName=name)
        reg = v2(server)

        fake_upstream.status = 429
        [failure] = pull_by_tag(ecr, "ghcr/app", "v1")["failures"]
        assert failure["failureCode"] == "UpstreamTooManyRequests"
        status, _, body = reg.request("GET", "/v2/ghcr/app/manifests/v1", headers=ACCEPT)
        assert status == 429 and json.loads(body)["errors"][0]["code"] == "TOOMANYREQUESTS"

        [failure] = pull_by_tag(ecr, "quay/app", "v1")["failures"]
        assert failure["failureCode"] == "UpstreamUnavailable" and nowhere in failure["failureReason"]
        status, _, body = reg.request("GET", "/v2/quay/app/manifests/v1", headers=ACCEPT)
        assert status == 503 and json.loads(body)["errors"][0]["code"] == "UNAVAILABLE"
        invalid = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="quay")
        assert invalid["isValid"] is False and "could not be reached" in invalid["failure"]
        with pytest.raises(ClientError) as exc:
            ecr.get_download_url_for_layer(repositoryName="quay/app", layerDigest=sha(b"missing"))
        assert error_of(exc)[0] == "UnableToGetUpstreamLayerException"


def test_a_layer_read_before_its_manifest_is_fetched_alone(fake_upstream, tmp_path):
    fake_upstream.add_image("org/app", "v1", b"layer first")
    config = next(digest for digest, data in fake_upstream.blobs.items() if data.startswith(b"{"))
    with ghcr_cache(fake_upstream, tmp_path) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="ghcr/org/app")
        layer = sha(b"layer first")
        url = ecr.get_download_url_for_layer(repositoryName="ghcr/org/app", layerDigest=layer)
        assert url["layerDigest"] == layer
        reg = v2(server)
        assert reg.request("GET", f"/v2/ghcr/org/app/blobs/{layer}")[2] == b"layer first"
        assert reg.request("GET", f"/v2/ghcr/org/app/blobs/{config}")[2] == fake_upstream.blobs[config]
        assert ecr.describe_images(repositoryName="ghcr/org/app")["imageDetails"] == []
        with pytest.raises(ClientError) as exc:
            ecr.get_download_url_for_layer(repositoryName="ghcr/org/app", layerDigest=sha(b"not upstream"))
        assert error_of(exc)[0] == "LayersNotFoundException"


def test_concurrent_pulls_of_one_missing_tag_fetch_it_once(fake_upstream, tmp_path):
    digest = fake_upstream.add_image("org/app", "v1", b"shared layer")
    with ghcr_cache(fake_upstream, tmp_path) as server:
        clients = [server.client() for _ in range(8)]
        results, start = [], threading.Barrier(len(clients))

        def pull(ecr):
            start.wait()
            results.append(pull_by_tag(ecr, "ghcr/org/app", "v1"))

        threads = [threading.Thread(target=pull, args=(ecr,)) for ecr in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r["images"][0]["imageId"]["imageDigest"] for r in results] == [digest] * len(clients)
        fetched = [r for r in fake_upstream.requests if r == "/v2/org/app/manifests/v1"]
        # One fetch: the unauthenticated attempt and its retry with the token.
        assert len(fetched) == 2


# ECR to ECR, in one emulator process.

def push_upstream_image(server, account: str, region: str, name: str, tag: str, payload: bytes) -> str:
    client = server.client(access_key=account, region=region)
    client.create_repository(repositoryName=name)
    reg = RegistryClient(server.endpoint, client)
    manifest, blobs = upstreams.image(payload)
    for data in blobs.values():
        reg.push_blob(name, data)
    status, _, body = reg.request("PUT", f"/v2/{name}/manifests/{tag}", body=manifest,
                                  headers={"Content-Type": upstreams.OCI_MANIFEST})
    assert status == 201, body
    return sha(manifest)


def test_ecr_to_ecr_across_accounts_needs_the_upstream_repository_policy(ecr_emulator, ecr):
    server = ecr_emulator.server
    digest = push_upstream_image(server, UPSTREAM_ACCOUNT, "eu-west-1", "team-a/service", "v1", b"service layer")
    upstream = server.client(access_key=UPSTREAM_ACCOUNT, region="eu-west-1")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="mirror",
                                       upstreamRegistryUrl=f"{UPSTREAM_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com",
                                       customRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ptc",
                                       upstreamRepositoryPrefix="team-a")
    assert ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="mirror")["isValid"] is True

    with pytest.raises(ClientError) as exc:
        pull_by_tag(ecr, "mirror/service", "v1")
    assert error_of(exc)[0] == "UnableToGetUpstreamImageException" and "does not allow" in error_of(exc)[1]
    status, _, body = RegistryClient(ecr_emulator.endpoint, ecr).request("GET", "/v2/mirror/service/manifests/v1")
    assert status == 403 and json.loads(body)["errors"][0]["code"] == "DENIED"

    upstream.set_repository_policy(repositoryName="team-a/service", policyText=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecr:BatchGetImage"],
                                                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ptc"}}]}))
    [image] = pull_by_tag(ecr, "mirror/service", "v1")["images"]
    assert image["imageId"]["imageDigest"] == digest
    reg = RegistryClient(ecr_emulator.endpoint, ecr)
    assert reg.request("GET", f"/v2/mirror/service/blobs/{sha(b'service layer')}")[2] == b"service layer"

    # The upstream's tag moves; the cache follows once the interval has passed.
    moved = push_upstream_image(server, UPSTREAM_ACCOUNT, "eu-west-1", "team-a/other", "v1", b"other layer")
    assert moved != digest
    manifest = upstream.batch_get_image(repositoryName="team-a/other", imageIds=[{"imageTag": "v1"}])
    upstream.put_image(repositoryName="team-a/service", imageTag="v1",
                       imageManifest=manifest["images"][0]["imageManifest"])
    assert pull_by_tag(ecr, "mirror/service", "v1")["images"][0]["imageId"]["imageDigest"] == digest
    advance_clock(server, DAY + 60)
    assert pull_by_tag(ecr, "mirror/service", "v1")["images"][0]["imageId"]["imageDigest"] == moved


def test_ecr_to_ecr_within_an_account_with_a_root_rule_replicates_and_keeps_immutable_tags(ecr_emulator, ecr):
    server = ecr_emulator.server
    digest = push_upstream_image(server, ACCOUNT, "us-west-2", "apps/web", "prod", b"web layer")
    upstream = server.client(region="us-west-2")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ROOT",
                                       upstreamRegistryUrl=f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com")
    ecr.put_replication_configuration(replicationConfiguration={"rules": [
        {"destinations": [{"region": "eu-west-1", "registryId": ACCOUNT}]}]})
    [image] = pull_by_tag(ecr, "apps/web", "prod")["images"]
    assert image["imageId"]["imageDigest"] == digest
    assert ecr.describe_repositories(repositoryNames=["apps/web"])["repositories"][0]["repositoryUri"].startswith(
        f"{ACCOUNT}.dkr.ecr.{REGION}.")
    assert pull_by_tag(ecr, "apps/web", "missing")["failures"][0]["failureCode"] == "ImageNotFound"
    # A cached image is replicated like a pushed one.
    replica = server.client(region="eu-west-1").describe_images(repositoryName="apps/web")["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in replica] == [(digest, ["prod"])]

    # A tag made immutable in the cache keeps its image when the upstream's tag moves.
    ecr.put_image_tag_mutability(repositoryName="apps/web", imageTagMutability="IMMUTABLE")
    other = push_upstream_image(server, ACCOUNT, "us-west-2", "apps/api", "v1", b"api layer")
    moved = upstream.batch_get_image(repositoryName="apps/api", imageIds=[{"imageDigest": other}])
    upstream.put_image(repositoryName="apps/web", imageTag="prod", imageManifest=moved["images"][0]["imageManifest"])
    advance_clock(server, DAY + 60)
    assert pull_by_tag(ecr, "apps/web", "prod")["images"][0]["imageId"]["imageDigest"] == digest


# Rule matching, name mapping and the flags, without a server.

@pytest.mark.parametrize("prefix,upstream_prefix,name,upstream", [
    # The mapping table of "Customizing repository prefixes for ECR to ECR pull through cache".
    ("ecr-public", None, "ecr-public/my-app/image1", "my-app/image1"),
    ("ROOT", "ROOT", "my-app/image1", "my-app/image1"),
    ("team-a", "team-a", "team-a/myapp/image1", "team-a/myapp/image1"),
    ("my-app", "upstream-app", "my-app/image1", "upstream-app/image1"),
])
def test_upstream_repository_names_follow_awss_mapping(prefix, upstream_prefix, name, upstream):
    rule = {"ecrRepositoryPrefix": prefix, **({"upstreamRepositoryPrefix": upstream_prefix} if upstream_prefix else {})}
    assert ptc.upstream_repository(rule, name) == upstream


def test_the_longest_covering_prefix_wins_and_root_takes_the_rest():
    class Registry:
        settings = {ptc.RULES: {p: {"ecrRepositoryPrefix": p} for p in ("team", "team/k8s", "ROOT")}}

    def rule(name):
        return ptc.rule_for(Registry, name)["ecrRepositoryPrefix"]

    assert rule("team/k8s/pause") == "team/k8s"
    assert rule("team/app") == "team"
    assert rule("teams/app") == "ROOT" and rule("team") == "ROOT"
    Registry.settings[ptc.RULES].pop("ROOT")
    assert ptc.rule_for(Registry, "other/app") is None


@pytest.mark.parametrize("args,message", [
    (["--upstream-endpoint", "registry-1.docker.io"], "--upstream-endpoint 'registry-1.docker.io' must be HOST=URL"),
    (["--upstream-endpoint", "quay.io=ftp://mirror"], "must be HOST=URL"),
    (["--upstream-credentials", "{missing}"], "cannot read the upstream credentials file"),
    (["--upstream-credentials", "{not-json}"], "is not JSON"),
    (["--upstream-credentials", "{wrong-shape}"], "must be an object with string members"),
])
def test_bad_upstream_flags_are_one_line_errors(tmp_path, args, message):
    (tmp_path / "not-json").write_text("{")
    (tmp_path / "wrong-shape").write_text(json.dumps({HUB_SECRET: {"username": "u", "password": "p"}}))
    args = [a.format(**{k: tmp_path / k for k in ("missing", "not-json", "wrong-shape")}) for a in args]
    result = subprocess.run([sys.executable, "-m", "ecr_emulator", *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_blobs_of_a_cached_image_belong_to_its_repository_and_are_never_mounted_from_it(ecr_emulator, ecr):
    server = ecr_emulator.server
    push_upstream_image(server, ACCOUNT, "us-west-2", "apps/web", "prod", b"cached layer")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="mirror",
                                       upstreamRegistryUrl=f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com",
                                       upstreamRepositoryPrefix="apps")
    pull_by_tag(ecr, "mirror/web", "prod")
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    ecr.create_repository(repositoryName="plain")
    reg = RegistryClient(ecr_emulator.endpoint, ecr)
    layer = sha(b"cached layer")
    assert reg.request("HEAD", f"/v2/mirror/web/blobs/{layer}")[0] == 200
    assert reg.request("HEAD", f"/v2/plain/blobs/{layer}")[0] == 404
    status, headers, _ = reg.request("POST", f"/v2/plain/blobs/uploads/?mount={layer}&from=mirror/web")
    assert status == 202 and "/blobs/uploads/" in headers["Location"]
    assert reg.request("HEAD", f"/v2/plain/blobs/{layer}")[0] == 404
    ecr.create_repository(repositoryName="pushed")
    reg.push_blob("pushed", b"cached layer")
    status, _, _ = reg.request("POST", f"/v2/plain/blobs/uploads/?mount={layer}&from=pushed")
    assert status == 201 and reg.request("HEAD", f"/v2/plain/blobs/{layer}")[0] == 200
