"""Helpers the tests import (``from helpers import ...``); the fixtures live in conftest.py and the
ecr_emulator pytest plugin."""

import json
import os
import shutil
import urllib.error
import urllib.request

import pytest


def error_of(exc_info) -> tuple[str, str]:
    """(code, message) of a botocore ClientError caught by pytest.raises."""
    error = exc_info.value.response["Error"]
    return error["Code"], error["Message"]


def push(ecr, manifest: str, tag: str | None = None, repo: str = "app") -> str:
    """PutImage, returning the digest."""
    kwargs = {"imageTag": tag} if tag else {}
    return ecr.put_image(repositoryName=repo, imageManifest=manifest, **kwargs)["image"]["imageId"]["imageDigest"]


def require_tool(name: str, package: str | None = None) -> str:
    """The path of an external tool (from the Debian ``package`` of that name unless given); a skip when it is
    missing, a failure under ECR_EMULATOR_REQUIRE_E2E=1."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (apt-get install {package or name})"
        if os.environ.get("ECR_EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(reason + " and ECR_EMULATOR_REQUIRE_E2E=1")
        pytest.skip(reason)
    return path


def raw_call(endpoint: str, operation: str | None, body: bytes | str | dict = b"{}", headers: dict | None = None):
    """POST a raw JSON 1.1 request; return (status, parsed body, headers). For faults a real SDK would not send."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    all_headers = {"Content-Type": "application/x-amz-json-1.1"}
    if operation is not None:
        all_headers["X-Amz-Target"] = f"AmazonEC2ContainerRegistry_V20150921.{operation}"
    all_headers.update(headers or {})
    req = urllib.request.Request(endpoint + "/", data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), resp.headers
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        return exc.code, json.loads(payload) if payload else {}, exc.headers


def advance_clock(emulator, seconds: float) -> None:
    """Move the model clock of ``emulator`` (a fixture or a running server) forward by ``seconds``."""
    emulator.admin("/_emulator/clock", {"advance": seconds})


def declare_findings(emulator, body: dict) -> dict:
    """Declare what scans find (``/_emulator/scan-findings``); the stored declaration."""
    return emulator.admin("/_emulator/scan-findings", body)["declaration"]


def clear_declarations(emulator) -> dict:
    """Remove every declared finding; the admin API's reply."""
    request = urllib.request.Request(emulator.endpoint + "/_emulator/scan-findings", method="DELETE")
    with urllib.request.urlopen(request) as reply:
        return json.loads(reply.read())
