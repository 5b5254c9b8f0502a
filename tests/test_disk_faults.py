"""A disk that cannot take a write: a real 2 MiB tmpfs under ``--state-dir``, filled or remounted read-only.

Blob pushes on it get the API's own JSON error saying why (never an HTML page), leave no partial file, and succeed
once space is freed. Mounting needs root; elsewhere the tests skip, unless ECR_EMULATOR_REQUIRE_E2E=1.
"""

import base64
import contextlib
import errno
import hashlib
import json
import os
import pathlib
import subprocess

import pytest
from botocore.exceptions import ClientError

from ecr_emulator import extension
from ecr_emulator.api import protocol
from ecr_emulator.app import create_app
from ecr_emulator.config import Config
from ecr_emulator.testing import running_server
from registry_client import RegistryClient

DISK_BYTES = 2 * 1024 * 1024


def _unavailable(reason: str):
    if os.environ.get("ECR_EMULATOR_REQUIRE_E2E") == "1":
        pytest.fail(reason + " and ECR_EMULATOR_REQUIRE_E2E=1")
    pytest.skip(reason)


@contextlib.contextmanager
def _tmpfs(mount_point: pathlib.Path):
    """A 2 MiB tmpfs at ``mount_point``, unmounted at the end."""
    mount_point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        _unavailable("mounting a tmpfs to fill needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        _unavailable(f"mount -t tmpfs is not permitted here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    with _tmpfs(tmp_path / "disk") as mount_point:
        yield mount_point


@pytest.fixture
def emulator(small_disk):
    with running_server("--state-dir", str(small_disk / "state")) as server:
        yield server


def _fill(disk: pathlib.Path, leave: int) -> pathlib.Path:
    """A file taking all but ``leave`` bytes of the disk's free space."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
    return filler


def _files(root: pathlib.Path, pattern: str) -> list[pathlib.Path]:
    return [p for p in root.glob(pattern) if p.is_file()]


def _ecr(emulator):
    """A boto3 ECR client that never retries, so the reply to a fault is the one the test sees."""
    import boto3
    import botocore.config

    return boto3.client("ecr", region_name="us-east-1", endpoint_url=emulator.endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def _registry(emulator) -> RegistryClient:
    ecr = _ecr(emulator)
    ecr.create_repository(repositoryName="app")
    return RegistryClient(emulator.endpoint, ecr)


def _disk_error(status: int, headers, body: bytes) -> str:
    """The message of the spec's error body, after checking it is one: JSON, a 500, Distribution's catch-all code."""
    assert status == 500, body
    assert headers["Content-Type"] == "application/json", body
    error = json.loads(body)["errors"][0]
    assert error["code"] == "UNKNOWN"
    return error["message"]


def test_a_monolithic_push_on_a_full_disk_says_so_leaves_nothing_and_succeeds_once_space_is_freed(small_disk,
                                                                                                     emulator):
    reg = _registry(emulator)
    blobs = small_disk / "state" / "blobs"

    too_big = os.urandom(DISK_BYTES + 512 * 1024)
    digest = "sha256:" + hashlib.sha256(too_big).hexdigest()
    message = _disk_error(*reg.request("POST", f"/v2/app/blobs/uploads/?digest={digest}", body=too_big))
    assert message == f"no space left on device writing blob {digest}"
    assert _files(blobs, "*/*/uploads/*") == [] and _files(blobs, "*/*/sha256/*/*") == []

    layer = os.urandom(1024 * 1024)
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    filler = _fill(small_disk, leave=256 * 1024)
    message = _disk_error(*reg.request("POST", f"/v2/app/blobs/uploads/?digest={digest}", body=layer))
    assert "no space left on device" in message
    assert _files(blobs, "*/*/uploads/*") == [] and _files(blobs, "*/*/sha256/*/*") == []

    filler.unlink()
    assert reg.push_blob("app", layer) == digest
    status, _, body = reg.request("GET", f"/v2/app/blobs/{digest}")
    assert status == 200 and body == layer


def test_a_chunk_that_does_not_fit_is_not_kept_and_the_upload_resumes_once_space_is_freed(small_disk, emulator):
    reg = _registry(emulator)
    status, headers, _ = reg.request("POST", "/v2/app/blobs/uploads/")
    assert status == 202
    location = headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    first, second = os.urandom(256 * 1024), os.urandom(1024 * 1024)
    assert reg.request("PATCH", location, body=first, headers={"Content-Range": f"0-{len(first) - 1}"})[0] == 202

    filler = _fill(small_disk, leave=256 * 1024)
    message = _disk_error(*reg.request("PATCH", location, body=second))
    assert message == f"no space left on device writing blob upload {upload_id}"
    upload_file, = _files(small_disk / "state" / "blobs", f"*/*/uploads/{upload_id}")
    assert upload_file.read_bytes() == first
    status, headers, _ = reg.request("GET", location)
    assert status == 204 and headers["Range"] == f"0-{len(first) - 1}"

    filler.unlink()
    assert reg.request("PATCH", location, body=second)[0] == 202
    digest = "sha256:" + hashlib.sha256(first + second).hexdigest()
    assert reg.request("PUT", f"{location}?digest={digest}")[0] == 201
    assert reg.request("GET", f"/v2/app/blobs/{digest}")[2] == first + second


@pytest.mark.parametrize("fault, message", [
    (OSError(errno.ENOSPC, "No space left on device"), "the emulator's disk failed: no space left on device"),
    (RuntimeError("a bug"), "an internal error occurred in the emulator"),
])
def test_any_other_fault_under_v2_still_answers_in_the_specs_shape(monkeypatch, fault, message):
    """A fault outside the blob store (the journal of a manifest push on a full disk, or a bug) is a JSON 500 too,
    not the framework's HTML page."""
    app = create_app(Config())
    client = app.test_client()
    created = client.post("/", data=json.dumps({"repositoryName": "app"}), headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
        "Content-Type": "application/x-amz-json-1.1"})
    assert created.status_code == 200
    store = extension.of(app).store
    password = store.tokens.issue("123456789012", "123456789012", "us-east-1", store.clock.now() + 3600)
    auth = "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()

    def failing_dispatch(*args, **kwargs):
        raise fault

    monkeypatch.setattr(protocol, "dispatch", failing_dispatch)
    reply = client.put("/v2/app/manifests/v1", data=b'{"schemaVersion": 2}', headers={"Authorization": auth})
    assert reply.status_code == 500 and reply.content_type == "application/json"
    assert reply.get_json() == {"errors": [{"code": "UNKNOWN", "message": message}]}
    assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_layer_parts_through_the_json_api_on_a_full_disk_are_server_exceptions_that_say_why(small_disk, emulator):
    ecr = _ecr(emulator)
    ecr.create_repository(repositoryName="app")
    upload_id = ecr.initiate_layer_upload(repositoryName="app")["uploadId"]
    part = os.urandom(1024 * 1024)
    filler = _fill(small_disk, leave=256 * 1024)
    with pytest.raises(ClientError) as exc_info:
        ecr.upload_layer_part(repositoryName="app", uploadId=upload_id, partFirstByte=0,
                              partLastByte=len(part) - 1, layerPartBlob=part)
    error = exc_info.value.response["Error"]
    assert exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error["Code"] == "ServerException"
    assert error["Message"] == f"no space left on device writing blob upload {upload_id}"

    filler.unlink()
    reply = ecr.upload_layer_part(repositoryName="app", uploadId=upload_id, partFirstByte=0,
                                  partLastByte=len(part) - 1, layerPartBlob=part)
    assert reply["lastByteReceived"] == len(part) - 1
    digest = "sha256:" + hashlib.sha256(part).hexdigest()
    assert ecr.complete_layer_upload(repositoryName="app", uploadId=upload_id,
                                     layerDigests=[digest])["layerDigest"] == digest


def _remount(disk: pathlib.Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


@pytest.fixture
def blob_disk(tmp_path):
    """A tmpfs holding only the blobs of a state directory, so it can be remounted read-only while the journal beside
    it stays open for writing."""
    state = tmp_path / "state"
    with _tmpfs(state / "blobs") as mount_point, running_server("--state-dir", str(state)) as server:
        yield mount_point, server


def test_a_read_only_disk_is_reported_on_both_apis_and_pushes_work_again_when_it_is_writable(blob_disk):
    disk, emulator = blob_disk
    reg = _registry(emulator)
    ecr = _ecr(emulator)
    layer = os.urandom(64 * 1024)
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    upload_id = ecr.initiate_layer_upload(repositoryName="app")["uploadId"]
    ecr.upload_layer_part(repositoryName="app", uploadId=upload_id, partFirstByte=0, partLastByte=len(layer) - 1,
                          layerPartBlob=layer)
    _remount(disk, "ro")
    try:
        message = _disk_error(*reg.request("POST", f"/v2/app/blobs/uploads/?digest={digest}", body=layer))
        assert message == f"read-only file system writing blob {digest}"
        assert _disk_error(*reg.request("POST", "/v2/app/blobs/uploads/")) == \
            "read-only file system starting a blob upload"
        with pytest.raises(ClientError) as exc_info:
            ecr.complete_layer_upload(repositoryName="app", uploadId=upload_id, layerDigests=[digest])
        assert exc_info.value.response["Error"]["Code"] == "ServerException"
        assert exc_info.value.response["Error"]["Message"] == f"read-only file system storing blob {digest}"
    finally:
        _remount(disk, "rw")
    assert reg.push_blob("app", layer) == digest
    assert reg.request("GET", f"/v2/app/blobs/{digest}")[2] == layer
    layers = ecr.batch_check_layer_availability(repositoryName="app", layerDigests=[digest])["layers"]
    assert layers[0]["layerAvailability"] == "AVAILABLE"

