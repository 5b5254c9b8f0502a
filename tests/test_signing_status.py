"""DescribeImageSigningStatus through boto3: statuses per matching signing profile, COMPLETE once a Notary signature
refers to the image."""

import pytest
from botocore.exceptions import ClientError

import sample_manifests as sm
from helpers import error_of

ACCOUNT = "123456789012"
PROFILE = f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/release_profile"
TEAM_PROFILE = f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/team_profile"
NOTARY = "application/vnd.cncf.notary.signature"


@pytest.fixture
def repo(ecr):
    ecr.create_repository(repositoryName="team/app")
    return "team/app"


def push(ecr, manifest: str, tag: str | None = None, repo: str = "team/app") -> str:
    kwargs = {"imageTag": tag} if tag else {}
    return ecr.put_image(repositoryName=repo, imageManifest=manifest, **kwargs)["image"]["imageId"]["imageDigest"]


def statuses(ecr, repo: str = "team/app", **image_id) -> list[dict]:
    return ecr.describe_image_signing_status(repositoryName=repo, imageId=image_id)["signingStatuses"]


def configure(ecr):
    ecr.put_signing_configuration(signingConfiguration={"rules": [
        {"signingProfileArn": PROFILE},
        {"signingProfileArn": TEAM_PROFILE,
         "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD_MATCH"}]}]})


def test_no_signing_configuration_means_no_statuses(ecr, repo):
    digest = push(ecr, sm.oci("a"), "v1")
    reply = ecr.describe_image_signing_status(repositoryName=repo, imageId={"imageTag": "v1"})
    assert reply["registryId"] == ACCOUNT and reply["repositoryName"] == repo
    assert reply["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert reply["signingStatuses"] == []


def test_in_progress_until_a_notary_signature_refers_to_the_image(ecr, repo):
    configure(ecr)
    digest = push(ecr, sm.oci("a"))
    assert statuses(ecr, imageDigest=digest) == [{"signingProfileArn": PROFILE, "status": "IN_PROGRESS"},
                                                 {"signingProfileArn": TEAM_PROFILE, "status": "IN_PROGRESS"}]
    push(ecr, sm.oci("cosign", artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json", subject=digest))
    assert {s["status"] for s in statuses(ecr, imageDigest=digest)} == {"IN_PROGRESS"}
    push(ecr, sm.oci("sig", artifact_type=NOTARY, subject=digest))
    assert statuses(ecr, imageDigest=digest) == [{"signingProfileArn": PROFILE, "status": "COMPLETE"},
                                                 {"signingProfileArn": TEAM_PROFILE, "status": "COMPLETE"}]


def test_rules_filter_repositories(ecr, repo):
    configure(ecr)
    ecr.create_repository(repositoryName="other")
    digest = push(ecr, sm.oci("o"), repo="other")
    assert statuses(ecr, repo="other", imageDigest=digest) == [{"signingProfileArn": PROFILE,
                                                                "status": "IN_PROGRESS"}]


def test_errors(ecr, repo):
    push(ecr, sm.oci("e"), "v1")
    with pytest.raises(ClientError) as exc:
        statuses(ecr, imageTag="missing")
    assert error_of(exc)[0] == "ImageNotFoundException"
    with pytest.raises(ClientError) as exc:
        statuses(ecr, repo="absent", imageTag="v1")
    assert error_of(exc)[0] == "RepositoryNotFoundException"
    with pytest.raises(ClientError) as exc:
        statuses(ecr)
    assert error_of(exc)[0] == "InvalidParameterException"
