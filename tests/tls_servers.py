"""Test helpers for HTTPS: an emulator on any loopback address and port, and commands run with a private /etc/hosts.

AWS host names are pointed at the emulator inside a private mount namespace (``unshare --mount``, which needs root)
whose /etc/hosts is a bind mount of the test's own file; the rest of the machine never sees it. Servers that must
answer on port 443 (clients given AWS host names without a port) bind a loopback address of their own, such as
127.83.0.1, so they never meet another process's port 443.
"""

import os
import pathlib
import random
import shutil
import socket
import subprocess

import pytest

from ecr_emulator.testing import running_server


def require_e2e(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("ECR_EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(reason + " and ECR_EMULATOR_REQUIRE_E2E=1")
        pytest.skip(reason)


def require_private_hosts() -> None:
    """Skip (or fail under ECR_EMULATOR_REQUIRE_E2E=1) where a private /etc/hosts cannot be made."""
    require_e2e(os.geteuid() == 0, "a private /etc/hosts needs root (unshare --mount)")
    require_e2e(shutil.which("unshare") is not None, "unshare is not installed (apt-get install util-linux)")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True, timeout=30)
    require_e2e(probe.returncode == 0, f"unshare --mount is not permitted here: {probe.stderr.strip()}")


def loopback_address() -> str:
    """A loopback address of this test's own, free on port 443."""
    for _ in range(50):
        host = f"127.{random.randint(16, 250)}.{random.randint(0, 255)}.{random.randint(2, 250)}"
        with socket.socket() as sock:
            try:
                sock.bind((host, 443))
            except OSError:
                continue
        return host
    raise RuntimeError("no free loopback address on port 443")


def emulator(*args: str, host: str = "127.0.0.1", port: int | None = None, timeout: float = 20.0):
    """``python -m ecr_emulator`` on ``host``:``port`` (a free port by default) with extra ``args``; its plain
    HTTP endpoint while it runs, stopped on exit."""
    return running_server(*args, host=host, port=port, timeout=timeout)


def run_with_hosts(hosts_file: pathlib.Path, argv: list[str], env: dict, timeout: float = 300):
    """Run ``argv`` in a private mount namespace whose /etc/hosts is ``hosts_file``."""
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(hosts_file),
                           *argv], capture_output=True, text=True, env=env, timeout=timeout)
