"""Repository creation templates at work: a push to a repository that does not exist creates it when a CREATE_ON_PUSH
template covers its name (through PutImage and through skopeo over the registry API), and a repository created by
replication takes the destination's REPLICATION template."""

import base64
import json

import pytest

import sample_manifests as m
from helpers import error_of, push
from oci_layout import write_layout

LIFECYCLE = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType":
                                                                    "imageCountMoreThan", "countNumber": 5},
                                   "action": {"type": "expire"}}]})


def template(client, prefix: str, applied_for: list[str], **settings) -> None:
    client.create_repository_creation_template(prefix=prefix, appliedFor=applied_for, **settings)


def test_put_image_creates_a_repository_a_create_on_push_template_covers(ecr):
    template(ecr, "auto", ["CREATE_ON_PUSH"], imageTagMutability="IMMUTABLE", lifecyclePolicy=LIFECYCLE,
             resourceTags=[{"Key": "team", "Value": "a"}])
    digest = push(ecr, m.docker("1"), "v1", repo="auto/app")
    [repo] = ecr.describe_repositories(repositoryNames=["auto/app"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [{"Key": "team", "Value": "a"}]
    policy = ecr.get_lifecycle_policy(repositoryName="auto/app")["lifecyclePolicyText"]
    assert json.loads(policy) == json.loads(LIFECYCLE)
    [detail] = ecr.describe_images(repositoryName="auto/app")["imageDetails"]
    assert detail["imageDigest"] == digest and detail["imageTags"] == ["v1"]


def test_without_a_matching_create_on_push_template_a_push_to_a_missing_repository_fails(ecr):
    template(ecr, "auto", ["REPLICATION"])
    template(ecr, "other", ["CREATE_ON_PUSH"])
    for name in ("auto/app", "auto", "autoplay/app"):
        with pytest.raises(ecr.exceptions.RepositoryNotFoundException) as exc:
            push(ecr, m.docker("1"), "v1", repo=name)
        assert error_of(exc)[0] == "RepositoryNotFoundException"
    assert ecr.describe_repositories()["repositories"] == []


def test_a_refused_push_creates_no_repository(ecr):
    template(ecr, "ROOT", ["CREATE_ON_PUSH"])
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_image(repositoryName="auto/app", imageManifest="not json", imageTag="v1")
    assert ecr.describe_repositories()["repositories"] == []
    push(ecr, m.docker("1"), "v1", repo="any/name")
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["any/name"]


def test_skopeo_pushes_into_a_repository_created_on_push(skopeo, ecr_emulator, ecr, tmp_path):
    template(ecr, "pushed", ["CREATE_ON_PUSH"], imageTagMutability="IMMUTABLE")
    token = ecr.get_authorization_token()["authorizationData"][0]
    creds = base64.b64decode(token["authorizationToken"]).decode()
    host = token["proxyEndpoint"].removeprefix("http://")
    layout = tmp_path / "in"
    write_layout(layout)
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout}:latest",
           f"docker://{host}/pushed/app:v1")
    [repo] = ecr.describe_repositories(repositoryNames=["pushed/app"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert ecr.describe_images(repositoryName="pushed/app")["imageDetails"][0]["imageTags"] == ["v1"]
    refused = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout}:latest",
                     f"docker://{host}/elsewhere/app:v1", check=False)
    assert refused.returncode != 0
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["pushed/app"]


def test_a_repository_created_by_replication_takes_the_destinations_replication_template(ecr_emulator, ecr):
    away = ecr_emulator.server.client(region="eu-west-1")
    template(away, "team", ["REPLICATION"], imageTagMutability="IMMUTABLE",
             resourceTags=[{"Key": "replicated", "Value": "yes"}])
    account = ecr.describe_registry()["registryId"]
    ecr.put_replication_configuration(replicationConfiguration={"rules": [
        {"destinations": [{"region": "eu-west-1", "registryId": account}]}]})
    for name in ("team/app", "solo"):
        ecr.create_repository(repositoryName=name)
        push(ecr, m.docker(name), "v1", repo=name)
    templated, plain = (away.describe_repositories(repositoryNames=[name])["repositories"][0]
                        for name in ("team/app", "solo"))
    assert templated["imageTagMutability"] == "IMMUTABLE" and plain["imageTagMutability"] == "MUTABLE"
    assert away.list_tags_for_resource(resourceArn=templated["repositoryArn"])["tags"] == [
        {"Key": "replicated", "Value": "yes"}]
    assert away.list_tags_for_resource(resourceArn=plain["repositoryArn"])["tags"] == []
