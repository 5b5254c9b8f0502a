"""Identity (account from the access key, region from the credential scope), isolation, and the admin API."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from helpers import raw_call


def test_each_account_and_region_is_its_own_registry(ecr_emulator):
    server = ecr_emulator.server
    default = server.client()
    other_account = server.client(access_key="111122223333")
    other_region = server.client(region="eu-west-1")
    default.create_repository(repositoryName="shared-name")
    repo = other_account.create_repository(repositoryName="shared-name")["repository"]
    assert repo["registryId"] == "111122223333"
    assert repo["repositoryUri"] == "111122223333.dkr.ecr.us-east-1.amazonaws.com/shared-name"
    assert other_region.describe_repositories()["repositories"] == []
    eu = other_region.create_repository(repositoryName="only-in-eu")["repository"]
    assert eu["repositoryArn"] == "arn:aws:ecr:eu-west-1:123456789012:repository/only-in-eu"
    assert [r["repositoryName"] for r in default.describe_repositories()["repositories"]] == ["shared-name"]
    with pytest.raises(ClientError):
        default.describe_repositories(repositoryNames=["only-in-eu"])
    other_account.delete_repository(repositoryName="shared-name")
    assert default.describe_repositories(repositoryNames=["shared-name"])["repositories"]


def test_unsigned_requests_use_the_defaults(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", {"repositoryName": "unsigned"})
    assert status == 200
    assert body["repository"]["repositoryArn"] == "arn:aws:ecr:us-east-1:123456789012:repository/unsigned"
    scoped = {"Authorization": "AWS4-HMAC-SHA256 Credential=444455556666/20260101/ap-south-1/ecr/aws4_request, "
                               "SignedHeaders=host, Signature=abc"}
    status, body, _ = raw_call(ecr_emulator.endpoint, "CreateRepository", {"repositoryName": "scoped"}, scoped)
    assert body["repository"]["repositoryArn"] == "arn:aws:ecr:ap-south-1:444455556666:repository/scoped"


def _post(url: str) -> int:
    with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST")) as resp:
        return resp.status


def test_health(ecr_emulator):
    with urllib.request.urlopen(ecr_emulator.endpoint + "/_emulator/health") as resp:
        body = json.loads(resp.read())
    assert body["status"] == "ok" and body["version"]


@pytest.mark.parametrize("path", ["/_emulator/reset", "/moto-api/reset"])
def test_reset_clears_every_registry(ecr_emulator, path):
    ecr_emulator.client.create_repository(repositoryName="a1")
    ecr_emulator.server.client(access_key="111122223333", region="eu-west-1").create_repository(repositoryName="b1")
    assert _post(ecr_emulator.endpoint + path) == 200
    assert ecr_emulator.client.describe_repositories()["repositories"] == []
    other = ecr_emulator.server.client(access_key="111122223333", region="eu-west-1")
    assert other.describe_repositories()["repositories"] == []


def test_clock_can_be_moved(ecr_emulator):
    server = ecr_emulator.server
    before = server.admin("/_emulator/clock")["now"]
    moved = server.admin("/_emulator/clock", {"advance": 86400 * 30})["now"]
    assert moved > before
    repo = ecr_emulator.client.create_repository(repositoryName="later")["repository"]
    assert repo["createdAt"].isoformat() >= moved[:10]
    assert server.admin("/_emulator/clock", {"set": "2030-01-02T03:04:05Z"})["now"].startswith("2030-01-02T03:04")
    assert server.admin("/_emulator/clock", {"real": True})["now"] < "2030"


@pytest.mark.parametrize("body", [b'{"advance": NaN}', b'{"advance": Infinity}', b'{"advance": -Infinity}'])
def test_the_clock_refuses_numbers_that_are_not_json(ecr_emulator, body):
    before = ecr_emulator.admin("/_emulator/clock")["now"]
    request = urllib.request.Request(ecr_emulator.endpoint + "/_emulator/clock", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert ecr_emulator.admin("/_emulator/clock")["now"] >= before
