"""Repository operations through boto3 against a live server."""

import base64

import pytest
from botocore.exceptions import ClientError


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_create_repository_returns_every_field(ecr):
    repo = ecr.create_repository(repositoryName="team/app")["repository"]
    assert repo["repositoryName"] == "team/app"
    assert repo["registryId"] == "123456789012"
    assert repo["repositoryArn"] == "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
    assert repo["repositoryUri"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"
    assert repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert repo["createdAt"].year >= 2024


def test_create_with_settings(ecr):
    repo = ecr.create_repository(
        repositoryName="secure", imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS"})["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert repo["encryptionConfiguration"]["kmsKey"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    dsse = ecr.create_repository(repositoryName="dsse", encryptionConfiguration={
        "encryptionType": "KMS_DSSE", "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/abc"})["repository"]
    assert dsse["encryptionConfiguration"] == {"encryptionType": "KMS_DSSE",
                                               "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/abc"}


def test_aes256_with_a_kms_key_is_refused(ecr):
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName="x1", encryptionConfiguration={"encryptionType": "AES256",
                                                                             "kmsKey": "k"})
    assert error_code(exc) == "InvalidParameterException"


def test_exclusion_filter_variants(ecr):
    filters = [{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "dev-*"}]
    repo = ecr.create_repository(repositoryName="excl", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                 imageTagMutabilityExclusionFilters=filters)["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == filters
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName="excl2", imageTagMutability="MUTABLE_WITH_EXCLUSION")
    assert error_code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName="excl3", imageTagMutability="IMMUTABLE",
                              imageTagMutabilityExclusionFilters=filters)
    assert error_code(exc) == "InvalidParameterException"
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["excl"]


def test_put_image_tag_mutability(ecr):
    ecr.create_repository(repositoryName="app")
    out = ecr.put_image_tag_mutability(repositoryName="app", imageTagMutability="MUTABLE_WITH_EXCLUSION",
                                       imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD",
                                                                            "filter": "release-*"}])
    assert out["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert out["registryId"] == "123456789012" and out["repositoryName"] == "app"
    repo = ecr.describe_repositories(repositoryNames=["app"])["repositories"][0]
    assert repo["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "release-*"}]
    ecr.put_image_tag_mutability(repositoryName="app", imageTagMutability="IMMUTABLE")
    repo = ecr.describe_repositories(repositoryNames=["app"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE" and "imageTagMutabilityExclusionFilters" not in repo
    with pytest.raises(ClientError) as exc:
        ecr.put_image_tag_mutability(repositoryName="missing", imageTagMutability="IMMUTABLE")
    assert error_code(exc) == "RepositoryNotFoundException"


def test_put_image_scanning_configuration(ecr):
    ecr.create_repository(repositoryName="app")
    out = ecr.put_image_scanning_configuration(repositoryName="app", imageScanningConfiguration={"scanOnPush": True})
    assert out["imageScanningConfiguration"] == {"scanOnPush": True}
    repo = ecr.describe_repositories(repositoryNames=["app"])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}


def test_repository_already_exists(ecr):
    ecr.create_repository(repositoryName="dup")
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName="dup")
    assert error_code(exc) == "RepositoryAlreadyExistsException"
    assert "'dup'" in str(exc.value) and "123456789012" in str(exc.value)


def test_describe_missing_repository_names_it(ecr):
    ecr.create_repository(repositoryName="here")
    with pytest.raises(ClientError) as exc:
        ecr.describe_repositories(repositoryNames=["here", "gone"])
    assert error_code(exc) == "RepositoryNotFoundException"
    assert exc.value.response["Error"]["Message"] == (
        "The repository with name 'gone' does not exist in the registry with id '123456789012'")


def test_describe_by_registry_id(ecr):
    ecr.create_repository(repositoryName="mine")
    assert len(ecr.describe_repositories(registryId="123456789012")["repositories"]) == 1
    with pytest.raises(ClientError) as exc:
        ecr.describe_repositories(registryId="210987654321")
    assert error_code(exc) == "AccessDeniedException"
    assert "ecr:DescribeRepositories on resource: arn:aws:ecr:us-east-1:210987654321:repository/*" in str(exc.value)


def test_paging_across_several_pages(ecr):
    names = sorted(f"repo-{i:03d}" for i in range(23))
    for name in reversed(names):
        ecr.create_repository(repositoryName=name)
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 5, **({"nextToken": token} if token else {})}
        page = ecr.describe_repositories(**kwargs)
        pages += 1
        assert len(page["repositories"]) <= 5
        seen += [r["repositoryName"] for r in page["repositories"]]
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 5
    assert seen == names
    paginated = [r["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate(
        PaginationConfig={"PageSize": 7}) for r in p["repositories"]]
    assert paginated == names


def test_paging_with_repository_names_is_refused(ecr):
    ecr.create_repository(repositoryName="app")
    with pytest.raises(ClientError) as exc:
        ecr.describe_repositories(repositoryNames=["app"], maxResults=1)
    assert error_code(exc) == "InvalidParameterException"


def test_bad_next_token(ecr):
    with pytest.raises(ClientError) as exc:
        ecr.describe_repositories(nextToken="not-a-token")
    assert error_code(exc) == "InvalidParameterException"


def test_delete_repository(ecr):
    created = ecr.create_repository(repositoryName="temp")["repository"]
    deleted = ecr.delete_repository(repositoryName="temp")["repository"]
    assert deleted["repositoryArn"] == created["repositoryArn"]
    assert ecr.describe_repositories()["repositories"] == []
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository(repositoryName="temp")
    assert error_code(exc) == "RepositoryNotFoundException"


MANIFEST = ('{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", '
            '"config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, '
            '"digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"}, '
            '"layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, '
            '"digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]}')


def test_delete_non_empty_repository_needs_force(ecr):
    ecr.create_repository(repositoryName="full")
    ecr.put_image(repositoryName="full", imageManifest=MANIFEST, imageTag="v1")
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository(repositoryName="full")
    assert error_code(exc) == "RepositoryNotEmptyException"
    assert ecr.describe_repositories(repositoryNames=["full"])["repositories"]
    ecr.delete_repository(repositoryName="full", force=True)
    assert ecr.describe_repositories()["repositories"] == []


def test_tags(ecr):
    arn = ecr.create_repository(repositoryName="tagged", tags=[{"Key": "team", "Value": "a"}])["repository"][
        "repositoryArn"]
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "a"}]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}])
    assert sorted((t["Key"], t["Value"]) for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]) == [
        ("env", "dev"), ("team", "b")]
    ecr.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "env", "Value": "dev"}]


@pytest.mark.parametrize("tag", [{"Key": "aws:reserved", "Value": "x"}, {"Key": "", "Value": "x"},
                                 {"Key": "k" * 129, "Value": "x"}, {"Key": "k", "Value": "v" * 257},
                                 {"Key": "bad#char", "Value": "x"}])
def test_invalid_tags(ecr, tag):
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName="bad-tags", tags=[tag])
    assert error_code(exc) == "InvalidTagParameterException"
    assert ecr.describe_repositories()["repositories"] == []


def test_too_many_tags(ecr):
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName="many", tags=tags)
    assert error_code(exc) == "TooManyTagsException"
    arn = ecr.create_repository(repositoryName="many", tags=tags[:50])["repository"]["repositoryArn"]
    with pytest.raises(ClientError) as exc:
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "one-more", "Value": "v"}])
    assert error_code(exc) == "TooManyTagsException"
    assert len(ecr.list_tags_for_resource(resourceArn=arn)["tags"]) == 50


def test_tag_operations_on_bad_arns(ecr):
    with pytest.raises(ClientError) as exc:
        ecr.list_tags_for_resource(resourceArn="not-an-arn")
    assert exc.value.response["Error"] == {
        "Code": "InvalidParameterException",
        "Message": "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'"}
    with pytest.raises(ClientError) as exc:
        ecr.tag_resource(resourceArn="arn:aws:ecr:us-east-1:123456789012:repository/none",
                         tags=[{"Key": "a", "Value": "b"}])
    assert error_code(exc) == "RepositoryNotFoundException"


def test_get_authorization_token(ecr_emulator):
    data = ecr_emulator.client.get_authorization_token()["authorizationData"]
    assert len(data) == 1
    user, password = base64.b64decode(data[0]["authorizationToken"]).decode().split(":", 1)
    assert user == "AWS" and password
    assert data[0]["proxyEndpoint"] == ecr_emulator.endpoint
    now = ecr_emulator.server.admin("/_emulator/clock")["now"]
    import datetime
    ahead = data[0]["expiresAt"] - datetime.datetime.fromisoformat(now)
    assert abs(ahead.total_seconds() - 12 * 3600) < 60
    many = ecr_emulator.client.get_authorization_token(registryIds=["111111111111", "222222222222"])
    assert len(many["authorizationData"]) == 2
    passwords = {base64.b64decode(d["authorizationToken"]).decode() for d in many["authorizationData"]}
    assert len(passwords) == 2 and all("111111111111" in p or "222222222222" in p for p in passwords)
    assert {d["proxyEndpoint"] for d in many["authorizationData"]} == {ecr_emulator.endpoint}
