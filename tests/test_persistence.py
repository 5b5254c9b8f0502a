"""--state-dir: what was acknowledged survives a restart and a SIGKILL; torn journal records are ignored."""

import os
import signal
import threading

import pytest
from botocore.exceptions import ClientError

from ecr_emulator import persistence
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


def test_a_torn_journal_record_is_ignored(tmp_path):
    path = str(tmp_path / "journal.log")
    good = persistence.encode_record({"op": "CreateRepository", "n": 1})
    torn = persistence.encode_record({"op": "CreateRepository", "n": 2})[:-7]
    with open(path, "wb") as f:
        f.write(good + torn)
    assert [r["n"] for r in persistence.read_records(path)] == [1]
    corrupt = bytearray(good)
    corrupt[-3] ^= 1
    with open(path, "wb") as f:
        f.write(bytes(corrupt) + good)
    assert list(persistence.read_records(path)) == []


def test_state_files_refuse_foreign_objects():
    import pickle

    with pytest.raises(pickle.UnpicklingError):
        persistence.loads_state(pickle.dumps({"version": 1, "registries": os.system}))


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
