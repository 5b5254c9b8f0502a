"""PutLifecyclePolicy refuses every policy that breaks one of AWS's documented rules, says which, and stores nothing."""

import json

import pytest
from botocore.exceptions import ClientError

REPO = "lc/validation"


def rule(priority=1, action=None, **selection):
    sel = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}
    sel.update(selection)
    return {"rulePriority": priority, "description": "a rule for the validation tests",
            "selection": {k: v for k, v in sel.items() if v is not None}, "action": action or {"type": "expire"}}


def policy(*rules) -> str:
    return json.dumps({"rules": list(rules)})


@pytest.fixture
def repo(ecr):
    ecr.create_repository(repositoryName=REPO)
    return ecr


def refused(ecr, text: str) -> str:
    with pytest.raises(ClientError) as info:
        ecr.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=text)
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as missing:
        ecr.get_lifecycle_policy(repositoryName=REPO)
    assert missing.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
    return error["Message"]


CASES = {
    "duplicate priority": (
        policy(rule(1), rule(1, tagStatus="tagged", tagPrefixList=["v"])),
        ["rulePriority 1", "unique"]),
    "any not last": (
        policy(rule(1, tagStatus="any"), rule(2, tagStatus="tagged", tagPrefixList=["v"])),
        ["rulePriority 1", "'any'", "highest rulePriority"]),
    "tagged without list": (
        policy(rule(3, tagStatus="tagged")),
        ["rulePriority 3", "requires tagPrefixList or tagPatternList"]),
    "tagged with both lists": (
        policy(rule(4, tagStatus="tagged", tagPrefixList=["v"], tagPatternList=["v*"])),
        ["rulePriority 4", "not both"]),
    "untagged with prefixes": (
        policy(rule(5, tagStatus="untagged", tagPrefixList=["v"])),
        ["rulePriority 5", "only allowed when tagStatus is 'tagged'", "'untagged'"]),
    "any with patterns": (
        policy(rule(6, tagStatus="any", tagPatternList=["v*"])),
        ["rulePriority 6", "only allowed when tagStatus is 'tagged'", "'any'"]),
    "five wildcards": (
        policy(rule(7, tagStatus="tagged", tagPatternList=["test*1*2*3*4*5*6"])),
        ["rulePriority 7", "test*1*2*3*4*5*6", "more than 4 wildcards"]),
    "two untagged rules": (
        policy(rule(1), rule(2, countType="sinceImagePushed", countUnit="days", countNumber=3)),
        ["rulePriority 2", "only one rule may select untagged images", "rulePriority 1"]),
    "shared prefix": (
        policy(rule(1, tagStatus="tagged", tagPrefixList=["prod"]),
               rule(2, tagStatus="tagged", tagPrefixList=["beta", "prod"])),
        ["rulePriority 2", "'prod'", "rulePriority 1", "unique"]),
    "since without unit": (
        policy(rule(8, countType="sinceImagePushed", countNumber=14)),
        ["rulePriority 8", "countUnit 'days' is required", "sinceImagePushed"]),
    "count with unit": (
        policy(rule(9, countUnit="days")),
        ["rulePriority 9", "countUnit is not allowed", "imageCountMoreThan"]),
    "unit other than days": (
        policy(rule(10, countType="sinceImagePushed", countUnit="hours", countNumber=1)),
        ["rulePriority 10", "selection/countUnit", "'hours'"]),
    "zero count": (
        policy(rule(11, countNumber=0)),
        ["rulePriority 11", "selection/countNumber", "0"]),
    "unknown count type": (
        policy(rule(12, countType="sinceImageBuilt")),
        ["rulePriority 12", "selection/countType", "sinceImageBuilt"]),
    "transitioned without archive": (
        policy(rule(13, countType="sinceImageTransitioned", countUnit="days", countNumber=365)),
        ["rulePriority 13", "sinceImageTransitioned requires storageClass 'archive'"]),
    "transitioned under 90 days": (
        policy(rule(14, countType="sinceImageTransitioned", countUnit="days", countNumber=30,
                    storageClass="archive")),
        ["rulePriority 14", "at least 90 days"]),
    "archive class with push age": (
        policy(rule(15, countType="sinceImagePushed", countUnit="days", countNumber=3, storageClass="archive")),
        ["rulePriority 15", "storageClass 'archive' is only allowed"]),
    "transition without target": (
        policy(rule(16, countType="sinceImagePushed", countUnit="days", countNumber=30,
                    action={"type": "transition"})),
        ["rulePriority 16", "requires targetStorageClass 'archive'"]),
    "transition of archived": (
        policy(rule(17, countType="sinceImageTransitioned", countUnit="days", countNumber=365,
                    storageClass="archive", action={"type": "transition", "targetStorageClass": "archive"})),
        ["rulePriority 17", "sinceImageTransitioned can only be used with action type 'expire'"]),
    "expire by pull age": (
        policy(rule(18, countType="sinceImagePulled", countUnit="days", countNumber=90)),
        ["rulePriority 18", "sinceImagePulled can only be used with action type 'transition'"]),
    "expire with target": (
        policy(rule(19, action={"type": "expire", "targetStorageClass": "archive"})),
        ["rulePriority 19", "targetStorageClass is only allowed when action type is 'transition'"]),
    "unknown action": (
        policy(rule(20, action={"type": "delete"})),
        ["rulePriority 20", "action/type", "'delete'"]),
    "unknown selection field": (
        policy(rule(21, tagSuffixList=["x"])),
        ["rulePriority 21", "tagSuffixList"]),
    "missing action": (
        json.dumps({"rules": [{"rulePriority": 22, "selection": rule()["selection"]}]}),
        ["rulePriority 22", "'action' is a required property"]),
    "no rules": (
        '{"rules": []' + " " * 100 + "}",
        ["rules", "should be non-empty"]),
    "not json": (
        "{\"rules\": [ this is not JSON, though it is long enough to pass the length check of the botocore model ] }",
        ["not valid JSON"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_policy_breaking_a_rule_is_refused(repo, name):
    text, fragments = CASES[name]
    message = refused(repo, text)
    assert message.startswith("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
                              "'Lifecycle policy validation failure: ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_refusal_keeps_the_previous_policy(repo):
    good = policy(rule(1))
    repo.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=good)
    with pytest.raises(ClientError):
        repo.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=policy(rule(1, countNumber=0)))
    assert repo.get_lifecycle_policy(repositoryName=REPO)["lifecyclePolicyText"] == good


def test_documented_wildcard_limit_accepts_four(repo):
    text = policy(rule(1, tagStatus="tagged", tagPatternList=["*test*1*2*3", "test*1*2*3*"]))
    assert repo.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=text)["lifecyclePolicyText"] == text


def test_any_rules_may_close_each_storage_class(repo):
    """AWS's own archive example: an 'any' rule for standard images, then an 'any' rule for archived ones."""
    text = policy(
        rule(1, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=30,
             action={"type": "transition", "targetStorageClass": "archive"}),
        rule(2, tagStatus="any", storageClass="archive", countType="sinceImageTransitioned", countUnit="days",
             countNumber=365))
    repo.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=text)


def test_preview_validates_its_policy_too(repo):
    with pytest.raises(ClientError) as info:
        repo.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=policy(rule(1, countNumber=0)))
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as missing:
        repo.get_lifecycle_policy_preview(repositoryName=REPO)
    assert missing.value.response["Error"]["Code"] == "LifecyclePolicyPreviewNotFoundException"


def test_policy_for_missing_repository(ecr):
    with pytest.raises(ClientError) as info:
        ecr.put_lifecycle_policy(repositoryName="lc/absent", lifecyclePolicyText=policy(rule(1)))
    assert info.value.response["Error"]["Code"] == "RepositoryNotFoundException"
