"""Replication of deletes (a rule's ``deleteReplication``, botocore 1.44 on) and what a restart replays of replication:
deletions by digest, tag removals, the last tag, lifecycle expiries; none without the setting; blobs removed with a
destination repository stay removed across a restart."""

import json

import pytest

import sample_manifests as m
from ecr_emulator.specs import model
from ecr_emulator.testing import running_server
from helpers import push
from registry_client import RegistryClient
from test_replication import AWAY, configure, destination, rule, tags

needs_delete_replication = pytest.mark.skipif(
    "deleteReplication" not in model.shape("ReplicationRule")["members"],
    reason="this botocore's model predates deleteReplication (added in 1.44)")


def deleting(*destinations: dict, enabled: bool = True) -> dict:
    return {**rule(*destinations), "deleteReplication": {"enabled": enabled}}


@needs_delete_replication
def test_the_setting_is_stored_and_answered(ecr):
    config = {"rules": [deleting(), rule(destination("us-west-2"))]}
    assert configure(ecr, *config["rules"])["replicationConfiguration"] == config
    assert ecr.describe_registry()["replicationConfiguration"] == config


@needs_delete_replication
def test_a_delete_by_digest_and_a_last_tag_removal_are_replicated(ecr, away, repo):
    configure(ecr, deleting())
    first = push(ecr, m.docker("1"), "v1")
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("1"), imageTag="latest")
    push(ecr, m.docker("2"), "v2")
    assert tags(away, repo) == {"v1", "latest", "v2"}
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": first}])
    assert tags(away, repo) == {"v2"}
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v2"}])
    assert away.describe_images(repositoryName=repo)["imageDetails"] == []


@needs_delete_replication
def test_a_tag_removed_from_an_image_with_other_tags_is_removed_there_too(ecr, away, repo):
    configure(ecr, deleting())
    digest = push(ecr, m.docker("1"), "v1")
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("1"), imageTag="latest")
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    [detail] = away.describe_images(repositoryName=repo)["imageDetails"]
    assert detail["imageDigest"] == digest and detail["imageTags"] == ["v1"]


@needs_delete_replication
def test_a_lifecycle_expiry_is_replicated(ecr_emulator, ecr, away, repo):
    configure(ecr, deleting())
    for n in range(3):
        push(ecr, m.docker(str(n)), f"v{n}")
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=json.dumps({"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"}}]}))
    ecr_emulator.admin("/_emulator/lifecycle/run", {})
    assert len(ecr.describe_images(repositoryName=repo)["imageDetails"]) == 1
    assert tags(away, repo) == tags(ecr, repo)


def test_without_the_setting_deletes_stay_in_the_source(ecr, away, repo):
    configure(ecr, rule())
    digest = push(ecr, m.docker("1"), "v1")
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": digest}])
    assert tags(away, repo) == {"v1"}


def test_blobs_removed_with_a_destination_repository_stay_removed_after_a_restart(tmp_path):
    """Replaying the journaled push must not copy the blobs into the destination again."""
    state = tmp_path / "state"
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="app")
        configure(ecr, rule())
        home = RegistryClient(server.endpoint, ecr)
        layer = home.push_blob("app", b"layer bytes")
        config = home.push_blob("app", b"{}")
        manifest = json.dumps({"schemaVersion": 2, "mediaType": m.OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": config, "size": 2},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": layer, "size": 11}]})
        ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")
        away = server.client(region=AWAY)
        there = RegistryClient(server.endpoint, away)
        assert there.request("HEAD", f"/v2/app/blobs/{layer}")[0] == 200
        away.delete_repository(repositoryName="app", force=True)
    copy = state / "blobs" / "123456789012" / AWAY / "sha256" / layer[7:9] / layer[7:]
    assert not copy.exists()
    with running_server("--state-dir", str(state)) as server:
        away = server.client(region=AWAY)
        assert away.describe_repositories()["repositories"] == []
        assert not copy.exists()
        away.create_repository(repositoryName="app")
        there = RegistryClient(server.endpoint, away)
        assert there.request("HEAD", f"/v2/app/blobs/{layer}")[0] == 404
        assert RegistryClient(server.endpoint, server.client()).request("HEAD", f"/v2/app/blobs/{layer}")[0] == 200
