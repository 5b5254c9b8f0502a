"""Pytest helpers for suites that talk to the emulator through a live server: a server on a free port, a boto3
client, a reset.

The fixtures ``ecr_emulator_server`` (one server per test session, ``python -m ecr_emulator`` in a subprocess,
stopped at the end; one per worker under pytest-xdist) and ``ecr_emulator`` (its state reset before each test) are
provided by the package's pytest plugin (``ecr_emulator.pytest_plugin``), so installing the package is enough::

    def test_something(ecr_emulator):
        ecr_emulator.client.create_repository(repositoryName="app")

When the server is given an admin token (``--admin-token`` among its arguments, or ``ECR_EMULATOR_ADMIN_TOKEN`` in its
environment), the admin calls send it. Suites that import them from here (``from ecr_emulator.testing import
ecr_emulator``) keep working. This module is imported by every pytest run once the package is installed, so it imports
nothing costly at module level.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmulatorServer:
    """A running emulator process and the ways to talk to it."""

    def __init__(self, endpoint: str, process: subprocess.Popen, admin_token: str | None = None):
        self.endpoint = endpoint
        self.process = process
        self.admin_token = admin_token

    def client(self, service: str = "ecr", region: str = "us-east-1", access_key: str = "testing"):
        import boto3
        import botocore.config

        return boto3.client(service, region_name=region, endpoint_url=self.endpoint,
                            aws_access_key_id=access_key, aws_secret_access_key="testing",
                            config=botocore.config.Config(retries={"total_max_attempts": 1}))

    def admin(self, path: str, body: dict | None = None) -> dict:
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        req = urllib.request.Request(self.endpoint + path, data=data, method="GET" if body is None else "POST",
                                     headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        self.admin("/_emulator/reset", {})


def _admin_token(args: tuple[str, ...], env: dict) -> str | None:
    """The admin token the server will require: its ``--admin-token`` argument, else the variable it reads."""
    for i, arg in enumerate(args):
        if arg == "--admin-token" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--admin-token="):
            return arg.partition("=")[2]
    return env.get("ECR_EMULATOR_ADMIN_TOKEN") or None


@contextlib.contextmanager
def running_server(*args: str, env: dict | None = None, timeout: float = 15.0, host: str = "127.0.0.1",
                   port: int | None = None):
    """Start ``python -m ecr_emulator`` on ``host``:``port`` (a free port by default) with extra ``args``; stop it on
    exit."""
    import urllib.request

    port = port or free_port(host)
    endpoint = f"http://{host}:{port}"
    env = {**os.environ, **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "ecr_emulator", "--host", host, "--port", str(port),
                                "--log-level", "WARNING", *args],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr
    assert stderr is not None, "stderr=PIPE gives a pipe"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"ecr-emulator exited with {process.returncode}: {stderr.read().decode()}")
            try:
                with urllib.request.urlopen(endpoint + "/_emulator/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("ecr-emulator did not become ready") from None
                time.sleep(0.05)
        yield EmulatorServer(endpoint, process, _admin_token(args, env))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()


@pytest.fixture(scope="session")
def ecr_emulator_server():
    """A real emulator server for the test session (one per pytest-xdist worker)."""
    with running_server() as server:
        yield server


class Emulator:
    """What a test gets: the endpoint, a boto3 ECR client, admin calls and a reset."""

    def __init__(self, server: EmulatorServer):
        self.server = server
        self.endpoint = server.endpoint
        self.client = server.client()
        self.reset = server.reset
        self.admin = server.admin


@pytest.fixture
def ecr_emulator(ecr_emulator_server):
    """The session's server, reset for this test: ``.client``, ``.endpoint``, ``.admin()``, ``.reset()``."""
    ecr_emulator_server.reset()
    yield Emulator(ecr_emulator_server)
