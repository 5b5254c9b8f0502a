"""The aws CLI (``--endpoint-url``) against a live server: create, describe, tag and delete repositories."""

import json
import os
import subprocess

import pytest

from helpers import require_tool


@pytest.fixture
def aws(ecr_emulator, tmp_path):
    require_tool("aws")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_PAGER": ""}

    def run(*args, check=True):
        proc = subprocess.run(["aws", "--endpoint-url", ecr_emulator.endpoint, "--output", "json", "ecr", *args],
                              env=env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"aws ecr {' '.join(args)} failed: {proc.stderr}")
        return proc

    return run


def test_repository_lifecycle_with_the_cli(aws):
    created = json.loads(aws("create-repository", "--repository-name", "cli/app", "--tags",
                             "Key=team,Value=platform").stdout)["repository"]
    assert created["repositoryUri"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/cli/app"
    described = json.loads(aws("describe-repositories", "--repository-names", "cli/app").stdout)
    assert described["repositories"][0]["repositoryArn"] == created["repositoryArn"]
    aws("tag-resource", "--resource-arn", created["repositoryArn"], "--tags", "Key=env,Value=dev")
    tags = json.loads(aws("list-tags-for-resource", "--resource-arn", created["repositoryArn"]).stdout)["tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "platform", "env": "dev"}
    aws("delete-repository", "--repository-name", "cli/app")
    assert json.loads(aws("describe-repositories").stdout)["repositories"] == []


def test_cli_reports_aws_errors(aws):
    proc = aws("describe-repositories", "--repository-names", "nothing-here", check=False)
    assert proc.returncode != 0
    assert "RepositoryNotFoundException" in proc.stderr
    proc = aws("create-repository", "--repository-name", "Bad_Name", check=False)
    assert proc.returncode != 0
    assert "InvalidParameterException" in proc.stderr


def test_cli_paginates(aws):
    for i in range(7):
        aws("create-repository", "--repository-name", f"page-{i}")
    out = json.loads(aws("describe-repositories", "--page-size", "2").stdout)
    assert sorted(r["repositoryName"] for r in out["repositories"]) == [f"page-{i}" for i in range(7)]


def test_get_login_password(aws):
    password = aws("get-login-password").stdout.strip()
    assert password.startswith("123456789012.123456789012.us-east-1.")  # caller, registry, region
