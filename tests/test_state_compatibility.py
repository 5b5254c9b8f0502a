"""State written by an earlier version (``data/state_written_before`` and ``data/archive_written_before.tar``, made by
``data/make_state_written_before.py`` before the package's modules were regrouped) is still read whole: a server
started on the directory, and one importing the archive, serve the same repositories, image, policy and layer bytes."""

import hashlib
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from data.make_state_written_before import CONFIG, LAYER, LIFECYCLE
from ecr_emulator.testing import running_server
from registry_client import RegistryClient

DATA = pathlib.Path(__file__).parent / "data"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _assert_holds_what_was_written(server) -> None:
    ecr = server.client()
    repositories = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
    assert sorted(repositories) == ["empty", "team/app"]
    assert repositories["team/app"]["imageTagMutability"] == "IMMUTABLE"
    arn = repositories["team/app"]["repositoryArn"]
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "owner", "Value": "platform"}]
    assert json.loads(ecr.get_lifecycle_policy(repositoryName="team/app")["lifecyclePolicyText"]) == LIFECYCLE
    [image] = ecr.describe_images(repositoryName="team/app")["imageDetails"]
    assert image["imageTags"] == ["v1"]
    manifest = json.loads(ecr.batch_get_image(repositoryName="team/app", imageIds=[{"imageTag": "v1"}])[
        "images"][0]["imageManifest"])
    assert manifest["layers"][0]["digest"] == _digest(LAYER)
    assert manifest["config"]["digest"] == _digest(CONFIG)
    availability = ecr.batch_check_layer_availability(repositoryName="team/app", layerDigests=[_digest(LAYER)])
    assert availability["layers"][0]["layerAvailability"] == "AVAILABLE"
    status, _, body = RegistryClient(server.endpoint, ecr).request("GET", f"/v2/team/app/blobs/{_digest(LAYER)}")
    assert status == 200 and body == LAYER


def test_a_state_directory_written_before_is_served_whole(tmp_path):
    state = tmp_path / "state"
    shutil.copytree(DATA / "state_written_before", state)
    with running_server("--state-dir", str(state)) as server:
        _assert_holds_what_was_written(server)
    with running_server("--state-dir", str(state)) as restarted:
        _assert_holds_what_was_written(restarted)


@pytest.mark.parametrize("state_dir", [False, True], ids=["in-memory", "state-dir"])
def test_an_archive_written_before_imports_whole(tmp_path, state_dir):
    args = ("--state-dir", str(tmp_path / "state")) if state_dir else ()
    with running_server(*args) as server:
        archive = str(DATA / "archive_written_before.tar")
        result = subprocess.run([sys.executable, "-m", "ecr_emulator", "import", archive,
                                 "--endpoint", server.endpoint], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        _assert_holds_what_was_written(server)
