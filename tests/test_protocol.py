"""The JSON 1.1 protocol layer: targets, bodies, validation faults and their wording, request ids."""

import pytest
from botocore.exceptions import ClientError

from ecr_emulator import errors
from ecr_emulator.specs import model, validate
from helpers import raw_call


def test_every_reply_carries_a_request_id(ecr_emulator):
    status, body, headers = raw_call(ecr_emulator.endpoint, "DescribeRepositories", {})
    assert status == 200 and body == {"repositories": []}
    assert len(headers["x-amzn-RequestId"]) == 36
    status, body, headers = raw_call(ecr_emulator.endpoint, "NoSuchOperation", {})
    assert status == 400 and headers["x-amzn-RequestId"]


@pytest.mark.parametrize("target", [None, "NoSuchOperation"])
def test_missing_or_unknown_target(ecr_emulator, target):
    status, body, _ = raw_call(ecr_emulator.endpoint, target, {})
    assert status == 400
    assert body["__type"] == "UnknownOperationException"


def test_target_with_another_services_prefix(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, None, {}, {"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    assert (status, body["__type"]) == (400, "UnknownOperationException")


@pytest.mark.parametrize("payload, fault", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"text"', "must be a JSON object"),
    (b"\xff\xfe{}", "UTF-8"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
])
def test_bodies_that_are_not_a_json_object(ecr_emulator, payload, fault):
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", payload)
    assert status == 400
    assert body["__type"] == "SerializationException"
    assert fault in body["message"]


def test_empty_body_is_an_empty_request(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", b"")
    assert (status, body) == (200, {"repositories": []})


def test_missing_required_member(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", {})
    assert status == 400
    assert body == {"__type": "InvalidParameterException",
                    "message": "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must not be null'"}


REPOSITORY_PATTERN = model.shape("RepositoryName")["pattern"]


@pytest.mark.parametrize("params, member, constraint", [
    # The wording ECR gives for repositoryName (see specs/messages.py for where each was seen).
    ({"repositoryName": "a"}, "repositoryName", "must have length greater than or equal to 2"),
    ({"repositoryName": "a" * 257}, "repositoryName", "must have length less than or equal to 256"),
    ({"repositoryName": "Upper"}, "repositoryName", f"must satisfy regular expression '{REPOSITORY_PATTERN}'"),
    ({"repositoryName": "ab", "registryId": "12345"}, "registryId", "must satisfy regular expression '[0-9]{12}'"),
    ({"repositoryName": "ab", "imageTagMutability": "SOMETIMES"}, "imageTagMutability",
     "Member must satisfy enum value set: [" + ", ".join(model.shape("ImageTagMutability")["enum"]) + "]"),
    ({"repositoryName": "ab", "encryptionConfiguration": {}}, "encryptionType", "must not be null"),
    ({"repositoryName": "ab", "tags": [{"Key": "k"}]}, "Value", "must not be null"),
])
def test_constraint_faults_are_in_ecrs_frame(ecr_emulator, params, member, constraint):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", params)
    assert status == 400
    assert body == {"__type": "InvalidParameterException",
                    "message": f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"}
    assert ecr_emulator.client.describe_repositories()["repositories"] == []


def test_a_list_element_fault_is_named_at_its_list_in_ecrs_wording(ecr_emulator):
    """ECR's reply quoted in github.com/aws-actions/amazon-ecr-login/issues/27."""
    status, body, _ = raw_call(ecr_emulator.endpoint, "GetAuthorizationToken", {"registryIds": ["12345678901 "]})
    assert status == 400 and body == {
        "__type": "InvalidParameterException",
        "message": "Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must satisfy constraint: "
                   "[Member must satisfy regular expression pattern: [0-9]{12}]'"}


def test_a_list_length_fault_in_ecrs_wording(ecr_emulator):
    """ECR's reply quoted in github.com/puemos/aws-lambda-ecr-cleaner/issues/3."""
    status, body, _ = raw_call(ecr_emulator.endpoint, "BatchDeleteImage", {"repositoryName": "ab", "imageIds": []})
    assert status == 400 and body == {
        "__type": "InvalidParameterException",
        "message": "Invalid parameter at 'imageIds' failed to satisfy constraint: "
                   "'Member must have length greater than or equal to 1'"}


def test_ecr_frame_through_boto3(ecr):
    with pytest.raises(ClientError) as info:
        ecr.create_repository(repositoryName="Team/App")
    assert info.value.response["Error"] == {
        "Code": "InvalidParameterException",
        "Message": f"Invalid parameter at 'repositoryName' failed to satisfy constraint: "
                   f"'must satisfy regular expression '{REPOSITORY_PATTERN}''"}


@pytest.mark.parametrize("max_results, rule", [(0, "greater than or equal to 1"), (1001, "less than or equal to 1000")])
def test_numeric_range(ecr_emulator, max_results, rule):
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", {"maxResults": max_results})
    assert status == 400 and body["__type"] == "InvalidParameterException"
    assert body["message"] == ("Invalid parameter at 'maxResults' failed to satisfy constraint: "
                               f"'must have value {rule}'")


def test_list_length(ecr_emulator):
    names = [f"repo{i}" for i in range(101)]
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", {"repositoryNames": names})
    assert status == 400
    assert body["message"] == ("Invalid parameter at 'repositoryNames' failed to satisfy constraint: "
                               "'Member must have length less than or equal to 100'")
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", {"repositoryNames": []})
    assert "'Member must have length greater than or equal to 1'" in body["message"]


def test_ecr_reports_the_first_fault(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository",
                               {"repositoryName": "X", "imageTagMutability": "NO", "tags": [{"Value": "v"}]})
    assert status == 400
    assert body["message"].startswith("Invalid parameter at 'repositoryName' failed to satisfy constraint: ")
    assert "imageTagMutability" not in body["message"]


def test_an_operation_answering_validation_exception_reports_every_fault_in_the_generic_frame(monkeypatch):
    """Only DeleteSigningConfiguration declares ValidationException alone, and it takes no members; the frame is
    checked on a request with members, as an operation of that kind would answer it."""
    monkeypatch.setattr(validate, "_constraint_error", lambda operation: errors.ValidationException)
    with pytest.raises(errors.ValidationException) as info:
        validate.validate("CreateRepository", {"repositoryName": "Xy", "registryId": "1"})
    assert info.value.message == (
        f"2 validation errors detected: Value 'Xy' at 'repositoryName' failed to satisfy constraint: Member must "
        f"satisfy regular expression pattern: {REPOSITORY_PATTERN}; Value '1' at 'registryId' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: [0-9]{{12}}")


@pytest.mark.parametrize("operation, params, path", [
    ("DescribeRepositories", {"maxResults": "10"}, "maxResults"),
    ("DescribeRepositories", {"maxResults": 2.5}, "maxResults"),
    ("DescribeRepositories", {"repositoryNames": "abc"}, "repositoryNames"),
    ("CreateRepository", {"repositoryName": 42}, "repositoryName"),
    ("CreateRepository", {"repositoryName": "ab", "imageScanningConfiguration": {"scanOnPush": "yes"}},
     "imageScanningConfiguration.scanOnPush"),
    ("CreateRepository", {"repositoryName": "ab", "tags": {"Key": "k"}}, "tags"),
    ("DescribeRepositories", {"maxResults": True}, "maxResults"),
])
def test_type_faults_are_serialization_errors(ecr_emulator, operation, params, path):
    status, body, _ = raw_call(ecr_emulator.endpoint, operation, params)
    assert status == 400
    assert body["__type"] == "SerializationException"
    assert f"'{path}'" in body["message"]


def test_blob_and_timestamp_members_are_typed():
    from ecr_emulator import errors
    from ecr_emulator.specs.validate import Faults, checker, validate

    upload = {"repositoryName": "ab", "uploadId": "0f6e0f3a-1b2c-4d5e-8f90-123456789abc", "partFirstByte": 0,
              "partLastByte": 1}
    with pytest.raises(errors.SerializationException, match="layerPartBlob"):
        validate("UploadLayerPart", {**upload, "layerPartBlob": "not base64!"})
    validate("UploadLayerPart", {**upload, "layerPartBlob": "aGVsbG8="})
    # No ECR input carries a timestamp today; the checker for one still refuses what is not epoch seconds.
    faults = Faults()
    checker("CreationTimestamp")("2024-01-01", "createdAt", faults)
    checker("CreationTimestamp")(1700000000.5, "createdAt", faults)
    assert len(faults.type) == 1 and "'createdAt'" in faults.type[0]


def test_unknown_members_are_ignored(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", {"repositoryName": "ab", "colour": "red"})
    assert status == 200 and body["repository"]["repositoryName"] == "ab"


def test_every_model_operation_is_known_to_the_dispatcher(ecr_emulator):
    """Each operation either works or answers a 4xx naming it; none is unknown and none is a 5xx."""
    for operation in model.operations():
        status, body, _ = raw_call(ecr_emulator.endpoint, operation, {})
        assert 200 <= status < 500, (operation, status, body)
        assert body.get("__type") != "UnknownOperationException", operation
        if body.get("__type") == "UnsupportedOperationException":
            assert operation in body["message"]


def test_output_timestamps_are_epoch_seconds(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", {"repositoryName": "ab"})
    assert isinstance(body["repository"]["createdAt"], float)
    assert "imageTagMutabilityExclusionFilters" not in body["repository"]


def test_body_over_the_limit_is_refused_before_it_is_read(ecr_emulator):
    big = b'{"repositoryName": "' + b"a" * (33 * 1024 * 1024) + b'"}'
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", big)
    assert status == 413
    assert body["__type"] == "RequestEntityTooLargeException"


def test_members_sent_as_null_count_as_absent(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "PutRegistryScanningConfiguration",
                               {"scanType": "BASIC", "rules": None})
    assert status == 200 and body["registryScanningConfiguration"]["rules"] == []
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository",
                               {"repositoryName": "nulls", "tags": None, "encryptionConfiguration": None})
    assert status == 200 and body["repository"]["encryptionConfiguration"] == {"encryptionType": "AES256"}
