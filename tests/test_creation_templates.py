"""Repository creation templates through boto3 against a live server, and the pure helpers that repository
creation (pull through cache, create on push, replication) will call."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from ecr_emulator.models import creation_templates as templates
from ecr_emulator.models.repository import Repository, default_kms_key
from ecr_emulator.models.store import Registry
from ecr_emulator.testing import running_server
from helpers import error_of

ACCOUNT = "123456789012"
OTHER = "210987654321"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecr-templates"
KMS = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0c7e4b0e-1111-2222-3333-444455556666"
PULL = {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}
REPOSITORY_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [PULL]})
LIFECYCLE_POLICY = json.dumps({"rules": [{"rulePriority": 1, "selection": {
    "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
    "action": {"type": "expire"}}]})
FILTERS = [{"filterType": "WILDCARD", "filter": "latest*"}]


def body(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def stamps(template: dict) -> tuple:
    return template.pop("createdAt"), template.pop("updatedAt")


def describe_all(ecr, **kwargs) -> list[dict]:
    return ecr.describe_repository_creation_templates(**kwargs)["repositoryCreationTemplates"]


def refused(call, code: str, *fragments: str) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    got, message = error_of(exc)
    assert got == code, message
    for fragment in fragments:
        assert fragment in message, message
    return message


FULL = {"prefix": "prod/team", "description": "team repositories", "appliedFor": ["PULL_THROUGH_CACHE", "REPLICATION"],
        "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": KMS},
        "resourceTags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}],
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": FILTERS,
        "repositoryPolicy": REPOSITORY_POLICY, "lifecyclePolicy": LIFECYCLE_POLICY, "customRoleArn": ROLE}


def test_create_describe_update_delete(ecr_emulator, ecr):
    created = body(ecr.create_repository_creation_template(**FULL))
    assert created["registryId"] == ACCOUNT
    template = created["repositoryCreationTemplate"]
    created_at, updated_at = stamps(template)
    assert created_at == updated_at and created_at.year >= 2024
    assert template == FULL

    described = body(ecr.describe_repository_creation_templates())
    assert described["registryId"] == ACCOUNT and "nextToken" not in described
    [listed] = described["repositoryCreationTemplates"]
    assert stamps(listed) == (created_at, updated_at) and listed == FULL

    ecr_emulator.admin("/_emulator/clock", {"advance": 3600})
    updated = body(ecr.update_repository_creation_template(
        prefix="prod/team", description="", resourceTags=[{"Key": "owner", "Value": "ops"}],
        appliedFor=["CREATE_ON_PUSH"], repositoryPolicy=""))["repositoryCreationTemplate"]
    created_again, updated_again = stamps(updated)
    hour = datetime.timedelta(hours=1)
    assert created_again == created_at and hour <= updated_again - updated_at < hour + datetime.timedelta(minutes=1)
    expected = {**FULL, "resourceTags": [{"Key": "owner", "Value": "ops"}], "appliedFor": ["CREATE_ON_PUSH"]}
    del expected["description"], expected["repositoryPolicy"]
    assert updated == expected
    [listed] = describe_all(ecr)
    stamps(listed)
    assert listed == expected

    deleted = body(ecr.delete_repository_creation_template(prefix="prod/team"))
    assert deleted["registryId"] == ACCOUNT
    stamps(deleted["repositoryCreationTemplate"])
    assert deleted["repositoryCreationTemplate"] == expected
    assert describe_all(ecr) == []
    refused(lambda: ecr.delete_repository_creation_template(prefix="prod/team"), "TemplateNotFoundException",
            "prefix 'prod/team'", ACCOUNT)


def test_create_fills_the_defaults_a_repository_gets(ecr):
    template = ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION", "REPLICATION"])[
        "repositoryCreationTemplate"]
    stamps(template)
    assert template == {"prefix": "ROOT", "appliedFor": ["REPLICATION"], "imageTagMutability": "MUTABLE",
                        "encryptionConfiguration": {"encryptionType": "AES256"}}


def test_a_prefix_is_one_template_with_or_without_its_trailing_slash(ecr):
    ecr.create_repository_creation_template(prefix="prod/", appliedFor=["REPLICATION"], description="first")
    for prefix in ("prod", "prod/"):
        refused(lambda prefix=prefix: ecr.create_repository_creation_template(prefix=prefix,
                                                                              appliedFor=["CREATE_ON_PUSH"]),
                "TemplateAlreadyExistsException", "prefix 'prod/' already exists", ACCOUNT)
    [template] = describe_all(ecr, prefixes=["prod"])
    assert (template["prefix"], template["description"], template["appliedFor"]) == ("prod/", "first", ["REPLICATION"])
    ecr.update_repository_creation_template(prefix="prod", description="second")
    assert describe_all(ecr)[0]["description"] == "second"


INVALID = {
    "exclusion without filters": ({"imageTagMutability": "MUTABLE_WITH_EXCLUSION"}, "InvalidParameterException",
                                  "exclusion filters are required"),
    "filters without exclusion": ({"imageTagMutabilityExclusionFilters": FILTERS}, "InvalidParameterException",
                                  "exclusion filters are only allowed"),
    "AES256 with a key": ({"encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": KMS}},
                          "InvalidParameterException", "kmsKey can only be specified"),
    "reserved tag key": ({"resourceTags": [{"Key": "aws:team", "Value": "x"}]}, "InvalidTagParameterException",
                         "reserved prefix 'aws:'"),
    "duplicate tag key": ({"resourceTags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]},
                          "InvalidTagParameterException", "appears more than once"),
    "too many tags": ({"resourceTags": [{"Key": f"k{n}", "Value": "v"} for n in range(51)]},
                      "TooManyTagsException", "at most 50 tags"),
    "policy grammar": ({"repositoryPolicy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "ecr:*"}]})},
                       "InvalidParameterException", "Invalid repository policy provided"),
    "policy not JSON": ({"repositoryPolicy": "{"}, "InvalidParameterException", "Invalid repository policy provided"),
    "policy locks the account out": (
        {"repositoryPolicy": json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*",
                                                        "Action": "ecr:SetRepositoryPolicy"}]})},
        "InvalidParameterException", "Invalid repository policy provided"),
    "lifecycle rule": ({"lifecyclePolicy": json.dumps({"rules": [{"rulePriority": 1, "selection": {
        "tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]})},
        "InvalidParameterException", "Lifecycle policy validation failure", "requires tagPrefixList or tagPatternList"),
    "lifecycle not JSON": ({"lifecyclePolicy": "rules"}, "InvalidParameterException",
                           "Lifecycle policy validation failure"),
    "role of another account": ({"customRoleArn": f"arn:aws:iam::{OTHER}:role/r"}, "InvalidParameterException",
                                "Invalid parameter at 'customRoleArn'", ACCOUNT),
    "not a role": ({"customRoleArn": f"arn:aws:iam::{ACCOUNT}:user/u"}, "InvalidParameterException",
                   "Invalid parameter at 'customRoleArn'"),
    "no action": ({"appliedFor": []}, "InvalidParameterException", "Invalid parameter at 'appliedFor'"),
    "prefix off the pattern": ({"prefix": "Prod"}, "InvalidParameterException", "'prefix'"),
    "unknown action": ({"appliedFor": ["PUSH"]}, "InvalidParameterException", "'appliedFor"),
}


@pytest.mark.parametrize("change,code,fragments", [(c[0], c[1], c[2:]) for c in INVALID.values()], ids=INVALID)
def test_create_refuses_what_a_repository_would_refuse_and_stores_nothing(ecr, change, code, fragments):
    refused(lambda: ecr.create_repository_creation_template(**{"prefix": "app", "appliedFor": ["REPLICATION"],
                                                               **change}), code, *fragments)
    assert describe_all(ecr) == []


@pytest.mark.parametrize("change,code,fragments", [(c[0], c[1], c[2:]) for c in INVALID.values()], ids=INVALID)
def test_update_refuses_the_same_and_changes_nothing(ecr, change, code, fragments):
    before = ecr.create_repository_creation_template(prefix="app", appliedFor=["REPLICATION"], description="kept")[
        "repositoryCreationTemplate"]
    refused(lambda: ecr.update_repository_creation_template(**{"prefix": "app", **change}), code, *fragments)
    assert describe_all(ecr) == [before]


def test_update_changes_only_what_it_is_given(ecr):
    ecr.create_repository_creation_template(**FULL)
    ecr.update_repository_creation_template(prefix="prod/team", imageTagMutability="MUTABLE")
    [template] = describe_all(ecr)
    assert template["imageTagMutability"] == "MUTABLE" and "imageTagMutabilityExclusionFilters" not in template
    stamps(template)
    unchanged = {k: v for k, v in FULL.items() if k != "imageTagMutabilityExclusionFilters"}
    assert template == {**unchanged, "imageTagMutability": "MUTABLE"}

    refused(lambda: ecr.update_repository_creation_template(prefix="prod/team",
                                                            imageTagMutabilityExclusionFilters=FILTERS),
            "InvalidParameterException", "exclusion filters are only allowed")
    ecr.update_repository_creation_template(prefix="prod/team", imageTagMutability="MUTABLE_WITH_EXCLUSION",
                                            imageTagMutabilityExclusionFilters=FILTERS)
    new_filters = [{"filterType": "WILDCARD", "filter": "dev-*"}]
    ecr.update_repository_creation_template(prefix="prod/team", imageTagMutabilityExclusionFilters=new_filters)
    ecr.update_repository_creation_template(prefix="prod/team", encryptionConfiguration={"encryptionType": "KMS"},
                                            lifecyclePolicy="", customRoleArn="")
    [template] = describe_all(ecr)
    assert template["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert template["imageTagMutabilityExclusionFilters"] == new_filters
    assert template["encryptionConfiguration"] == {"encryptionType": "KMS"}
    assert "lifecyclePolicy" not in template and "customRoleArn" not in template
    assert template["repositoryPolicy"] == REPOSITORY_POLICY and template["description"] == FULL["description"]


def test_update_of_a_missing_template(ecr):
    ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"])
    message = refused(lambda: ecr.update_repository_creation_template(prefix="prod/team", description="x"),
                      "TemplateNotFoundException")
    assert message == (f"The repository creation template with prefix 'prod/team' does not exist in the registry "
                       f"with id '{ACCOUNT}'")
    assert [t["prefix"] for t in describe_all(ecr)] == ["prod"]


def test_describe_filters_pages_and_enforces_the_quota(ecr):
    prefixes = [f"team{n:03d}" for n in range(100)]
    for prefix in reversed(prefixes):
        ecr.create_repository_creation_template(prefix=prefix, appliedFor=["CREATE_ON_PUSH"])
    refused(lambda: ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"]),
            "LimitExceededException", "maximum of 100")

    first = ecr.describe_repository_creation_templates()
    assert [t["prefix"] for t in first["repositoryCreationTemplates"]] == prefixes and "nextToken" not in first
    seen, token = [], None
    while True:
        page = ecr.describe_repository_creation_templates(maxResults=30, **({"nextToken": token} if token else {}))
        assert page["registryId"] == ACCOUNT and len(page["repositoryCreationTemplates"]) <= 30
        seen += [t["prefix"] for t in page["repositoryCreationTemplates"]]
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == prefixes

    named = describe_all(ecr, prefixes=["team050", "team007/", "missing"])
    assert [t["prefix"] for t in named] == ["team007", "team050"]
    page = ecr.describe_repository_creation_templates(prefixes=["team001", "team002", "team003"], maxResults=2)
    assert [t["prefix"] for t in page["repositoryCreationTemplates"]] == ["team001", "team002"]
    rest = ecr.describe_repository_creation_templates(prefixes=["team001", "team002", "team003"],
                                                      nextToken=page["nextToken"])
    assert [t["prefix"] for t in rest["repositoryCreationTemplates"]] == ["team003"] and "nextToken" not in rest
    refused(lambda: ecr.describe_repository_creation_templates(nextToken="garbage"), "InvalidParameterException",
            "nextToken")

    ecr.delete_repository_creation_template(prefix="team000")
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])
    assert describe_all(ecr, prefixes=["ROOT"])[0]["prefix"] == "ROOT"


def test_templates_are_invisible_to_other_accounts(ecr_emulator, ecr):
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])
    other = ecr_emulator.server.client(access_key=OTHER)
    assert body(other.describe_repository_creation_templates()) == {"registryId": OTHER,
                                                                    "repositoryCreationTemplates": []}
    refused(lambda: other.delete_repository_creation_template(prefix="ROOT"), "TemplateNotFoundException", OTHER)
    other.create_repository_creation_template(prefix="ROOT", appliedFor=["CREATE_ON_PUSH"])
    assert describe_all(ecr)[0]["appliedFor"] == ["REPLICATION"]


def test_templates_survive_a_restart(tmp_path):
    with running_server("--state-dir", str(tmp_path)) as server:
        created = server.client().create_repository_creation_template(**FULL)["repositoryCreationTemplate"]
        server.client().update_repository_creation_template(prefix="prod/team", description="after")
    with running_server("--state-dir", str(tmp_path)) as server:
        [template] = describe_all(server.client())
    assert template == {**created, "description": "after", "updatedAt": template["updatedAt"]}
    assert template["updatedAt"] >= created["updatedAt"]


def registry_with(*specs) -> Registry:
    registry = Registry(ACCOUNT, "us-east-1")
    registry.settings[templates.TEMPLATES] = {
        templates.template_key(prefix): {"prefix": prefix, "appliedFor": list(applied)} for prefix, applied in specs}
    return registry


@pytest.mark.parametrize("name,action,expected", [
    ("prod/team/api", "REPLICATION", "prod/team"),
    ("prod/team/api", "PULL_THROUGH_CACHE", "prod"),
    ("prod/other", "REPLICATION", "prod"),
    ("prod/teamwork/api", "REPLICATION", "prod"),
    ("prod", "REPLICATION", "ROOT"),
    ("production/api", "REPLICATION", "ROOT"),
    ("dev/api", "PULL_THROUGH_CACHE", None),
    ("dev/api", "CREATE_ON_PUSH", "dev/"),
    ("dev/api", "REPLICATION", "ROOT"),
])
def test_matching_template(name, action, expected):
    registry = registry_with(("ROOT", ["REPLICATION"]), ("prod", ["REPLICATION", "PULL_THROUGH_CACHE"]),
                             ("prod/team", ["REPLICATION"]), ("dev/", ["CREATE_ON_PUSH"]))
    found = templates.matching_template(registry, name, action)
    assert (found and found["prefix"]) == expected


def test_matching_template_without_templates():
    assert templates.matching_template(Registry(ACCOUNT, "us-east-1"), "prod/api", "REPLICATION") is None


def test_apply_template_gives_the_repository_every_setting():
    repo = Repository(ACCOUNT, "us-west-2", "prod/team/api", 0.0)
    templates.apply_template({**FULL, "encryptionConfiguration": {"encryptionType": "KMS_DSSE"}}, repo)
    assert repo.tag_mutability == "IMMUTABLE_WITH_EXCLUSION" and repo.mutability_exclusions == FILTERS
    assert repo.mutability_exclusions is not FILTERS
    assert repo.encryption == {"encryptionType": "KMS_DSSE", "kmsKey": default_kms_key(ACCOUNT, "us-west-2")}
    assert repo.tags == {"team": "core", "env": "prod"}
    assert repo.policy_text == REPOSITORY_POLICY
    assert repo.lifecycle_policy["text"] == LIFECYCLE_POLICY and repo.lifecycle_policy["lastEvaluatedAt"] is None
    assert repo.lifecycle_policy["document"]["rules"][0]["selection"]["countNumber"] == 14

    templates.apply_template(FULL, repo)
    assert repo.encryption == {"encryptionType": "KMS", "kmsKey": KMS}

    templates.apply_template({"prefix": "ROOT", "appliedFor": ["REPLICATION"]}, repo)
    assert (repo.tag_mutability, repo.mutability_exclusions, repo.encryption, repo.tags, repo.policy_text,
            repo.lifecycle_policy) == ("MUTABLE", [], {"encryptionType": "AES256"}, {}, None, None)
