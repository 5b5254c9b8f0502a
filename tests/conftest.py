import os
import shutil

import pytest

from ecr_emulator.testing import ecr_emulator, ecr_emulator_server, running_server  # noqa: F401


@pytest.fixture
def ecr(ecr_emulator):
    """The boto3 ECR client of a freshly reset emulator."""
    return ecr_emulator.client


def require_tool(name: str) -> str:
    """The path of an external tool; a skip when it is missing, a failure under ECR_EMULATOR_REQUIRE_E2E=1."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (apt-get install {name})"
        if os.environ.get("ECR_EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(reason + " and ECR_EMULATOR_REQUIRE_E2E=1")
        pytest.skip(reason)
    return path
