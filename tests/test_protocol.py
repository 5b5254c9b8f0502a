"""The JSON 1.1 protocol layer: targets, bodies, validation faults and their wording, request ids."""

import pytest

from conftest import raw_call
from ecr_emulator.specs import model


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
                    "message": "1 validation error detected: Value null at 'repositoryName' failed to satisfy "
                               "constraint: Member must not be null"}


@pytest.mark.parametrize("params, path, expected", [
    ({"repositoryName": "a"}, "repositoryName", "Member must have length greater than or equal to 2"),
    ({"repositoryName": "a" * 257}, "repositoryName", "Member must have length less than or equal to 256"),
    ({"repositoryName": "Upper"}, "repositoryName", "Member must satisfy regular expression pattern"),
    ({"repositoryName": "ab", "imageTagMutability": "SOMETIMES"}, "imageTagMutability",
     "Member must satisfy enum value set: [MUTABLE, IMMUTABLE"),
    ({"repositoryName": "ab", "encryptionConfiguration": {}}, "encryptionConfiguration.encryptionType",
     "Member must not be null"),
    ({"repositoryName": "ab", "tags": [{"Key": "k"}]}, "tags.1.member.Value", "Member must not be null"),
])
def test_constraint_faults(ecr_emulator, params, path, expected):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", params)
    assert status == 400
    assert body["__type"] == "InvalidParameterException"
    assert f"at '{path}' failed to satisfy constraint: {expected}" in body["message"]
    assert ecr_emulator.client.describe_repositories()["repositories"] == []


@pytest.mark.parametrize("max_results, rule", [(0, "greater than or equal to 1"), (1001, "less than or equal to 1000")])
def test_numeric_range(ecr_emulator, max_results, rule):
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", {"maxResults": max_results})
    assert status == 400 and body["__type"] == "InvalidParameterException"
    assert f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have value {rule}" \
        in body["message"]


def test_list_length(ecr_emulator):
    names = [f"repo{i}" for i in range(101)]
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", {"repositoryNames": names})
    assert status == 400
    assert "at 'repositoryNames' failed to satisfy constraint: Member must have length less than or equal to 100" \
        in body["message"]
    status, body, _ = raw_call(ecr_emulator.endpoint, "DescribeRepositories", {"repositoryNames": []})
    assert "Member must have length greater than or equal to 1" in body["message"]


def test_several_faults_are_reported_together(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository",
                               {"repositoryName": "X", "imageTagMutability": "NO", "tags": [{"Value": "v"}]})
    assert status == 400
    message = body["message"]
    assert message.startswith("4 validation errors detected: ")
    for path in ("repositoryName", "imageTagMutability", "tags.1.member.Key"):
        assert f"at '{path}'" in message
    assert message.count("; ") == 3


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
    from ecr_emulator.specs.validate import validate

    from ecr_emulator.specs.validate import Faults, checker

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
