"""Pull through cache rules through boto3 (and once through the aws CLI) against a live server, and the pure rule
checks of the model."""

import datetime
import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from ecr_emulator.models import pull_through_cache as ptc
from ecr_emulator.testing import running_server
from helpers import error_of, require_tool

ACCOUNT = "123456789012"
OTHER = "210987654321"
REGION = "us-east-1"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
OTHER_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ecr-pullthroughcache/rotated-XyZ123"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecr-ptc-role"
UPSTREAM_ECR = f"{OTHER}.dkr.ecr.eu-west-1.amazonaws.com"
NOT_FOUND = "PullThroughCacheRuleNotFoundException"


def body(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def rules(ecr, **kwargs) -> list[dict]:
    return ecr.describe_pull_through_cache_rules(**kwargs)["pullThroughCacheRules"]


def refused(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return error_of(exc)


def near(moment: datetime.datetime, when: float) -> bool:
    """The model clock keeps running after it is set; a minute is room enough for a test."""
    return 0 <= moment.timestamp() - when < 60


def set_clock(ecr_emulator, when: str) -> float:
    ecr_emulator.server.admin("/_emulator/clock", {"set": when})
    return datetime.datetime.fromisoformat(when).timestamp()


@pytest.mark.parametrize("url,upstream,extra", [
    ("public.ecr.aws", "ecr-public", {}),
    ("registry.k8s.io", "k8s", {}),
    ("quay.io", "quay", {}),
    ("registry-1.docker.io", "docker-hub", {"credentialArn": SECRET}),
    ("ghcr.io", "github-container-registry", {"credentialArn": SECRET}),
    ("registry.gitlab.com", "gitlab-container-registry", {"credentialArn": SECRET}),
    ("myregistry.azurecr.io", "azure-container-registry", {"credentialArn": SECRET}),
    ("cgr.dev", "chainguard", {"credentialArn": SECRET}),
])
def test_create_infers_the_upstream_registry_from_the_url(ecr_emulator, ecr, url, upstream, extra):
    created_at = set_clock(ecr_emulator, "2025-03-01T12:00:00+00:00")
    created = body(ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="cache", upstreamRegistryUrl=url, **extra))
    assert near(created.pop("createdAt"), created_at)
    assert created == {"ecrRepositoryPrefix": "cache", "upstreamRegistryUrl": url, "registryId": ACCOUNT,
                       "upstreamRegistry": upstream, **extra}
    [described] = rules(ecr)
    assert described["upstreamRegistry"] == upstream and described.get("credentialArn") == extra.get("credentialArn")
    assert described["createdAt"] == described["updatedAt"] and near(described["createdAt"], created_at)
    assert "upstreamRepositoryPrefix" not in described and "customRoleArn" not in described


def test_create_ecr_to_ecr_rule(ecr):
    created = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="mirror", upstreamRegistryUrl=UPSTREAM_ECR,
                                                 upstreamRegistry="ecr", customRoleArn=ROLE,
                                                 upstreamRepositoryPrefix="team-a/")
    assert created["upstreamRegistry"] == "ecr" and created["customRoleArn"] == ROLE
    assert created["upstreamRepositoryPrefix"] == "team-a"
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ROOT", upstreamRegistryUrl=UPSTREAM_ECR,
                                       customRoleArn=ROLE)
    # Within one account no role is needed.
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="same",
                                       upstreamRegistryUrl=f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com")
    described = {r["ecrRepositoryPrefix"]: r for r in rules(ecr)}
    assert sorted(described) == ["ROOT", "mirror", "same"]
    assert described["ROOT"]["upstreamRepositoryPrefix"] == "ROOT"
    assert described["same"]["upstreamRepositoryPrefix"] == "ROOT" and "customRoleArn" not in described["same"]


@pytest.mark.parametrize("url", ["harbor.example.com", "docker.io", "https://quay.io", "public.ecr.aws/extra",
                                 "123.dkr.ecr.us-east-1.amazonaws.com", "my_reg.azurecr.io"])
def test_unsupported_upstream_url(ecr, url):
    assert refused(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="cache", upstreamRegistryUrl=url) == (
        "UnsupportedUpstreamRegistryException",
        f"The upstream registry URL {url} is invalid. Specify a valid upstream registry URL and try again")
    assert rules(ecr) == []


@pytest.mark.parametrize("kwargs,code,detail", [
    ({"upstreamRegistryUrl": "quay.io", "upstreamRegistry": "docker-hub"}, "InvalidParameterException",
     "upstreamRegistry docker-hub does not match the upstream registry URL quay.io, which is quay"),
    ({"upstreamRegistryUrl": "registry-1.docker.io"}, "UnsupportedUpstreamRegistryException",
     "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN"),
    ({"upstreamRegistryUrl": "ghcr.io", "upstreamRegistry": "github-container-registry"},
     "UnsupportedUpstreamRegistryException", "requires authentication"),
    ({"upstreamRegistryUrl": UPSTREAM_ECR}, "UnsupportedUpstreamRegistryException",
     "Specify a valid IAM role ARN in customRoleArn"),
    ({"upstreamRegistryUrl": UPSTREAM_ECR, "customRoleArn": ROLE, "credentialArn": SECRET},
     "InvalidParameterException", "credentialArn is not supported for an Amazon ECR upstream registry"),
    ({"upstreamRegistryUrl": UPSTREAM_ECR, "customRoleArn": f"arn:aws:iam::{OTHER}:role/r"},
     "InvalidParameterException", f"The role must be in the account of the registry ({ACCOUNT})"),
    ({"upstreamRegistryUrl": UPSTREAM_ECR, "customRoleArn": f"arn:aws:iam::{ACCOUNT}:user/u"},
     "InvalidParameterException", "customRoleArn must be an IAM role ARN"),
    ({"upstreamRegistryUrl": "quay.io", "customRoleArn": ROLE}, "InvalidParameterException",
     "customRoleArn is supported only for an Amazon ECR upstream registry"),
    ({"upstreamRegistryUrl": "quay.io", "upstreamRepositoryPrefix": "team"}, "InvalidParameterException",
     "upstreamRepositoryPrefix is supported only for an Amazon ECR upstream registry"),
    ({"upstreamRegistryUrl": "registry-1.docker.io",
      "credentialArn": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:ecr-pullthroughcache/x"},
     "InvalidParameterException", f"must be in the account and Region of the pull through cache rule ({ACCOUNT}, "
                                  f"{REGION})"),
    ({"upstreamRegistryUrl": "registry-1.docker.io",
      "credentialArn": f"arn:aws:secretsmanager:{REGION}:{OTHER}:secret:ecr-pullthroughcache/x"},
     "InvalidParameterException", "must be in the account and Region"),
    ({"upstreamRegistryUrl": "registry-1.docker.io",
      "credentialArn": "arn:aws:secretsmanager:somewhere:secret:ecr-pullthroughcache/x-123456789012"},
     "InvalidParameterException", "credentialArn must be a Secrets Manager secret ARN"),
])
def test_create_refuses_inconsistent_rules(ecr, kwargs, code, detail):
    error = refused(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="cache", **kwargs)
    assert error[0] == code and detail in error[1], error
    assert rules(ecr) == []


def test_root_prefix_rules(ecr):
    error = refused(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="ROOT", upstreamRegistryUrl="quay.io")
    assert error[0] == "InvalidParameterException" and "ROOT is supported only for an Amazon ECR" in error[1]
    error = refused(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="ROOT", upstreamRegistryUrl=UPSTREAM_ECR,
                    customRoleArn=ROLE, upstreamRepositoryPrefix="team")
    assert error[0] == "InvalidParameterException"
    assert "upstreamRepositoryPrefix can be set only when ecrRepositoryPrefix is not ROOT" in error[1]
    assert rules(ecr) == []


@pytest.mark.parametrize("prefix", ["Upper", "has space", "-lead", "a//b", "a" * 31])
def test_prefix_pattern_comes_from_the_model(ecr, prefix):
    code, _ = refused(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix=prefix, upstreamRegistryUrl="quay.io")
    assert code == "InvalidParameterException"
    assert rules(ecr) == []


def test_duplicate_prefix_with_or_without_trailing_slash(ecr):
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="public.ecr.aws")
    for prefix in ("ecr-public", "ecr-public/"):
        assert refused(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix=prefix,
                       upstreamRegistryUrl="quay.io") == (
            "PullThroughCacheRuleAlreadyExistsException",
            f"A pull through cache rule with prefix 'ecr-public' already exists in the registry with id '{ACCOUNT}'")
    [rule] = rules(ecr)
    assert rule["upstreamRegistryUrl"] == "public.ecr.aws"
    nested = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="team/k8s/", upstreamRegistryUrl="registry.k8s.io")
    assert nested["ecrRepositoryPrefix"] == "team/k8s"


def test_rules_are_limited_to_the_quota(ecr):
    for n in range(ptc.MAX_RULES):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=f"p{n:02d}", upstreamRegistryUrl="quay.io")
    assert refused(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="one-more",
                   upstreamRegistryUrl="quay.io") == (
        "LimitExceededException",
        f"The registry with id '{ACCOUNT}' already has the maximum of 50 pull through cache rules")
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="p00")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="one-more", upstreamRegistryUrl="quay.io")
    assert len(rules(ecr)) == ptc.MAX_RULES


def test_describe_filters_and_pages(ecr):
    names = ["k8s", "quay", "a/b", "ecr-public", "zz"]
    for name in names:
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl="quay.io")
    assert [r["ecrRepositoryPrefix"] for r in rules(ecr)] == sorted(names)
    picked = rules(ecr, ecrRepositoryPrefixes=["zz", "k8s/", "zz"])
    assert [r["ecrRepositoryPrefix"] for r in picked] == ["k8s", "zz"]
    assert refused(ecr.describe_pull_through_cache_rules, ecrRepositoryPrefixes=["k8s", "missing"]) == (
        NOT_FOUND, f"The pull through cache rule with prefix 'missing' does not exist in the registry with id "
                   f"'{ACCOUNT}'")
    seen, token, pages = [], None, 0
    while True:
        page = ecr.describe_pull_through_cache_rules(maxResults=2, **({"nextToken": token} if token else {}))
        seen += [r["ecrRepositoryPrefix"] for r in page["pullThroughCacheRules"]]
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == sorted(names) and pages == 3
    paginated = ecr.get_paginator("describe_pull_through_cache_rules").paginate(PaginationConfig={"PageSize": 4})
    assert [r["ecrRepositoryPrefix"] for page in paginated for r in page["pullThroughCacheRules"]] == sorted(names)
    assert refused(ecr.describe_pull_through_cache_rules, nextToken="garbage")[0] == "InvalidParameterException"


def test_update_changes_credentials(ecr_emulator, ecr):
    set_clock(ecr_emulator, "2025-03-01T12:00:00+00:00")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub", upstreamRegistryUrl="registry-1.docker.io",
                                       credentialArn=SECRET)
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="mirror", upstreamRegistryUrl=UPSTREAM_ECR,
                                       customRoleArn=ROLE)
    later = set_clock(ecr_emulator, "2025-03-02T08:30:00+00:00")
    updated = body(ecr.update_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub/", credentialArn=OTHER_SECRET))
    assert updated["credentialArn"] == OTHER_SECRET and near(updated["updatedAt"], later)
    assert updated["ecrRepositoryPrefix"] == "docker-hub" and updated["registryId"] == ACCOUNT
    [rule] = rules(ecr, ecrRepositoryPrefixes=["docker-hub"])
    assert rule["credentialArn"] == OTHER_SECRET and rule["updatedAt"] == updated["updatedAt"]
    assert rule["createdAt"].timestamp() < later
    new_role = f"arn:aws:iam::{ACCOUNT}:role/other"
    updated = ecr.update_pull_through_cache_rule(ecrRepositoryPrefix="mirror", customRoleArn=new_role)
    assert updated["customRoleArn"] == new_role and updated["upstreamRepositoryPrefix"] == "ROOT"


def test_update_errors_change_nothing(ecr):
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub", upstreamRegistryUrl="registry-1.docker.io",
                                       credentialArn=SECRET)
    assert refused(ecr.update_pull_through_cache_rule, ecrRepositoryPrefix="nope", credentialArn=SECRET) == (
        NOT_FOUND, f"The pull through cache rule with prefix 'nope' does not exist in the registry with id "
                   f"'{ACCOUNT}'")
    for kwargs, detail in [({}, "At least one of credentialArn or customRoleArn"),
                           ({"customRoleArn": ROLE}, "customRoleArn is supported only for an Amazon ECR"),
                           ({"credentialArn": f"arn:aws:secretsmanager:{REGION}:{OTHER}:secret:"
                                              "ecr-pullthroughcache/x"}, "must be in the account and Region")]:
        code, message = refused(ecr.update_pull_through_cache_rule, ecrRepositoryPrefix="docker-hub", **kwargs)
        assert code == "InvalidParameterException" and detail in message
    [rule] = rules(ecr)
    assert rule["credentialArn"] == SECRET and rule["updatedAt"] == rule["createdAt"]


def test_delete(ecr):
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    deleted = body(ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="quay/"))
    assert deleted["ecrRepositoryPrefix"] == "quay" and deleted["upstreamRegistryUrl"] == "quay.io"
    assert deleted["registryId"] == ACCOUNT and "createdAt" in deleted
    assert rules(ecr) == []
    assert refused(ecr.delete_pull_through_cache_rule, ecrRepositoryPrefix="quay")[0] == NOT_FOUND


def test_validate_reports_a_secret_the_emulator_was_not_given(ecr):
    """Validation reads the rule's secret before it contacts the upstream; this server has no
    --upstream-credentials, so the secret cannot be read (tests/test_pull_through_upstream.py validates against
    live upstreams)."""
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub", upstreamRegistryUrl="registry-1.docker.io",
                                       credentialArn=SECRET)
    assert body(ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub")) == {
        "ecrRepositoryPrefix": "docker-hub", "registryId": ACCOUNT, "upstreamRegistryUrl": "registry-1.docker.io",
        "credentialArn": SECRET, "isValid": False,
        "failure": f"The secret {SECRET} of the pull through cache rule could not be read: it is not in the "
                   f"emulator's --upstream-credentials file."}
    assert refused(ecr.validate_pull_through_cache_rule, ecrRepositoryPrefix="quay")[0] == NOT_FOUND


def test_rule_problem_names_what_validation_reports():
    """What ValidatePullThroughCacheRule answers for a rule that lacks what its upstream needs."""
    def problem(**rule):
        return ptc.rule_problem(rule, ACCOUNT, REGION)

    hub = {"upstreamRegistry": "docker-hub", "upstreamRegistryUrl": "registry-1.docker.io"}
    assert problem(**hub)[0] == "UnsupportedUpstreamRegistryException"
    assert problem(**hub, credentialArn=SECRET) is None
    mirror = {"upstreamRegistry": "ecr", "upstreamRegistryUrl": UPSTREAM_ECR}
    assert "IAM role" in problem(**mirror)[1]
    assert problem(**mirror, customRoleArn=ROLE) is None
    assert problem(upstreamRegistry="quay", upstreamRegistryUrl="quay.io", credentialArn=SECRET) is None


def test_rules_belong_to_one_registry(ecr_emulator, ecr):
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    other = ecr_emulator.server.client(access_key=OTHER)
    assert rules(other) == []
    assert refused(other.delete_pull_through_cache_rule, ecrRepositoryPrefix="quay")[0] == NOT_FOUND
    other_region = ecr_emulator.server.client(region="eu-west-1")
    assert rules(other_region) == []
    secret = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:ecr-pullthroughcache/hub"
    other_region.create_pull_through_cache_rule(ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io",
                                                credentialArn=secret)
    assert [r["ecrRepositoryPrefix"] for r in rules(ecr)] == ["quay"]


def test_rules_survive_a_restart(tmp_path):
    with running_server("--state-dir", str(tmp_path)) as server:
        ecr = server.client()
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io",
                                           credentialArn=SECRET)
        ecr.update_pull_through_cache_rule(ecrRepositoryPrefix="hub", credentialArn=OTHER_SECRET)
        before = rules(ecr)
    with running_server("--state-dir", str(tmp_path)) as server:
        after = rules(server.client())
    assert after == before and after[0]["credentialArn"] == OTHER_SECRET


def test_rules_with_the_aws_cli(ecr_emulator, tmp_path):
    require_tool("aws")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_PAGER": ""}

    def aws(*args):
        return subprocess.run(["aws", "--endpoint-url", ecr_emulator.endpoint, "--output", "json", "ecr", *args],
                              env=env, capture_output=True, text=True, timeout=60)

    created = aws("create-pull-through-cache-rule", "--ecr-repository-prefix", "docker-hub",
                  "--upstream-registry-url", "registry-1.docker.io", "--credential-arn", SECRET)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["upstreamRegistry"] == "docker-hub"
    described = json.loads(aws("describe-pull-through-cache-rules").stdout)["pullThroughCacheRules"]
    assert [(r["ecrRepositoryPrefix"], r["credentialArn"]) for r in described] == [("docker-hub", SECRET)]
    missing = aws("create-pull-through-cache-rule", "--ecr-repository-prefix", "ghcr",
                  "--upstream-registry-url", "ghcr.io")
    assert missing.returncode != 0 and "UnsupportedUpstreamRegistryException" in missing.stderr
