"""Account settings, registry scanning, signing and pull-time update exclusions through boto3 against a live
server, and the pure helpers image handlers use."""

import pytest
from botocore.exceptions import ClientError

from ecr_emulator.models import settings, wildcards
from ecr_emulator.models.repository import Repository
from ecr_emulator.models.store import Registry
from helpers import error_of

ACCOUNT = "123456789012"
OTHER = "210987654321"
PROFILE = f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/release_profile"


def body(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


@pytest.mark.parametrize("name,default", [("BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"),
                                          ("REGISTRY_POLICY_SCOPE", "V2"), ("BLOB_MOUNTING", "DISABLED")])
def test_account_setting_defaults(ecr, name, default):
    assert body(ecr.get_account_setting(name=name)) == {"name": name, "value": default}


@pytest.mark.parametrize("name,value", [("BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"), ("REGISTRY_POLICY_SCOPE", "V1"),
                                        ("BLOB_MOUNTING", "ENABLED")])
def test_put_account_setting(ecr, name, value):
    assert body(ecr.put_account_setting(name=name, value=value)) == {"name": name, "value": value}
    assert ecr.get_account_setting(name=name)["value"] == value


def test_unknown_account_setting_name(ecr):
    for call in (lambda: ecr.get_account_setting(name="NOPE"), lambda: ecr.put_account_setting(name="NOPE", value="x")):
        with pytest.raises(ClientError) as exc:
            call()
        code, message = error_of(exc)
        assert code == "InvalidParameterException"
        assert "Invalid parameter at 'name'" in message and "REGISTRY_POLICY_SCOPE" in message


@pytest.mark.parametrize("name,value", [("BASIC_SCAN_TYPE_VERSION", "CLAIR"), ("REGISTRY_POLICY_SCOPE", "V3"),
                                        ("BLOB_MOUNTING", "enabled")])
def test_invalid_account_setting_value(ecr, name, value):
    with pytest.raises(ClientError) as exc:
        ecr.put_account_setting(name=name, value=value)
    code, message = error_of(exc)
    assert code == "InvalidParameterException" and f"Value for {name} must be one of" in message
    assert ecr.get_account_setting(name=name)["value"] == settings.ACCOUNT_SETTING_VALUES[name][0]


def test_default_registry_scanning_configuration(ecr):
    assert body(ecr.get_registry_scanning_configuration()) == {
        "registryId": ACCOUNT, "scanningConfiguration": {"scanType": "BASIC", "rules": []}}


def rule(frequency: str, *filters: str) -> dict:
    return {"scanFrequency": frequency, "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"}
                                                               for f in filters]}


def test_put_registry_scanning_configuration(ecr):
    rules = [rule("CONTINUOUS_SCAN", "prod/*"), rule("SCAN_ON_PUSH", "*")]
    put = ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)
    assert put["registryScanningConfiguration"] == {"scanType": "ENHANCED", "rules": rules}
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "ENHANCED",
                                                                                  "rules": rules}
    ecr.put_registry_scanning_configuration(rules=[rule("SCAN_ON_PUSH", "team*")])
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {
        "scanType": "BASIC", "rules": [rule("SCAN_ON_PUSH", "team*")]}


@pytest.mark.parametrize("scan_type,rules,detail", [
    ("BASIC", [rule("CONTINUOUS_SCAN", "*")], "CONTINUOUS_SCAN is not supported for scanType BASIC"),
    ("BASIC", [rule("MANUAL", "*")], "MANUAL is not supported for scanType BASIC"),
    ("ENHANCED", [rule("MANUAL", "*")], "MANUAL is not supported for scanType ENHANCED"),
    ("ENHANCED", [rule("SCAN_ON_PUSH", "a*"), rule("SCAN_ON_PUSH", "b*")], "SCAN_ON_PUSH is repeated"),
])
def test_invalid_registry_scanning_rules(ecr, scan_type, rules, detail):
    with pytest.raises(ClientError) as exc:
        ecr.put_registry_scanning_configuration(scanType=scan_type, rules=rules)
    code, message = error_of(exc)
    assert code == "InvalidParameterException" and detail in message
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == []


def test_batch_get_repository_scanning_configuration(ecr):
    for name in ("prod/api", "prod/web", "dev/tool", "plain"):
        ecr.create_repository(repositoryName=name)
    ecr.put_image_scanning_configuration(repositoryName="plain", imageScanningConfiguration={"scanOnPush": True})
    result = ecr.batch_get_repository_scanning_configuration(repositoryNames=["prod/api", "dev/tool", "plain",
                                                                              "missing"])
    by_name = {c["repositoryName"]: c for c in result["scanningConfigurations"]}
    assert by_name["prod/api"] == {"repositoryArn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/prod/api",
                                   "repositoryName": "prod/api", "scanOnPush": False, "scanFrequency": "MANUAL",
                                   "appliedScanFilters": []}
    assert by_name["plain"]["scanOnPush"] is True and by_name["plain"]["scanFrequency"] == "SCAN_ON_PUSH"
    assert result["failures"] == [{"repositoryName": "missing", "failureCode": "REPOSITORY_NOT_FOUND",
                                   "failureReason": "The repository with name 'missing' does not exist in the "
                                                    f"registry with id '{ACCOUNT}'"}]

    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[rule("SCAN_ON_PUSH", "prod/*", "*tool")])
    result = ecr.batch_get_repository_scanning_configuration(repositoryNames=["prod/api", "dev/tool"])
    assert [(c["scanFrequency"], c["appliedScanFilters"]) for c in result["scanningConfigurations"]] == [
        ("SCAN_ON_PUSH", [{"filter": "prod/*", "filterType": "WILDCARD"}]),
        ("SCAN_ON_PUSH", [{"filter": "*tool", "filterType": "WILDCARD"}])]
    assert result["failures"] == []

    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[rule("CONTINUOUS_SCAN", "prod/api"),
                                                                        rule("SCAN_ON_PUSH", "prod/*")])
    result = ecr.batch_get_repository_scanning_configuration(repositoryNames=["prod/api", "prod/web", "plain"])
    assert [(c["repositoryName"], c["scanFrequency"], c["scanOnPush"]) for c in result["scanningConfigurations"]] == [
        ("prod/api", "CONTINUOUS_SCAN", True), ("prod/web", "SCAN_ON_PUSH", True), ("plain", "MANUAL", False)]


def test_put_get_delete_signing_configuration(ecr):
    with pytest.raises(ClientError) as exc:
        ecr.get_signing_configuration()
    assert error_of(exc) == ("SigningConfigurationNotFoundException",
                             f"Signing configuration does not exist in the registry with id '{ACCOUNT}'")
    config = {"rules": [{"signingProfileArn": PROFILE,
                         "repositoryFilters": [{"filter": "prod/*", "filterType": "WILDCARD_MATCH"}]},
                        {"signingProfileArn": PROFILE}]}
    assert ecr.put_signing_configuration(signingConfiguration=config)["signingConfiguration"] == config
    assert body(ecr.get_signing_configuration()) == {"registryId": ACCOUNT, "signingConfiguration": config}
    assert body(ecr.delete_signing_configuration()) == {"registryId": ACCOUNT, "signingConfiguration": config}
    with pytest.raises(ClientError) as exc:
        ecr.delete_signing_configuration()
    assert error_of(exc)[0] == "SigningConfigurationNotFoundException"


def test_signing_configuration_is_checked_against_the_model(ecr):
    with pytest.raises(ClientError) as exc:
        ecr.put_signing_configuration(signingConfiguration={"rules": [{"signingProfileArn": "arn:aws:s3:::bucket"}]})
    assert error_of(exc)[0] == "InvalidParameterException"


def role(n: int) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/scanner-{n:03d}"


def test_register_list_deregister_pull_time_update_exclusions(ecr):
    assert body(ecr.list_pull_time_update_exclusions()) == {"pullTimeUpdateExclusions": []}
    registered = ecr.register_pull_time_update_exclusion(principalArn=role(1))
    assert registered["principalArn"] == role(1) and registered["createdAt"].year >= 2024
    with pytest.raises(ClientError) as exc:
        ecr.register_pull_time_update_exclusion(principalArn=role(1))
    assert error_of(exc)[0] == "ExclusionAlreadyExistsException" and role(1) in error_of(exc)[1]
    assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == [role(1)]
    assert body(ecr.deregister_pull_time_update_exclusion(principalArn=role(1))) == {"principalArn": role(1)}
    with pytest.raises(ClientError) as exc:
        ecr.deregister_pull_time_update_exclusion(principalArn=role(1))
    assert error_of(exc)[0] == "ExclusionNotFoundException" and role(1) in error_of(exc)[1]


def test_pull_time_update_exclusions_page_and_are_limited(ecr):
    for n in reversed(range(100)):
        ecr.register_pull_time_update_exclusion(principalArn=role(n))
    with pytest.raises(ClientError) as exc:
        ecr.register_pull_time_update_exclusion(principalArn=role(100))
    assert error_of(exc)[0] == "LimitExceededException"
    assert ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == [role(n) for n in range(100)]
    seen, token = [], None
    while True:
        page = ecr.list_pull_time_update_exclusions(maxResults=30, **({"nextToken": token} if token else {}))
        seen += page["pullTimeUpdateExclusions"]
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == [role(n) for n in range(100)]
    with pytest.raises(ClientError) as exc:
        ecr.list_pull_time_update_exclusions(nextToken="garbage")
    assert error_of(exc)[0] == "InvalidParameterException"


def test_settings_are_invisible_to_other_accounts(ecr_emulator, ecr):
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[rule("SCAN_ON_PUSH", "*")])
    ecr.put_signing_configuration(signingConfiguration={"rules": [{"signingProfileArn": PROFILE}]})
    ecr.register_pull_time_update_exclusion(principalArn=role(1))
    other = ecr_emulator.server.client(access_key=OTHER)
    assert other.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"
    assert other.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    assert other.get_registry_scanning_configuration()["registryId"] == OTHER
    with pytest.raises(ClientError) as exc:
        other.get_signing_configuration()
    assert error_of(exc)[0] == "SigningConfigurationNotFoundException"
    assert other.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"] == []


def test_helpers_read_the_registry_settings():
    registry = Registry(ACCOUNT, "us-east-1")
    repo = Repository(ACCOUNT, "us-east-1", "prod/api", 0.0)
    assert not settings.scan_on_push(registry, repo)
    repo.scan_on_push = True
    assert settings.scan_on_push(registry, repo)
    registry.settings[settings.SCANNING] = {"scanType": "ENHANCED", "rules": []}
    assert not settings.scan_on_push(registry, repo)
    registry.settings[settings.SCANNING]["rules"] = [rule("SCAN_ON_PUSH", "prod/*")]
    assert settings.scan_on_push(registry, repo)

    assert not settings.pull_time_update_excluded(registry, role(1))
    registry.settings[settings.PULL_TIME_EXCLUSIONS] = {role(1): 0.0}
    assert settings.pull_time_update_excluded(registry, role(1))
    assert not settings.pull_time_update_excluded(registry, role(2))
    assert not settings.pull_time_update_excluded(registry, None)


@pytest.mark.parametrize("pattern,name,expected", [
    ("*", "a/b", True), ("prod/*", "prod/api", True), ("prod/*", "dev/prod/api", False), ("*prod*", "x-prod-y", True),
    ("a.b", "aXb", False), ("api", "api", True), ("api", "api2", False)])
def test_wildcard_match(pattern, name, expected):
    assert wildcards.matches(pattern, name) is expected
