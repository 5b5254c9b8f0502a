import subprocess

import pytest

from helpers import require_tool

pytest_plugins = ["pytester"]


@pytest.fixture
def ecr(ecr_emulator):
    """The boto3 ECR client of a freshly reset emulator."""
    return ecr_emulator.client


@pytest.fixture
def away(ecr_emulator):
    """A boto3 ECR client of the default account in eu-west-1: another registry, for replication."""
    return ecr_emulator.server.client(region="eu-west-1")


@pytest.fixture
def other(ecr_emulator):
    """A boto3 ECR client of account 210987654321 in us-east-1: another account's registry."""
    return ecr_emulator.server.client(access_key="210987654321")


@pytest.fixture
def repo(ecr):
    """A repository named "app" in the default registry."""
    ecr.create_repository(repositoryName="app")
    return "app"


@pytest.fixture
def skopeo(tmp_path):
    """Run skopeo (without a signature policy, with a private home) and return its result; a failure raises unless
    ``check=False``."""
    binary = require_tool("skopeo")

    def run(*args, check=True):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
        result = subprocess.run([binary, "--insecure-policy", *args], capture_output=True, text=True, env=env,
                                timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"skopeo {' '.join(args)} failed: {result.stderr}")
        return result
    return run
