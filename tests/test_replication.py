"""Private image replication through boto3 against a live server: the configuration and its faults, cross-Region and
cross-account copies of pushed images (JSON and /v2 pushes, blobs included), and the recorded replication status."""

import json

import pytest
from botocore.exceptions import ClientError

import sample_manifests as m
from ecr_emulator.models.replication import policy_allows
from ecr_emulator.specs import model
from ecr_emulator.testing import running_server
from helpers import error_of, push, raw_call
from registry_client import RegistryClient

ACCOUNT = "123456789012"
OTHER = "210987654321"
# The model's own limit on rules: 10 in botocore 1.43, 25 in 1.44.
MAX_RULES = model.shape("ReplicationRuleList")["max"]
HOME, AWAY = "us-east-1", "eu-west-1"


def destination(region: str = AWAY, account: str = ACCOUNT) -> dict:
    return {"region": region, "registryId": account}


def rule(*destinations: dict, prefixes: tuple[str, ...] = ()) -> dict:
    stored = {"destinations": list(destinations or [destination()])}
    if prefixes:
        stored["repositoryFilters"] = [{"filter": p, "filterType": "PREFIX_MATCH"} for p in prefixes]
    return stored


def configure(ecr, *rules: dict) -> dict:
    return ecr.put_replication_configuration(replicationConfiguration={"rules": list(rules)})


def statuses(ecr, repo: str, image_id: dict) -> list[dict]:
    return ecr.describe_image_replication_status(repositoryName=repo, imageId=image_id)["replicationStatuses"]


def registry_policy(source: str, actions=("ecr:ReplicateImage", "ecr:CreateRepository"),
                    resource: str = f"arn:aws:ecr:{HOME}:{OTHER}:repository/*", effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "Replication", "Effect": effect, "Principal": {"AWS": f"arn:aws:iam::{source}:root"},
        "Action": list(actions), "Resource": [resource]}]})


def tags(client, repo: str) -> set[str]:
    return {t for d in client.describe_images(repositoryName=repo)["imageDetails"] for t in d.get("imageTags", [])}


def repositories(client) -> list[str]:
    return sorted(r["repositoryName"] for r in client.describe_repositories()["repositories"])


def test_describe_registry_defaults_and_configuration_round_trip(ecr, away):
    assert ecr.describe_registry()["registryId"] == ACCOUNT
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": []}
    config = {"rules": [rule(destination(), destination("us-west-2", OTHER), prefixes=("prod", "team/a")),
                        rule(destination(HOME, OTHER))]}
    assert ecr.put_replication_configuration(replicationConfiguration=config)["replicationConfiguration"] == config
    assert ecr.describe_registry()["replicationConfiguration"] == config
    assert away.describe_registry()["replicationConfiguration"] == {"rules": []}
    assert configure(ecr)["replicationConfiguration"] == {"rules": []}
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": []}


def _fault(ecr_emulator, config: dict) -> tuple[str, str]:
    """Sent raw (unsigned, so the default account in us-east-1), as boto3 itself refuses some of these."""
    before = ecr_emulator.client.describe_registry()["replicationConfiguration"]
    status, body, _ = raw_call(ecr_emulator.endpoint, "PutReplicationConfiguration",
                               {"replicationConfiguration": config})
    assert status == 400
    assert ecr_emulator.client.describe_registry()["replicationConfiguration"] == before
    return body["__type"], body["message"]


@pytest.mark.parametrize("config,detail", [
    ({"rules": [rule(destination(HOME, ACCOUNT))]},
     "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: "
     "'Replication destination cannot be the same as the source registry'"),
    ({"rules": [rule(destination("cn-north-1"))]}, "Replication across AWS partitions is not supported"),
    ({"rules": [rule(*[destination(f"eu-west-{n}", OTHER) for n in range(13)]),
                rule(*[destination(f"us-west-{n}", OTHER) for n in range(13)])]},
     "may contain up to 25 unique destinations across all rules; 26 were given"),
    ({"rules": [rule(destination("eu-west-1", OTHER))] * (MAX_RULES + 1)},
     "Invalid parameter at 'rules' failed to satisfy constraint: 'Member must have length less than or equal "
     f"to {MAX_RULES}'"),
    ({"rules": [rule(prefixes=tuple(f"p{n}" for n in range(101)))]},
     "Invalid parameter at 'repositoryFilters' failed to satisfy constraint: "
     "'Member must have length less than or equal to 100'"),
    ({"rules": [{"destinations": [destination()], "repositoryFilters": []}]},
     "Invalid parameter at 'repositoryFilters' failed to satisfy constraint: "
     "'Member must have length greater than or equal to 1'"),
    ({"rules": [{"destinations": [destination()],
                 "repositoryFilters": [{"filter": "prod", "filterType": "WILDCARD"}]}]},
     "Invalid parameter at 'filterType' failed to satisfy constraint: "
     "'Member must satisfy enum value set: [PREFIX_MATCH]'"),
    ({"rules": [rule(prefixes=("Prod",))]}, "Invalid parameter at 'filter' failed to satisfy constraint: "
                                            "'must satisfy regular expression '"),
    ({"rules": [rule(destination("eu-west-1", "12345"))]},
     "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''"),
])
def test_invalid_configuration_is_refused_and_changes_nothing(ecr_emulator, ecr, config, detail):
    configure(ecr, rule(prefixes=("keep",)))
    code, message = _fault(ecr_emulator, config)
    assert code == "InvalidParameterException" and detail in message


def test_twenty_five_unique_destinations_across_rules_are_allowed(ecr):
    first = [destination(f"eu-west-{n}", OTHER) for n in range(13)]
    second = [destination(f"us-west-{n}", OTHER) for n in range(12)] + first[:3]
    config = {"rules": [rule(*first), rule(*second)]}
    assert configure(ecr, *config["rules"])["replicationConfiguration"] == config


def test_push_is_replicated_to_another_region(ecr_emulator, ecr, away):
    ecr.create_repository(repositoryName="team/app", imageTagMutability="IMMUTABLE",
                          imageScanningConfiguration={"scanOnPush": True})
    configure(ecr, rule())
    manifest = m.oci("replicated")
    digest = push(ecr, manifest, "v1", repo="team/app")
    [repo] = away.describe_repositories()["repositories"]
    assert repo["repositoryName"] == "team/app" and repo["registryId"] == ACCOUNT
    assert repo["repositoryArn"] == f"arn:aws:ecr:{AWAY}:{ACCOUNT}:repository/team/app"
    # Repository settings are not replicated: the created repository has the defaults.
    assert repo["imageTagMutability"] == "MUTABLE" and repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    [detail] = away.describe_images(repositoryName="team/app")["imageDetails"]
    assert (detail["imageDigest"], detail["imageTags"]) == (digest, ["v1"])
    assert detail["imageManifestMediaType"] == m.OCI_MANIFEST
    [image] = away.batch_get_image(repositoryName="team/app", imageIds=[{"imageTag": "v1"}])["images"]
    assert image["imageManifest"] == manifest and image["imageId"]["imageDigest"] == digest
    expected = [{"region": AWAY, "registryId": ACCOUNT, "status": "COMPLETE"}]
    assert statuses(ecr, "team/app", {"imageTag": "v1"}) == expected
    assert statuses(ecr, "team/app", {"imageDigest": digest}) == expected
    reply = ecr.describe_image_replication_status(repositoryName="team/app", imageId={"imageTag": "v1"},
                                                  registryId=ACCOUNT)
    assert reply["repositoryName"] == "team/app" and reply["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    # What arrived by replication has no replication of its own, and is not replicated again.
    away.put_replication_configuration(replicationConfiguration={"rules": [rule(destination("ap-south-1"))]})
    assert statuses(away, "team/app", {"imageTag": "v1"}) == []
    push(ecr, m.oci("second"), "v2", repo="team/app")
    assert tags(away, "team/app") == {"v1", "v2"}
    assert repositories(ecr_emulator.server.client(region="ap-south-1")) == []


def test_tag_moves_and_untagged_pushes_replicate_into_an_existing_repository(ecr, away, repo):
    away.create_repository(repositoryName="app", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                           imageTagMutabilityExclusionFilters=[{"filter": "latest", "filterType": "WILDCARD"}])
    configure(ecr, rule())
    untagged = push(ecr, m.docker("untagged"))
    first = push(ecr, m.docker("first"), "latest")
    second = push(ecr, m.docker("second"), "latest")
    by_digest = {d["imageDigest"]: d.get("imageTags", []) for d in
                 away.describe_images(repositoryName="app")["imageDetails"]}
    assert by_digest == {untagged: [], first: [], second: ["latest"]}
    assert away.describe_repositories()["repositories"][0]["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"


def test_repository_filters_choose_what_replicates(ecr_emulator, ecr, away):
    configure(ecr, rule(destination(), prefixes=("prod", "team/")), rule(destination("us-west-2")))
    for name in ("prod-api", "team/web", "dev/tool", "production"):
        ecr.create_repository(repositoryName=name)
        push(ecr, m.docker(name), "v1", repo=name)
    assert repositories(away) == ["prod-api", "production", "team/web"]
    assert repositories(ecr_emulator.server.client(region="us-west-2")) == [
        "dev/tool", "prod-api", "production", "team/web"]
    assert statuses(ecr, "dev/tool", {"imageTag": "v1"}) == [
        {"region": "us-west-2", "registryId": ACCOUNT, "status": "COMPLETE"}]
    assert [s["region"] for s in statuses(ecr, "prod-api", {"imageTag": "v1"})] == [AWAY, "us-west-2"]


def test_images_pushed_before_the_configuration_are_not_replicated(ecr, away, repo):
    push(ecr, m.docker("early"), "early")
    configure(ecr, rule())
    assert statuses(ecr, repo, {"imageTag": "early"}) == []
    assert away.describe_repositories()["repositories"] == []


def test_cross_account_replication_needs_the_destination_registry_policy(ecr, other, repo):
    configure(ecr, rule(destination(HOME, OTHER)))
    denied = push(ecr, m.docker("denied"), "v1")
    assert statuses(ecr, repo, {"imageDigest": denied}) == [
        {"region": HOME, "registryId": OTHER, "status": "FAILED", "failureCode": "REPLICATE_IMAGE_ACCESS_DENIED"}]
    assert other.describe_repositories()["repositories"] == []

    # ReplicateImage alone is not enough while the destination repository does not exist.
    other.put_registry_policy(policyText=registry_policy(ACCOUNT, actions=("ecr:ReplicateImage",)))
    push(ecr, m.docker("no-create"), "v2")
    assert statuses(ecr, repo, {"imageTag": "v2"})[0]["failureCode"] == "CREATE_REPOSITORY_ACCESS_DENIED"
    assert other.describe_repositories()["repositories"] == []

    other.put_registry_policy(policyText=registry_policy(ACCOUNT))
    allowed = push(ecr, m.docker("allowed"), "v3")
    assert statuses(ecr, repo, {"imageTag": "v3"}) == [{"region": HOME, "registryId": OTHER, "status": "COMPLETE"}]
    [repository] = other.describe_repositories()["repositories"]
    assert repository["registryId"] == OTHER and repository["repositoryName"] == "app"
    [detail] = other.describe_images(repositoryName="app")["imageDetails"]
    assert (detail["imageDigest"], detail["imageTags"]) == (allowed, ["v3"])
    # The status is recorded per push: the denied image stays FAILED.
    assert statuses(ecr, repo, {"imageDigest": denied})[0]["status"] == "FAILED"


@pytest.mark.parametrize("policy", [
    registry_policy("111122223333"),
    registry_policy(ACCOUNT, resource=f"arn:aws:ecr:{HOME}:{OTHER}:repository/prod-*"),
    registry_policy(ACCOUNT, actions=("ecr:CreateRepository",)),
    json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(registry_policy(ACCOUNT))["Statement"][0],
        {"Effect": "Deny", "Principal": "*", "Action": "ecr:Replicate*"}]}),
])
def test_cross_account_policies_that_do_not_grant_replication(ecr, other, repo, policy):
    other.put_registry_policy(policyText=policy)
    configure(ecr, rule(destination(HOME, OTHER)))
    push(ecr, m.docker("x"), "v1")
    assert statuses(ecr, repo, {"imageTag": "v1"})[0]["failureCode"] == "REPLICATE_IMAGE_ACCESS_DENIED"
    assert other.describe_repositories()["repositories"] == []


def test_policy_evaluation():
    arn = f"arn:aws:ecr:{HOME}:{OTHER}:repository/prod-api"
    by_id = json.dumps({"Statement": {"Effect": "Allow", "Principal": {"AWS": [ACCOUNT]}, "Action": "ecr:*"}})
    assert policy_allows(by_id, ACCOUNT, "ecr:ReplicateImage", arn)
    assert not policy_allows(by_id, OTHER, "ecr:ReplicateImage", arn)
    assert not policy_allows(None, ACCOUNT, "ecr:ReplicateImage", arn)
    not_action = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "NotAction": "ecr:ReplicateImage"}]})
    assert not policy_allows(not_action, ACCOUNT, "ecr:ReplicateImage", arn)
    assert policy_allows(not_action, ACCOUNT, "ecr:CreateRepository", arn)
    conditional = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:ReplicateImage",
                                             "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]})
    assert not policy_allows(conditional, ACCOUNT, "ecr:ReplicateImage", arn)
    single = registry_policy(ACCOUNT, resource=f"arn:aws:ecr:{HOME}:{OTHER}:repository/prod-???")
    assert policy_allows(single, ACCOUNT, "ecr:ReplicateImage", arn)
    assert not policy_allows(single, ACCOUNT, "ecr:ReplicateImage", arn + "x")


def test_an_immutable_tag_in_the_destination_is_a_recorded_failure(ecr, away, repo):
    away.create_repository(repositoryName="app", imageTagMutability="IMMUTABLE")
    theirs = push(away, m.docker("theirs"), "v1")
    configure(ecr, rule())
    ours = push(ecr, m.docker("ours"), "v1")
    assert statuses(ecr, repo, {"imageTag": "v1"}) == [
        {"region": AWAY, "registryId": ACCOUNT, "status": "FAILED", "failureCode": "IMAGE_TAG_IMMUTABLE"}]
    # As AWS documents, the image is replicated without the tag, which keeps pointing at the existing image.
    by_digest = {d["imageDigest"]: d.get("imageTags", []) for d in
                 away.describe_images(repositoryName="app")["imageDetails"]}
    assert by_digest == {theirs: ["v1"], ours: []}


def test_a_push_through_the_registry_api_replicates_with_its_blobs(ecr_emulator, ecr, away):
    ecr.create_repository(repositoryName="team/app")
    configure(ecr, rule(destination(), destination("us-west-2")))
    reg = RegistryClient(ecr_emulator.endpoint, ecr)
    config = b'{"architecture":"amd64","os":"linux"}'
    layer = bytes(range(256)) * 64
    config_digest, layer_digest = reg.push_blob("team/app", config), reg.push_blob("team/app", layer)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": m.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": len(layer)}]}).encode()
    status, headers, _ = reg.request("PUT", "/v2/team/app/manifests/v1", body=manifest,
                                     headers={"Content-Type": m.OCI_MANIFEST})
    assert status == 201
    digest = headers["Docker-Content-Digest"]
    assert [s["status"] for s in statuses(ecr, "team/app", {"imageTag": "v1"})] == ["COMPLETE", "COMPLETE"]

    remote = RegistryClient(ecr_emulator.endpoint, away)
    status, headers, body = remote.request("GET", "/v2/team/app/manifests/v1", headers={"Accept": m.OCI_MANIFEST})
    assert (status, body, headers["Docker-Content-Digest"]) == (200, manifest, digest)
    for blob_digest, data in ((config_digest, config), (layer_digest, layer)):
        status, headers, body = remote.request("GET", f"/v2/team/app/blobs/{blob_digest}")
        assert (status, body, headers["Docker-Content-Digest"]) == (200, data, blob_digest)
    # The copies belong to the destination repository of the same name, not to the rest of its registry.
    away.create_repository(repositoryName="team/other")
    assert remote.request("HEAD", f"/v2/team/other/blobs/{layer_digest}")[0] == 404
    # Deletes are not replicated.
    assert reg.request("DELETE", f"/v2/team/app/manifests/{digest}")[0] == 202
    assert [d["imageDigest"] for d in away.describe_images(repositoryName="team/app")["imageDetails"]] == [digest]


def test_describe_image_replication_status_errors(ecr, repo):
    with pytest.raises(ClientError) as exc:
        ecr.describe_image_replication_status(repositoryName="missing", imageId={"imageTag": "v1"})
    assert error_of(exc) == ("RepositoryNotFoundException",
                             f"The repository with name 'missing' does not exist in the registry with id '{ACCOUNT}'")
    with pytest.raises(ClientError) as exc:
        ecr.describe_image_replication_status(repositoryName=repo, imageId={"imageTag": "v1"})
    assert error_of(exc) == ("ImageNotFoundException",
                             "The image with imageId {imageDigest:'null', imageTag:'v1'} does not exist within the "
                             f"repository with name '{repo}' in the registry with id '{ACCOUNT}'")
    with pytest.raises(ClientError) as exc:
        ecr.describe_image_replication_status(repositoryName=repo, imageId={"imageTag": "v1"}, registryId=OTHER)
    # Another account's registry answers only what its policies allow the caller.
    assert error_of(exc) == ("AccessDeniedException", f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to "
                             f"perform: ecr:DescribeImageReplicationStatus on resource: arn:aws:ecr:{HOME}:{OTHER}:"
                             f"repository/{repo} because no resource-based policy allows the "
                             "ecr:DescribeImageReplicationStatus action")
    with pytest.raises(ClientError) as exc:
        ecr.describe_image_replication_status(repositoryName=repo, imageId={})
    assert error_of(exc)[0] == "InvalidParameterException"


def test_replication_and_statuses_survive_a_restart(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="app")
        configure(ecr, rule())
        digest = push(ecr, m.docker("kept"), "v1")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        assert ecr.describe_registry()["replicationConfiguration"] == {"rules": [rule()]}
        assert statuses(ecr, "app", {"imageTag": "v1"})[0]["status"] == "COMPLETE"
        away = server.client(region=AWAY)
        assert [d["imageDigest"] for d in away.describe_images(repositoryName="app")["imageDetails"]] == [digest]


def test_blob_store_links_a_blob_into_another_registry_or_copies_it(tmp_path, monkeypatch):
    from ecr_emulator.registry import blob_store as blobs

    store = blobs.BlobStore(tmp_path)
    digest, _ = store.put(ACCOUNT, HOME, [b"layer bytes"])
    assert store.copy_between(ACCOUNT, HOME, OTHER, AWAY, digest)
    source, linked = store.path(ACCOUNT, HOME, digest), store.path(OTHER, AWAY, digest)
    assert linked.read_bytes() == b"layer bytes" and linked.stat().st_ino == source.stat().st_ino
    assert store.copy_between(ACCOUNT, HOME, OTHER, AWAY, digest)  # already there

    def cross_device(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(blobs.os, "link", cross_device)
    assert store.copy_between(ACCOUNT, HOME, ACCOUNT, AWAY, digest)
    copied = store.path(ACCOUNT, AWAY, digest)
    assert copied.read_bytes() == b"layer bytes" and copied.stat().st_ino != source.stat().st_ino
    assert list((tmp_path / ACCOUNT / AWAY / "uploads").iterdir()) == []
    missing = "sha256:" + "0" * 64
    assert not store.copy_between(ACCOUNT, HOME, OTHER, "us-west-2", missing)
    assert store.size(OTHER, "us-west-2", missing) is None
    monkeypatch.undo()
    assert not store.copy_between(ACCOUNT, HOME, OTHER, "us-west-2", missing)
