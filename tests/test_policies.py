"""Repository and registry policies through boto3 against a live server."""

import json
import logging

import pytest
from botocore.exceptions import ClientError

from ecr_emulator.app import create_app
from helpers import error_of

ACCOUNT = "123456789012"
OTHER = "210987654321"
# ECR's text, quoted in github.com/pulumi/pulumi-aws/issues/2326 (the registry form).
REPOSITORY_REFUSAL = ("Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                      "'Invalid repository policy provided'")
REGISTRY_REFUSAL = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided'"


def policy(*statements, version="2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


PULL = {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}


@pytest.fixture
def repo(ecr):
    ecr.create_repository(repositoryName="team/app")
    return "team/app"


def test_set_get_delete_repository_policy(ecr, repo):
    text = policy(PULL)
    response = ecr.set_repository_policy(repositoryName=repo, policyText=text)
    response.pop("ResponseMetadata")
    assert response == {"registryId": ACCOUNT, "repositoryName": repo, "policyText": text}
    got = ecr.get_repository_policy(repositoryName=repo)
    assert (got["registryId"], got["repositoryName"], got["policyText"]) == (ACCOUNT, repo, text)
    deleted = ecr.delete_repository_policy(repositoryName=repo)
    assert deleted["policyText"] == text
    with pytest.raises(ClientError) as exc:
        ecr.get_repository_policy(repositoryName=repo)
    assert error_of(exc) == ("RepositoryPolicyNotFoundException",
                             f"Repository policy does not exist for the repository with name '{repo}' "
                             f"in the registry with id '{ACCOUNT}'")


def test_set_replaces_the_policy_and_accepts_the_documented_forms(ecr, repo):
    single = json.dumps({"Version": "2008-10-17", "Statement": {
        "Effect": "Deny", "Principal": "*", "NotAction": "ecr:Batch*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}}})
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(PULL))
    ecr.set_repository_policy(repositoryName=repo, policyText=single)
    assert ecr.get_repository_policy(repositoryName=repo)["policyText"] == single
    for actions in ("*", "ecr:*", ["ecr:Get*", "ecr:ListImages", "ecr:describe?mages"]):
        text = policy({"Effect": "Allow", "Principal": {"AWS": [ACCOUNT, "*"], "Service": "codebuild.amazonaws.com"},
                       "Action": actions})
        ecr.set_repository_policy(repositoryName=repo, policyText=text)


def test_delete_without_a_policy(ecr, repo):
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository_policy(repositoryName=repo)
    assert error_of(exc)[0] == "RepositoryPolicyNotFoundException"


@pytest.mark.parametrize("operation", ["set", "get", "delete"])
def test_repository_policy_on_a_missing_repository(ecr, operation):
    call = getattr(ecr, f"{operation}_repository_policy")
    kwargs = {"policyText": policy(PULL)} if operation == "set" else {}
    with pytest.raises(ClientError) as exc:
        call(repositoryName="missing", **kwargs)
    assert error_of(exc) == ("RepositoryNotFoundException",
                             f"The repository with name 'missing' does not exist in the registry with id '{ACCOUNT}'")


INVALID_REPOSITORY_POLICIES = {
    "not json": ("{not json", "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "array": ("[]", "must be a JSON object"),
    "duplicate key": ('{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', "Duplicate key"),
    "bad version": (policy(PULL, version="2020-01-01"), "Version must be one of"),
    "unknown top element": (json.dumps({"Statement": [PULL], "Extra": 1}), "Unsupported policy element 'Extra'"),
    "no statement": (json.dumps({"Version": "2012-10-17"}), "Statement must be"),
    "empty statements": (policy(), "Statement must be"),
    "statement not object": (json.dumps({"Statement": ["x"]}), "Statement 1 must be an object"),
    "resource": (policy({**PULL, "Resource": "*"}), "Statement 1 has an unsupported element 'Resource'"),
    "bad effect": (policy({**PULL, "Effect": "Maybe"}), "Effect must be Allow or Deny"),
    "no principal": (policy({k: v for k, v in PULL.items() if k != "Principal"}),
                     "exactly one of Principal or NotPrincipal"),
    "two principals": (policy({**PULL, "NotPrincipal": "*"}), "exactly one of Principal or NotPrincipal"),
    "bad principal type": (policy({**PULL, "Principal": {"Users": "bob"}}), "unknown principal type 'Users'"),
    "bad aws principal": (policy({**PULL, "Principal": {"AWS": "arn:aws:iam::123:*"}}), "Invalid principal"),
    "bad service principal": (policy({**PULL, "Principal": {"Service": "not a service"}}),
                              "Invalid service principal"),
    "no action": (policy({k: v for k, v in PULL.items() if k != "Action"}), "exactly one of Action or NotAction"),
    "empty actions": (policy({**PULL, "Action": []}), "non-empty list of strings"),
    "foreign action": (policy({**PULL, "Action": "s3:GetObject"}), "Invalid action 's3:GetObject'"),
    "malformed action": (policy({**PULL, "Action": "ecr:Get Image"}), "Invalid action"),
    "sid not string": (policy({**PULL, "Sid": 1}), "Sid must be a string"),
    "bad condition": (policy({**PULL, "Condition": {"StringEquals": "x"}}), "must map condition keys"),
    "empty condition": (policy({**PULL, "Condition": {}}), "Condition must be a non-empty object"),
}


@pytest.fixture
def in_process():
    """A call into an in-process app, so a test can read the server's log beside the reply."""
    app = create_app()

    def call(operation: str, body: dict):
        reply = app.test_client().post("/", data=json.dumps(body), headers={
            "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{operation}",
            "Content-Type": "application/x-amz-json-1.1"})
        return reply.status_code, json.loads(reply.data)

    assert call("CreateRepository", {"repositoryName": "team/app"})[0] == 200
    return call


def logged(caplog, detail: str) -> bool:
    return any(detail in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("text,detail", INVALID_REPOSITORY_POLICIES.values(), ids=INVALID_REPOSITORY_POLICIES)
def test_invalid_repository_policies_get_ecrs_text_and_the_detail_is_logged(in_process, caplog, text, detail):
    with caplog.at_level(logging.INFO, logger="ecr_emulator"):
        status, body = in_process("SetRepositoryPolicy", {"repositoryName": "team/app", "policyText": text})
    assert (status, body) == (400, {"__type": "InvalidParameterException", "message": REPOSITORY_REFUSAL})
    assert logged(caplog, detail)
    assert in_process("GetRepositoryPolicy", {"repositoryName": "team/app"})[0] == 400


def test_an_invalid_repository_policy_through_boto3(ecr, repo):
    with pytest.raises(ClientError) as exc:
        ecr.set_repository_policy(repositoryName=repo, policyText=policy({**PULL, "Effect": "Maybe"}))
    assert error_of(exc) == ("InvalidParameterException", REPOSITORY_REFUSAL)
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName=repo)


def test_duplicate_sids_are_accepted_as_at_aws(ecr, repo):
    text = policy(PULL, {**PULL, "Action": "ecr:DescribeImages"})
    assert ecr.set_repository_policy(repositoryName=repo, policyText=text)["policyText"] == text
    registry_text = policy(REPLICATION, REPLICATION)
    assert ecr.put_registry_policy(policyText=registry_text)["policyText"] == registry_text


def test_policy_over_the_size_limit_is_refused(ecr, repo):
    text = policy({**PULL, "Sid": "x" * 10240})
    with pytest.raises(ClientError) as exc:
        ecr.set_repository_policy(repositoryName=repo, policyText=text)
    assert error_of(exc)[0] == "InvalidParameterException"
    assert "10240" in error_of(exc)[1]


LOCKOUTS = {
    "everyone": {"Effect": "Deny", "Principal": "*", "Action": "ecr:SetRepositoryPolicy"},
    "own account by wildcard": {"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "ecr:Set*"},
    "own root": {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "*"},
    "not action": {"Effect": "Deny", "Principal": "*", "NotAction": "ecr:BatchGetImage"},
    "not principal": {"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                      "Action": "ecr:*"},
}


@pytest.mark.parametrize("statement", LOCKOUTS.values(), ids=LOCKOUTS)
def test_a_lock_out_policy_needs_force(ecr, repo, statement):
    text = policy(statement)
    with pytest.raises(ClientError) as exc:
        ecr.set_repository_policy(repositoryName=repo, policyText=text)
    assert error_of(exc) == ("InvalidParameterException", REPOSITORY_REFUSAL)
    assert ecr.set_repository_policy(repositoryName=repo, policyText=text, force=True)["policyText"] == text


NOT_LOCKOUTS = {
    "other account": {"Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "ecr:*"},
    "conditional": {"Effect": "Deny", "Principal": "*", "Action": "ecr:*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    "other action": {"Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"},
    "not principal naming the account": {"Effect": "Deny", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "ecr:*"},
    "allow": {"Effect": "Allow", "Principal": "*", "Action": "ecr:SetRepositoryPolicy"},
}


@pytest.mark.parametrize("statement", NOT_LOCKOUTS.values(), ids=NOT_LOCKOUTS)
def test_policies_that_leave_the_owner_in_control_need_no_force(ecr, repo, statement):
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(statement))


REPLICATION = {"Sid": "Replication", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
               "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
               "Resource": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/*"}


def test_put_get_delete_registry_policy(ecr):
    text = policy(REPLICATION)
    put = ecr.put_registry_policy(policyText=text)
    assert (put["registryId"], put["policyText"]) == (ACCOUNT, text)
    assert ecr.get_registry_policy()["policyText"] == text
    replaced = policy({**REPLICATION, "Action": "ecr:DescribeImages"})
    ecr.put_registry_policy(policyText=replaced)
    deleted = ecr.delete_registry_policy()
    assert (deleted["registryId"], deleted["policyText"]) == (ACCOUNT, replaced)
    for call in (ecr.get_registry_policy, ecr.delete_registry_policy):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == ("RegistryPolicyNotFoundException",
                                 f"Registry policy does not exist in the registry with id '{ACCOUNT}'")


@pytest.mark.parametrize("text,detail", [
    ("nope", "not valid JSON"),
    (policy({**REPLICATION, "Action": "iam:PassRole"}), "Invalid action"),
    (policy({**REPLICATION, "Resource": "repository/*"}), "Invalid resource"),
    (policy({**REPLICATION, "NotResource": "*"}), "both Resource and NotResource"),
], ids=["json", "action", "resource", "both resources"])
def test_invalid_registry_policies_get_ecrs_text_and_the_detail_is_logged(ecr, in_process, caplog, text, detail):
    with pytest.raises(ClientError) as exc:
        ecr.put_registry_policy(policyText=text)
    assert error_of(exc) == ("InvalidParameterException", REGISTRY_REFUSAL)
    with caplog.at_level(logging.INFO, logger="ecr_emulator"):
        assert in_process("PutRegistryPolicy", {"policyText": text}) == (
            400, {"__type": "InvalidParameterException", "message": REGISTRY_REFUSAL})
    assert logged(caplog, detail)


def test_v1_registry_policy_scope_limits_the_actions(ecr):
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")
    for actions in (["ecr:ReplicateImage", "ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], "ecr:*",
                    "ecr:replicate*"):
        ecr.put_registry_policy(policyText=policy({**REPLICATION, "Action": actions}))
    with pytest.raises(ClientError) as exc:
        ecr.put_registry_policy(policyText=policy({**REPLICATION, "Action": ["ecr:ReplicateImage",
                                                                              "ecr:DescribeImages"]}))
    assert error_of(exc) == ("InvalidParameterException", REGISTRY_REFUSAL)
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V2")
    ecr.put_registry_policy(policyText=policy({**REPLICATION, "Action": "ecr:DescribeImages"}))


def test_policies_are_invisible_to_other_accounts_and_regions(ecr_emulator, ecr, repo):
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(PULL))
    ecr.put_registry_policy(policyText=policy(REPLICATION))
    for other in (ecr_emulator.server.client(access_key=OTHER), ecr_emulator.server.client(region="eu-west-1")):
        with pytest.raises(ClientError) as exc:
            other.get_registry_policy()
        assert error_of(exc)[0] == "RegistryPolicyNotFoundException"
        with pytest.raises(ClientError) as exc:
            other.get_repository_policy(repositoryName=repo)
        assert error_of(exc)[0] == "RepositoryNotFoundException"
        other.create_repository(repositoryName=repo)
        with pytest.raises(ClientError) as exc:
            other.get_repository_policy(repositoryName=repo)
        assert error_of(exc)[0] == "RepositoryPolicyNotFoundException"
    assert ecr.get_registry_policy()["policyText"] == policy(REPLICATION)


def test_deleting_a_repository_drops_its_policy(ecr, repo):
    ecr.set_repository_policy(repositoryName=repo, policyText=policy(PULL))
    ecr.delete_repository(repositoryName=repo)
    ecr.create_repository(repositoryName=repo)
    with pytest.raises(ClientError) as exc:
        ecr.get_repository_policy(repositoryName=repo)
    assert error_of(exc)[0] == "RepositoryPolicyNotFoundException"
