"""State files and archives are data only; a corrupt or foreign file refuses the start with one line; one server per
state directory; a write that cannot be made durable is refused and undone."""

import base64
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import urllib.error

import pytest
from botocore.exceptions import ClientError

import sample_manifests
from ecr_emulator import extension
from ecr_emulator.state import codec, persistence
from ecr_emulator.testing import free_port, running_server
from registry_client import RegistryClient
from test_export_import import tar_of


class _MakesADirectory:
    """A pickle payload that creates a directory when unpickled: the proof that a state file ran code."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return os.makedirs, (self.path,)


def _payload(marker) -> bytes:
    return pickle.dumps({"version": 1, "generation": 0, "registries": _MakesADirectory(str(marker))}, protocol=4)


def start(state_dir) -> subprocess.CompletedProcess:
    """Run a server on ``state_dir`` that is expected to refuse to start (one that starts is killed at the timeout,
    failing the test)."""
    return subprocess.run([sys.executable, "-m", "ecr_emulator", "--state-dir", str(state_dir), "--host", "127.0.0.1",
                           "--port", str(free_port()), "--log-level", "WARNING"], capture_output=True, text=True,
                          timeout=30)


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def populated_state(tmp_path) -> tuple:
    state = tmp_path / "state"
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="alpha")
        ecr.create_repository(repositoryName="beta")
        before = ecr.describe_repositories()["repositories"]
    with running_server("--state-dir", str(state)):
        pass  # a start folds the journal into the snapshot
    return state, before


def test_a_planted_pickle_snapshot_is_refused_and_never_run(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    marker = tmp_path / "ran"
    (state / "state.pickle").write_bytes(_payload(marker))
    assert_refused(start(state), str(state / "state.pickle"), "older ecr-emulator")
    (state / "state.snapshot").write_bytes(_payload(marker))
    assert_refused(start(state), str(state / "state.snapshot"), "at byte 0")
    assert not marker.exists()


@pytest.mark.parametrize("value,fault", [
    ({"$object": "system", "id": 0, "state": {}}, "unknown class 'system'"),
    ({"$object": "os.system", "id": 0, "state": {}}, "unknown class 'os.system'"),
    ({"$object": "Registry", "id": 0, "state": {"__class__": "x"}}, "has no attribute '__class__'"),
    ({"$object": "Registry", "id": 0, "state": {"account": {"$ref": 7}}}, "reference to unknown object 7"),
    ({"$tag": []}, "unknown tag $tag"),
])
def test_a_snapshot_naming_code_or_foreign_attributes_is_refused(tmp_path, value, fault):
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.snapshot").write_bytes(
        codec.encode_record({"format": "ecr-emulator-snapshot", "version": 2, "generation": 1})
        + codec.encode_record({"registry": value}) + codec.encode_record({"end": 1}))
    assert_refused(start(state), str(state / "state.snapshot"), fault)


def test_a_flipped_bit_in_the_snapshot_refuses_the_start_naming_file_and_offset(tmp_path):
    state, _ = populated_state(tmp_path)
    snapshot = state / "state.snapshot"
    data = bytearray(snapshot.read_bytes())
    at = data.index(b"beta")
    data[at] ^= 0x01
    snapshot.write_bytes(bytes(data))
    record_start = data.rindex(b"\n", 0, at) + 1
    assert_refused(start(state), str(snapshot), f"at byte {record_start}", "checksum", "backup")


def test_a_non_utf8_byte_in_the_snapshot_is_reported_not_a_traceback(tmp_path):
    state, _ = populated_state(tmp_path)
    snapshot = state / "state.snapshot"
    data = bytearray(snapshot.read_bytes())
    data[data.index(b"alpha")] = 0xFF
    snapshot.write_bytes(bytes(data))
    assert_refused(start(state), str(snapshot), "at byte")


def test_a_snapshot_cut_short_is_refused(tmp_path):
    state, _ = populated_state(tmp_path)
    snapshot = state / "state.snapshot"
    lines = snapshot.read_bytes().splitlines(keepends=True)
    snapshot.write_bytes(b"".join(lines[:-1]))
    assert_refused(start(state), str(snapshot), "cut short")


def test_a_torn_journal_tail_warning_names_the_file_and_offset(tmp_path, caplog):
    state = tmp_path / "state"
    journal = state / "journal.0"
    state.mkdir()
    record = {"op": "CreateRepository", "account": "123456789012", "region": "us-east-1", "now": 1.0,
              "params": {"repositoryName": "kept"}}
    intact = codec.journal_header(0) + codec.encode_record(record)
    journal.write_bytes(intact + codec.encode_record(record)[:-4])
    store = _open(state, caplog)
    assert list(store.registry("123456789012", "us-east-1").repositories) == ["kept"]
    assert [r for r in caplog.records if f"{journal} ends with a torn record at byte {len(intact)}" in r.getMessage()]
    store.persistence.close()


def test_a_damaged_journal_record_before_intact_ones_refuses_the_start(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    record = {"op": "CreateRepository", "account": "123456789012", "region": "us-east-1", "now": 1.0,
              "params": {"repositoryName": "kept"}}
    header = codec.journal_header(0)
    damaged = bytearray(codec.encode_record(record))
    damaged[-4] ^= 0x20
    (state / "journal.0").write_bytes(header + bytes(damaged) + codec.encode_record(record))
    assert_refused(start(state), str(state / "journal.0"), f"at byte {len(header)}", "corrupt")


def _open(state, caplog=None):
    import logging

    from ecr_emulator.app import create_app
    from ecr_emulator.config import Config

    if caplog is not None:
        caplog.set_level(logging.WARNING, logger="ecr_emulator")
    return extension.of(create_app(Config(state_dir=str(state)))).store


def test_a_second_server_on_one_state_directory_refuses_to_start_and_a_killed_ones_lock_does_not_stay(tmp_path):
    state = tmp_path / "state"
    with running_server("--state-dir", str(state)) as server:
        server.client().create_repository(repositoryName="first")
        assert_refused(start(state), str(state), f"pid {server.process.pid}", "in use")
        server.client().create_repository(repositoryName="second")
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
    with running_server("--state-dir", str(state)) as server:
        names = [r["repositoryName"] for r in server.client().describe_repositories()["repositories"]]
        assert sorted(names) == ["first", "second"]


@pytest.mark.parametrize("member", ["state.pickle", "state.snapshot"])
def test_a_crafted_archive_never_runs_code(ecr_emulator, ecr, tmp_path, member):
    import urllib.request

    ecr.create_repository(repositoryName="stays")
    marker = tmp_path / "ran"
    request = urllib.request.Request(ecr_emulator.endpoint + "/_emulator/import", method="POST",
                                     data=tar_of({member: _payload(marker)}))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert member in json.loads(refused.value.read())["error"]
    assert not marker.exists()
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["stays"]


def test_the_codec_keeps_shared_objects_shared_and_refuses_unknown_types():
    from ecr_emulator.models.store import Registry

    registry = Registry("123456789012", "us-east-1")
    registry.settings = {"a": (1, b"\xff\x00", {"x"}), ("k", 1): b"text", "$dollar": None}
    registry.repositories = {"one": registry, "two": registry}
    decoded = codec.decode_value(json.loads(json.dumps(codec.encode_value(registry))))
    assert decoded.repositories["one"] is decoded and decoded.repositories["two"] is decoded
    assert decoded.settings == registry.settings
    with pytest.raises(TypeError):
        codec.encode_value(object())


def _fail_writes(monkeypatch, failures: list):
    """Make the journal's next writes fail as a filling disk does: the first writes part of the record, the next
    raises ENOSPC; ``failures`` empties as they happen."""
    real_write = os.write

    def write(fd, data):
        if failures:
            kind = failures.pop(0)
            if kind == "short":
                return real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(persistence.os, "write", write)


def _call(app, operation: str, params: dict):
    reply = app.test_client().post("/", data=json.dumps(params), headers={
        "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{operation}",
        "Content-Type": "application/x-amz-json-1.1"})
    return reply.status_code, json.loads(reply.data)


def test_a_journal_write_cut_short_is_refused_undone_and_repaired(tmp_path, monkeypatch):
    from ecr_emulator.app import create_app
    from ecr_emulator.config import Config

    state = tmp_path / "state"
    app = create_app(Config(state_dir=str(state)))
    assert _call(app, "CreateRepository", {"repositoryName": "before"})[0] == 200
    assert _call(app, "PutImageTagMutability", {"repositoryName": "before", "imageTagMutability": "IMMUTABLE"})[0] \
        == 200
    failures = ["short", "enospc"]
    _fail_writes(monkeypatch, failures)
    status, body = _call(app, "CreateRepository", {"repositoryName": "refused"})
    assert status == 500 and body["__type"] == "ServerException"
    assert "No space left on device" in body["message"] and "not made" in body["message"]
    status, body = _call(app, "PutImageTagMutability", {"repositoryName": "before", "imageTagMutability": "MUTABLE"})
    assert not failures
    assert status == 200
    assert _call(app, "CreateRepository", {"repositoryName": "after"})[0] == 200
    repositories = _call(app, "DescribeRepositories", {})[1]["repositories"]
    assert sorted(r["repositoryName"] for r in repositories) == ["after", "before"]
    extension.of(app).store.persistence.close()
    reopened = create_app(Config(state_dir=str(state)))
    repositories = _call(reopened, "DescribeRepositories", {})[1]["repositories"]
    assert sorted(r["repositoryName"] for r in repositories) == ["after", "before"]
    assert {r["repositoryName"]: r["imageTagMutability"] for r in repositories}["before"] == "MUTABLE"
    extension.of(reopened).store.persistence.close()


def test_a_failed_write_leaves_memory_exactly_as_before(tmp_path, monkeypatch):
    from ecr_emulator.app import create_app
    from ecr_emulator.config import Config

    app = create_app(Config(state_dir=str(tmp_path / "state")))
    _call(app, "CreateRepository", {"repositoryName": "app", "tags": [{"Key": "k", "Value": "v"}]})
    before = _call(app, "DescribeRepositories", {})[1]
    _fail_writes(monkeypatch, ["enospc"])
    status, _ = _call(app, "TagResource", {"resourceArn": before["repositories"][0]["repositoryArn"],
                                          "tags": [{"Key": "k", "Value": "changed"}]})
    assert status == 500
    assert _call(app, "DescribeRepositories", {})[1] == before
    arn = before["repositories"][0]["repositoryArn"]
    assert _call(app, "ListTagsForResource", {"resourceArn": arn})[1]["tags"] == [{"Key": "k", "Value": "v"}]
    extension.of(app).store.persistence.close()


@pytest.fixture
def small_filesystem(tmp_path):
    """A 4 MiB tmpfs mounted for the test (root only), unmounted afterwards."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True).returncode == 0
    if not mounted:
        reason = "mounting a small tmpfs needs root (the fault-injection tests above cover the journal writer)"
        if os.environ.get("ECR_EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(reason + " and ECR_EMULATOR_REQUIRE_E2E=1")
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(path) -> None:
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_a_full_disk_refuses_writes_with_the_reason_and_loses_no_acknowledged_write(small_filesystem):
    state = small_filesystem / "state"
    filler = small_filesystem / "filler"
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="before")
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        password = base64.b64decode(token).decode().partition(":")[2]
        _fill(filler)
        acknowledged, refused = ["before"], []
        for i in range(200):
            try:
                ecr.create_repository(repositoryName=f"repo-{i}")
                acknowledged.append(f"repo-{i}")
            except ClientError as exc:
                error = exc.response["Error"]
                assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 500
                assert error["Code"] == "ServerException" and "No space left on device" in error["Message"]
                refused.append(f"repo-{i}")
                if len(refused) == 3:
                    break
        assert len(refused) == 3
        registry = RegistryClient(server.endpoint, password=password)
        status, headers, body = registry.json("PUT", "/v2/before/manifests/v1", body=sample_manifests.docker("v1"),
                                              headers={"Content-Type": sample_manifests.DOCKER_MANIFEST})
        assert status == 500 and body["errors"][0]["code"] == "UNKNOWN"
        assert "No space left on device" in body["errors"][0]["message"]
        assert ecr.list_images(repositoryName="before")["imageIds"] == []
        with pytest.raises(urllib.error.HTTPError) as reset:
            server.reset()
        assert reset.value.code == 500 and "No space left on device" in json.loads(reset.value.read())["error"]
        listed = sorted(r["repositoryName"] for r in ecr.describe_repositories()["repositories"])
        assert listed == sorted(acknowledged)
        filler.unlink()
        ecr.create_repository(repositoryName="after")
        acknowledged.append("after")
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
    with running_server("--state-dir", str(state)) as server:
        listed = sorted(r["repositoryName"] for r in server.client().describe_repositories()["repositories"])
        assert listed == sorted(acknowledged)


@pytest.mark.parametrize("record", [{"op": "CreateRepository"}, {"op": 5, "now": 1, "account": "1", "region": "r",
                                                                  "params": {}}, {"now": "soon"}])
def test_a_journal_record_of_the_wrong_shape_refuses_the_start_naming_it(tmp_path, record):
    state = tmp_path / "state"
    state.mkdir()
    header = codec.journal_header(0)
    (state / "journal.0").write_bytes(header + codec.encode_record(record))
    assert_refused(start(state), str(state / "journal.0"), f"at byte {len(header)}", "not a record")


@pytest.mark.parametrize("body", ['{"repositoryName": "app", "junk": NaN}',
                                  '{"repositoryName": "app", "tags": [{"Key": "k", "Value": "v", "x": Infinity}]}'])
def test_a_body_with_nan_or_infinity_is_not_json_and_changes_nothing(tmp_path, body):
    from ecr_emulator.app import create_app
    from ecr_emulator.config import Config

    app = create_app(Config(state_dir=str(tmp_path / "state")))
    client = app.test_client()
    reply = client.post("/", data=body, headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
        "Content-Type": "application/x-amz-json-1.1"})
    assert reply.status_code == 400 and json.loads(reply.data)["__type"] == "SerializationException"
    assert _call(app, "DescribeRepositories", {})[1]["repositories"] == []
    extension.of(app).store.persistence.close()


def test_a_change_that_cannot_be_journaled_is_undone(tmp_path, monkeypatch):
    from ecr_emulator.app import create_app
    from ecr_emulator.config import Config

    app = create_app(Config(state_dir=str(tmp_path / "state")))

    def unencodable(record):
        raise ValueError("Out of range float values are not JSON compliant")

    monkeypatch.setattr(codec, "encode_record", unencodable)
    status, body = _call(app, "CreateRepository", {"repositoryName": "app"})
    assert status == 500 and "cannot journal the change" in body["message"]
    monkeypatch.undo()
    assert _call(app, "DescribeRepositories", {})[1]["repositories"] == []
    extension.of(app).store.persistence.close()
