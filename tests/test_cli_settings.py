"""Bad settings, from a flag or from its environment variable, stop the start with one line that names them."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("args,env,message", [
    ([], {"ECR_EMULATOR_PORT": "abc"}, "ECR_EMULATOR_PORT must be a whole number, not 'abc'"),
    ([], {"ECR_EMULATOR_MAX_CONNECTIONS": "many"}, "ECR_EMULATOR_MAX_CONNECTIONS must be a whole number"),
    ([], {"ECR_EMULATOR_MAX_BODY_BYTES": "1e6"}, "ECR_EMULATOR_MAX_BODY_BYTES must be a whole number"),
    ([], {"ECR_EMULATOR_LIFECYCLE_INTERVAL": "daily"}, "ECR_EMULATOR_LIFECYCLE_INTERVAL must be a number"),
    ([], {"ECR_EMULATOR_SCAN_SECONDS": "soon"}, "ECR_EMULATOR_SCAN_SECONDS must be a number"),
    (["--port", "70000"], {}, "--port must be from 0 to 65535"),
    (["--port", "x"], {}, "argument --port: invalid int value: 'x'"),
])
def test_a_bad_setting_is_one_line_naming_it(args, env, message):
    result = subprocess.run([sys.executable, "-m", "ecr_emulator", *args], capture_output=True, text=True,
                            timeout=60, env={**os.environ, **env})
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("ecr-emulator: error: ") and message in line
