"""Cross-account access by repository and registry policy, through the JSON API (registryId) and over /v2 (the
caller's password at the other account's registry host), refused as ECR refuses it."""

import base64
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

import sample_manifests as m
from helpers import error_of, push
from registry_client import RegistryClient

A, B = "123456789012", "210987654321"   # A: the default account (fixture ``ecr``); B: ``other``
ARN = f"arn:aws:ecr:us-east-1:{A}:repository/app"
AT_A = {"Host": f"{A}.dkr.ecr.us-east-1.amazonaws.com"}
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow_b(actions=PULL, **extra) -> dict:
    return {"Sid": "B", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"}, "Action": actions, **extra}


def denied_message(action: str, resource: str = ARN, explicit: bool = False) -> str:
    why = ("with an explicit deny in a resource-based policy" if explicit
           else f"because no resource-based policy allows the {action} action")
    return f"User: arn:aws:iam::{B}:root is not authorized to perform: {action} on resource: {resource} {why}"


def test_json_api_needs_the_repository_policy(ecr, other, repo):
    digest = push(ecr, m.docker("a"), "v1")
    with pytest.raises(ClientError) as exc:
        other.batch_get_image(registryId=A, repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert error_of(exc) == ("AccessDeniedException", denied_message("ecr:BatchGetImage"))
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(allow_b()))
    [image] = other.batch_get_image(registryId=A, repositoryName=repo, imageIds=[{"imageTag": "v1"}])["images"]
    assert (image["registryId"], image["imageId"]["imageDigest"]) == (A, digest)
    # The policy grants pulls only: B may not push, delete or change the policy.
    for call, kwargs in ((other.put_image, {"imageManifest": m.docker("b"), "imageTag": "v2"}),
                         (other.batch_delete_image, {"imageIds": [{"imageTag": "v1"}]}),
                         (other.delete_repository_policy, {})):
        with pytest.raises(ClientError) as exc:
            call(registryId=A, repositoryName=repo, **kwargs)
        assert error_of(exc)[0] == "AccessDeniedException"
    assert [i["imageTag"] for i in ecr.list_images(repositoryName=repo)["imageIds"]] == ["v1"]


def test_explicit_deny_refuses_even_what_another_statement_allows(ecr, other, repo):
    push(ecr, m.docker("a"), "v1")
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(
        allow_b("ecr:*"), {"Effect": "Deny", "Principal": "*", "Action": "ecr:BatchDelete*",
                           "Condition": {"StringNotEquals": {"aws:PrincipalAccount": A}}}))
    assert other.describe_images(registryId=A, repositoryName=repo)["imageDetails"]
    with pytest.raises(ClientError) as exc:
        other.batch_delete_image(registryId=A, repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert error_of(exc) == ("AccessDeniedException", denied_message("ecr:BatchDeleteImage", explicit=True))
    # The owner is not covered by the condition.
    assert ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["imageIds"]


def test_an_explicit_deny_binds_the_owner_too(ecr, repo):
    ecr.set_repository_policy(repositoryName=repo, force=True, policyText=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "ecr:PutImage"}))
    with pytest.raises(ClientError) as exc:
        push(ecr, m.docker("a"), "v1")
    assert error_of(exc)[0] == "AccessDeniedException" and "explicit deny" in error_of(exc)[1]


def test_a_registry_policy_that_denies_everything_can_still_be_removed_by_its_owner(ecr, repo):
    ecr.put_registry_policy(policyText=policy({"Effect": "Deny", "Principal": "*", "Action": "ecr:*"}))
    with pytest.raises(ClientError) as exc:
        ecr.describe_repositories()
    assert error_of(exc)[0] == "AccessDeniedException" and "explicit deny" in error_of(exc)[1]
    assert ecr.get_registry_policy()["registryId"] == A
    ecr.delete_registry_policy()
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [repo]


def test_the_registry_policy_grants_access_to_its_repositories(ecr, other, repo):
    push(ecr, m.docker("a"), "v1")
    ecr.put_registry_policy(policyText=policy(allow_b(["ecr:DescribeRepositories", "ecr:DescribeImages"],
                                                      Resource=f"arn:aws:ecr:us-east-1:{A}:repository/*")))
    assert [r["repositoryName"] for r in other.describe_repositories(registryId=A)["repositories"]] == [repo]
    assert other.describe_images(registryId=A, repositoryName=repo)["imageDetails"][0]["imageTags"] == ["v1"]
    with pytest.raises(ClientError) as exc:
        other.list_images(registryId=A, repositoryName=repo)
    assert error_of(exc) == ("AccessDeniedException", denied_message("ecr:ListImages"))


def test_a_policy_with_organization_keys_is_refused(ecr, repo):
    text = policy(allow_b(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))
    for call, kwargs in ((ecr.set_repository_policy, {"repositoryName": repo}), (ecr.put_registry_policy, {})):
        with pytest.raises(ClientError) as exc:
            call(policyText=text, **kwargs)
        code, message = error_of(exc)
        assert code == "InvalidParameterException"
        assert "'aws:PrincipalOrgID' needs AWS Organizations, which this emulator does not model" in message


@pytest.fixture
def registry_of_b(ecr_emulator, other):
    """B's password, as a registry client."""
    return RegistryClient(ecr_emulator.endpoint, other)


def test_v2_pull_by_policy_with_the_callers_password_at_the_owners_host(ecr_emulator, ecr, other, repo,
                                                                        registry_of_b):
    owner = RegistryClient(ecr_emulator.endpoint, ecr)
    layer = owner.push_blob(repo, b"layer bytes")
    config = owner.push_blob(repo, b"{}")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": m.OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                                      "size": 2},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                                       "size": 11}]}).encode()
    assert owner.request("PUT", f"/v2/{repo}/manifests/v1", body=manifest,
                         headers={"Content-Type": m.OCI_MANIFEST})[0] == 201
    # Refused: B's password at A's host, no policy.
    status, _, body = registry_of_b.json("GET", f"/v2/{repo}/manifests/v1", headers=AT_A)
    assert status == 403
    assert body["errors"][0]["code"] == "DENIED"
    assert body["errors"][0]["message"] == denied_message("ecr:BatchGetImage")
    status, _, body = registry_of_b.json("GET", f"/v2/{repo}/blobs/{layer}", headers=AT_A)
    assert status == 403 and body["errors"][0]["message"] == denied_message("ecr:GetDownloadUrlForLayer")
    # Allowed by policy: the whole pull works; a push still does not.
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(allow_b()))
    status, headers, data = registry_of_b.request("GET", f"/v2/{repo}/manifests/v1", headers=AT_A)
    assert (status, data) == (200, manifest)
    assert registry_of_b.request("HEAD", f"/v2/{repo}/manifests/v1", headers=AT_A)[0] == 200
    assert registry_of_b.request("GET", f"/v2/{repo}/blobs/{layer}", headers=AT_A)[2] == b"layer bytes"
    status, _, body = registry_of_b.json("POST", f"/v2/{repo}/blobs/uploads/", headers=AT_A)
    assert status == 403 and body["errors"][0]["message"] == denied_message("ecr:InitiateLayerUpload")
    status, _, body = registry_of_b.json("PUT", f"/v2/{repo}/manifests/v2", body=manifest,
                                         headers={**AT_A, "Content-Type": m.OCI_MANIFEST})
    assert status == 403 and body["errors"][0]["message"] == denied_message("ecr:PutImage")
    status, _, body = registry_of_b.json("GET", "/v2/_catalog", headers=AT_A)
    assert status == 403
    # Without A's host, B's password reaches B's own registry, which has no such repository.
    assert registry_of_b.request("GET", f"/v2/{repo}/manifests/v1")[0] == 404


def test_v2_push_by_policy(ecr_emulator, ecr, other, repo, registry_of_b):
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(allow_b([
        "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
        "ecr:BatchCheckLayerAvailability"])))
    status, headers, _ = registry_of_b.request("POST", f"/v2/{repo}/blobs/uploads/", headers=AT_A)
    assert status == 202
    digest = "sha256:" + hashlib.sha256(b"chunk").hexdigest()
    status, _, _ = registry_of_b.request("PUT", f"{headers['Location']}?digest={digest}", body=b"chunk",
                                         headers=AT_A)
    assert status == 201
    manifest = m.docker("pushed-by-b")
    status, _, _ = registry_of_b.request("PUT", f"/v2/{repo}/manifests/fromb", body=manifest.encode(),
                                         headers={**AT_A, "Content-Type": "application/vnd.docker.distribution"
                                                                          ".manifest.v2+json"})
    assert status == 201
    assert ecr.describe_images(repositoryName=repo)["imageDetails"][0]["imageTags"] == ["fromb"]
    assert other.describe_repositories()["repositories"] == []


def test_a_token_asked_for_another_registry_still_speaks_for_its_caller(ecr_emulator, ecr, other, repo):
    """GetAuthorizationToken with registryIds [A] by B: the password reaches A's registry by default, as B."""
    push(ecr, m.docker("a"), "v1")
    reg = RegistryClient(ecr_emulator.endpoint, password=None)
    token = other.get_authorization_token(registryIds=[A])["authorizationData"][0]["authorizationToken"]
    reg.auth = "Basic " + base64.b64encode(base64.b64decode(token)).decode()
    status, _, body = reg.json("GET", f"/v2/{repo}/tags/list")
    assert status == 403 and body["errors"][0]["message"] == denied_message("ecr:ListImages")
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(allow_b("ecr:ListImages")))
    assert reg.json("GET", f"/v2/{repo}/tags/list")[2] == {"name": repo, "tags": ["v1"]}
