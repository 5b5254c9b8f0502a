"""--state-dir: what was acknowledged survives a restart and a SIGKILL; torn journal records are ignored; a crash
during compaction never replays a journal twice."""

import json
import logging
import os
import signal
import threading

import pytest
from botocore.exceptions import ClientError

import sample_manifests
from ecr_emulator import extension
from ecr_emulator.state import codec
from ecr_emulator.testing import running_server


def test_restart_restores_repositories_and_settings(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        arn = ecr.create_repository(repositoryName="keep/me", imageTagMutability="IMMUTABLE",
                                    tags=[{"Key": "team", "Value": "a"}])["repository"]["repositoryArn"]
        ecr.put_image_scanning_configuration(repositoryName="keep/me", imageScanningConfiguration={"scanOnPush": True})
        server.client(access_key="111122223333", region="eu-west-1").create_repository(repositoryName="other")
        ecr.create_repository(repositoryName="gone")
        ecr.delete_repository(repositoryName="gone")
        before = ecr.describe_repositories()["repositories"]
        password = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        assert ecr.describe_repositories()["repositories"] == before
        assert before[0]["imageTagMutability"] == "IMMUTABLE"
        assert before[0]["imageScanningConfiguration"] == {"scanOnPush": True}
        assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "a"}]
        other = server.client(access_key="111122223333", region="eu-west-1")
        assert [r["repositoryName"] for r in other.describe_repositories()["repositories"]] == ["other"]
        assert password
    with running_server() as server:
        assert server.client().describe_repositories()["repositories"] == []


def test_reset_clears_the_state_directory(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        server.client().create_repository(repositoryName="temp")
        server.reset()
    with running_server("--state-dir", state) as server:
        assert server.client().describe_repositories()["repositories"] == []


def test_a_torn_journal_record_is_ignored_and_a_damaged_one_before_intact_ones_is_corruption(tmp_path):
    path = tmp_path / "journal"
    good = codec.encode_record({"op": "CreateRepository", "n": 1})
    torn = codec.encode_record({"op": "CreateRepository", "n": 2})[:-7]
    path.write_bytes(good + torn)
    with open(path, "rb") as f:
        records = codec.iter_records(f)
        assert next(records)[1]["n"] == 1
        with pytest.raises(codec.BadRecord) as torn_tail:
            next(records)
    assert torn_tail.value.offset == len(good) and not torn_tail.value.intact_after
    corrupt = bytearray(good)
    corrupt[-3] ^= 1
    path.write_bytes(bytes(corrupt) + good)
    with open(path, "rb") as f, pytest.raises(codec.BadRecord) as damaged:
        next(codec.iter_records(f))
    assert damaged.value.offset == 0 and damaged.value.intact_after
    assert "checksum" in damaged.value.reason


@pytest.mark.parametrize("round_", range(3))
def test_sigkill_during_a_write_storm_loses_nothing_acknowledged(tmp_path, round_):
    state = str(tmp_path / "state")
    acknowledged: list[str] = []
    with running_server("--state-dir", state) as server:
        stop = threading.Event()

        def storm(worker: int):
            ecr = server.client()
            i = 0
            while not stop.is_set():
                name = f"w{worker}/r{i}"
                try:
                    ecr.create_repository(repositoryName=name)
                except Exception:
                    return
                acknowledged.append(name)
                i += 1

        threads = [threading.Thread(target=storm, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        while len(acknowledged) < 20 + 15 * round_:
            threading.Event().wait(0.01)
        os.kill(server.process.pid, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join()
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        names = {r["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate()
                 for r in p["repositories"]}
        assert set(acknowledged) <= names
        for name in names:
            with pytest.raises(ClientError):
                ecr.create_repository(repositoryName=name)


def _create_repository(app, name: str) -> None:
    reply = app.test_client().post("/", data=json.dumps({"repositoryName": name}), headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
        "Content-Type": "application/x-amz-json-1.1"})
    assert reply.status_code == 200, reply.data


def test_a_crash_between_snapshot_and_new_journal_never_replays_the_old_journal(tmp_path, caplog):
    from ecr_emulator.app import create_app
    from ecr_emulator.config import Config

    state = tmp_path / "state"
    app = create_app(Config(state_dir=str(state)))
    _create_repository(app, "kept")
    extension.of(app).store.persistence.close()
    [old_journal] = [p for p in state.iterdir() if p.name.startswith("journal.")]
    journaled = old_journal.read_bytes()
    assert b"CreateRepository" in journaled
    extension.of(create_app(Config(state_dir=str(state)))).store.persistence.close()
    # The state a crash leaves right after the next snapshot is written: the journal it already contains remains.
    for path in state.glob("journal.*"):
        path.unlink()
    old_journal.write_bytes(journaled)
    with caplog.at_level(logging.WARNING, logger="ecr_emulator"):
        app = create_app(Config(state_dir=str(state)))
    assert not [r for r in caplog.records if "replaying" in r.getMessage()]
    store = extension.of(app).store
    assert list(store.registry("123456789012", "us-east-1").repositories) == ["kept"]


def test_lifecycle_runs_survive_a_restart(tmp_path):
    state = str(tmp_path / "state")
    policy = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType":
                                    "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]})
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="app")
        for seed in "abc":
            ecr.put_image(repositoryName="app", imageManifest=sample_manifests.docker(seed))
        ecr.put_lifecycle_policy(repositoryName="app", lifecyclePolicyText=policy)
        expired = server.admin("/_emulator/lifecycle/run", {})["expired"]
        assert len(expired) == 2
        before = ecr.describe_images(repositoryName="app")["imageDetails"]
        evaluated = ecr.get_lifecycle_policy(repositoryName="app")["lastEvaluatedAt"]
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        assert ecr.describe_images(repositoryName="app")["imageDetails"] == before
        assert ecr.get_lifecycle_policy(repositoryName="app")["lastEvaluatedAt"] == evaluated


def test_a_growing_journal_is_folded_into_a_snapshot_while_serving(tmp_path):
    from ecr_emulator.app import create_app
    from ecr_emulator.config import Config

    state = tmp_path / "state"
    app = create_app(Config(state_dir=str(state)))
    persistence = extension.of(app).store.persistence
    persistence.compact_after_bytes = 2000
    first = persistence.generation
    for i in range(30):
        _create_repository(app, f"repo-{i:02d}")
    assert persistence.generation > first
    assert [p.name for p in state.glob("journal.*")] == [f"journal.{persistence.generation}"]
    persistence.close()
    reopened = extension.of(create_app(Config(state_dir=str(state)))).store
    assert len(reopened.registry("123456789012", "us-east-1").repositories) == 30
