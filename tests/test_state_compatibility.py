"""State written by an earlier version (``data/state_written_before`` and ``data/archive_written_before.tar``, made by
``data/make_state_written_before.py`` before the package's modules were regrouped) is still read whole: a server
started on the directory, and one importing the archive, serve the same repositories, image, policy and layer bytes.
What that version kept in the ``extra`` dict of an image (scans, restores, replication outcomes) or of a repository
(lifecycle policy preview, restores under way, pull through cache checks) is read into the attributes replacing it."""

import hashlib
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from data.make_state_written_before import CONFIG, LAYER, LIFECYCLE
from ecr_emulator.state import codec
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


ACCOUNT = "123456789012"
# A model time a minute after the fixture's push (and so before now).
LATER = 1796038500.0


def _snapshot_records(state: pathlib.Path) -> list[dict]:
    with open(state / "state.snapshot", "rb") as f:
        return [record for _, record in codec.iter_records(f)]


def _state_with_image_extra(tmp_path, extra, repository_extra=None, **attributes) -> pathlib.Path:
    """A copy of the state directory written before whose image's ``extra`` holds ``extra`` (and whose repository's
    holds ``repository_extra``), as the earlier version held what happened to them."""
    state = tmp_path / "state"
    shutil.copytree(DATA / "state_written_before", state)
    records = _snapshot_records(state)
    repo = records[1]["registry"]["state"]["repositories"]["team/app"]["state"]
    [image] = [value["state"] for value in repo["images"]["state"]["by_digest"].values()]
    assert image["extra"] is None and repo["extra"] == {}
    image["extra"] = codec.encode_value(extra)
    image.update(attributes)
    repo["extra"] = codec.encode_value(repository_extra or {})
    (state / "state.snapshot").write_bytes(b"".join(codec.encode_record(record) for record in records))
    return state


SCANNED_RESTORED_REPLICATED = {
    "scan": {"startedAt": LATER, "completesAt": LATER, "findings": [{"name": "CVE-2026-0001", "severity": "HIGH"}]},
    "lastActivatedAt": LATER,
    "replicationStatuses": {("us-west-2", ACCOUNT): {"region": "us-west-2", "registryId": ACCOUNT,
                                                     "status": "COMPLETE"}},
}


def test_an_image_extra_written_before_is_served_from_the_attributes_that_replaced_it(tmp_path):
    state = _state_with_image_extra(tmp_path, SCANNED_RESTORED_REPLICATED)
    with running_server("--state-dir", str(state)) as server:
        ecr = server.client()
        [image] = ecr.describe_images(repositoryName="team/app")["imageDetails"]
        assert image["imageScanStatus"]["status"] == "COMPLETE"
        assert image["imageScanFindingsSummary"]["findingSeverityCounts"] == {"HIGH": 1}
        assert image["lastActivatedAt"].timestamp() == LATER
        found = ecr.describe_image_scan_findings(repositoryName="team/app", imageId={"imageTag": "v1"})
        assert [f["name"] for f in found["imageScanFindings"]["findings"]] == ["CVE-2026-0001"]
        replicated = ecr.describe_image_replication_status(repositoryName="team/app", imageId={"imageTag": "v1"})
        assert replicated["replicationStatuses"] == [{"region": "us-west-2", "registryId": ACCOUNT,
                                                      "status": "COMPLETE"}]


def test_an_image_being_restored_before_is_still_activating(tmp_path):
    state = _state_with_image_extra(tmp_path, {"activatingUntil": LATER * 2}, storage_class="ARCHIVE")
    with running_server("--state-dir", str(state)) as server:
        [image] = server.client().describe_images(repositoryName="team/app", filter={"imageStatus": "ANY"})[
            "imageDetails"]
        assert image["imageStatus"] == "ACTIVATING"


def test_the_codec_moves_an_image_extra_to_its_attributes_and_writes_them_back_without_it(tmp_path):
    state = _state_with_image_extra(tmp_path, {**SCANNED_RESTORED_REPLICATED, "activatingUntil": LATER * 2,
                                               "enhancedScan": {"frequency": "MANUAL", "status": "UNSUPPORTED_IMAGE"}})
    with open(state / "state.snapshot", "rb") as f:
        registries, _ = codec.read_snapshot(f, "state.snapshot")
    [image] = registries[(ACCOUNT, "us-east-1")].repositories["team/app"].images
    assert image.scan == SCANNED_RESTORED_REPLICATED["scan"]
    assert image.enhanced_scan == {"frequency": "MANUAL", "status": "UNSUPPORTED_IMAGE"}
    assert (image.activating_until, image.last_activated) == (LATER * 2, LATER)
    assert image.replication_statuses == SCANNED_RESTORED_REPLICATED["replicationStatuses"]
    rewritten = codec.decode_value(codec.encode_value(image))
    assert "extra" not in codec.encode_value(image)["state"] and rewritten.scan == image.scan


def test_an_image_extra_written_before_with_nothing_in_it_leaves_every_attribute_empty():
    with open(DATA / "state_written_before" / "state.snapshot", "rb") as f:
        registries, _ = codec.read_snapshot(f, "state.snapshot")
    [image] = registries[(ACCOUNT, "us-east-1")].repositories["team/app"].images
    assert (image.scan, image.enhanced_scan, image.activating_until, image.last_activated,
            image.replication_statuses) == (None, None, None, None, None)


@pytest.mark.parametrize("extra,repository_extra,attributes,fault", [
    (None, None, {"colour": "blue"}, "Image has no attribute 'colour'"),
    ({"colour": "blue"}, None, {}, "Image's extra has no key 'colour'"),
    ([1], None, {}, "Image's extra is not a dict"),
    (None, {"colour": "blue"}, {}, "Repository's extra has no key 'colour'"),
])
def test_an_attribute_or_extra_key_no_version_wrote_is_refused(tmp_path, extra, repository_extra, attributes, fault):
    state = _state_with_image_extra(tmp_path, extra, repository_extra, **attributes)
    with open(state / "state.snapshot", "rb") as f, pytest.raises(codec.StateFormatError, match=fault):
        codec.read_snapshot(f, "state.snapshot")


def _digest_written() -> str:
    [digest] = _snapshot_records(DATA / "state_written_before")[1]["registry"]["state"]["repositories"]["team/app"][
        "state"]["images"]["state"]["by_digest"]
    return digest


def test_a_restore_under_way_before_completes_when_due(tmp_path):
    state = _state_with_image_extra(tmp_path, {"activatingUntil": LATER},
                                    {"pendingRestores": {_digest_written(): LATER}}, storage_class="ARCHIVE")
    with running_server("--state-dir", str(state)) as server:
        [image] = server.client().describe_images(repositoryName="team/app")["imageDetails"]
        assert image["imageStatus"] == "ACTIVE" and image["lastActivatedAt"].timestamp() == LATER


def test_a_lifecycle_policy_preview_started_before_is_still_there(tmp_path):
    preview = {"text": json.dumps(LIFECYCLE), "status": "IN_PROGRESS", "results": []}
    state = _state_with_image_extra(tmp_path, None, {"lifecyclePolicyPreview": preview})
    with running_server("--state-dir", str(state)) as server:
        shown = server.client().get_lifecycle_policy_preview(repositoryName="team/app")
        assert json.loads(shown["lifecyclePolicyText"]) == LIFECYCLE and shown["status"] == "COMPLETE"


@pytest.mark.parametrize("sync,checks", [(None, None), ({}, {}), ({"checked": {"v1": LATER}}, {"v1": LATER})],
                         ids=["not-a-cache", "cache-never-checked", "cache-checked"])
def test_a_pull_through_cache_record_written_before_becomes_its_tag_checks(tmp_path, sync, checks):
    state = _state_with_image_extra(tmp_path, None, {} if sync is None else {"pullThroughCache": sync})
    with open(state / "state.snapshot", "rb") as f:
        registries, _ = codec.read_snapshot(f, "state.snapshot")
    repo = registries[(ACCOUNT, "us-east-1")].repositories["team/app"]
    assert (repo.pull_through_checks, repo.pending_restores, repo.lifecycle_preview) == (checks, {}, None)
    assert "extra" not in codec.encode_value(repo)["state"]
