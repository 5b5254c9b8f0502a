"""Basic scanning through boto3: StartImageScan, DescribeImageScanFindings, scan on push, the scan fields of
DescribeImages, the scan duration setting (--scan-seconds) and findings that tests declare."""

import json

import pytest
from botocore.exceptions import ClientError

import sample_manifests as sm
from ecr_emulator import cli
from ecr_emulator.testing import running_server
from helpers import advance_clock, clear_declarations, declare_findings, error_of, push

ACCOUNT = "123456789012"
DAY = 86400
COMPLETE = {"status": "COMPLETE", "description": "The scan was completed successfully."}


def detail(ecr, digest: str, repo: str = "app") -> dict:
    return ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": digest}])["imageDetails"][0]


def scan_findings(ecr, digest: str, repo: str = "app", **kwargs) -> dict:
    return ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest}, **kwargs)


def with_layers(*layers: str) -> str:
    """A Docker image manifest naming exactly these layer digests."""
    return json.dumps({"schemaVersion": 2, "mediaType": sm.DOCKER_MANIFEST,
                       "config": sm.descriptor("application/vnd.docker.container.image.v1+json",
                                               "config-" + "-".join(layers), 7),
                       "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer,
                                   "size": 10} for layer in layers]})


def test_a_scan_with_nothing_declared_finds_nothing(ecr, repo):
    digest = push(ecr, sm.docker("a", layer_sizes=(1, 2, 3, 4, 5, 6)), "v1")
    started = ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})
    assert started["registryId"] == ACCOUNT and started["repositoryName"] == repo
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert started["imageScanStatus"] == {"status": "IN_PROGRESS"}
    done = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageTag": "v1"})
    assert done["imageScanStatus"] == COMPLETE
    findings = done["imageScanFindings"]
    assert findings["findings"] == [] and findings["findingSeverityCounts"] == {}
    assert "enhancedFindings" not in findings
    assert findings["imageScanCompletedAt"] == findings["vulnerabilitySourceUpdatedAt"]
    summary = detail(ecr, digest)["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == {}
    assert summary["imageScanCompletedAt"] == findings["imageScanCompletedAt"]
    assert detail(ecr, digest)["imageScanStatus"] == COMPLETE


def test_the_scan_complete_waiter_finishes_on_its_first_poll(ecr, repo):
    digest = push(ecr, sm.docker("w"), "v1")
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    ecr.get_waiter("image_scan_complete").wait(repositoryName=repo, imageId={"imageTag": "v1"},
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 1})


@pytest.mark.parametrize("how", ["flag", "env"])
def test_scan_seconds_setting_keeps_a_scan_in_progress_for_that_long(how):
    args, env = (("--scan-seconds", "30"), None) if how == "flag" else ((), {"ECR_EMULATOR_SCAN_SECONDS": "30"})
    with running_server(*args, env=env) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="app")
        digest = push(ecr, sm.docker("s"), "v1")
        assert ecr.start_image_scan(repositoryName="app", imageId={"imageDigest": digest})["imageScanStatus"] == {
            "status": "IN_PROGRESS"}
        server.admin("/_emulator/clock", {"advance": 29})
        pending = scan_findings(ecr, digest)
        assert pending["imageScanStatus"] == {"status": "IN_PROGRESS"} and "imageScanFindings" not in pending
        assert detail(ecr, digest)["imageScanStatus"] == {"status": "IN_PROGRESS"}
        assert "imageScanFindingsSummary" not in detail(ecr, digest)
        with pytest.raises(Exception) as exc:
            ecr.get_waiter("image_scan_complete").wait(repositoryName="app", imageId={"imageDigest": digest},
                                                       WaiterConfig={"Delay": 1, "MaxAttempts": 1})
        assert "Max attempts exceeded" in str(exc.value)
        server.admin("/_emulator/clock", {"advance": 1})
        done = scan_findings(ecr, digest)
        assert done["imageScanStatus"] == COMPLETE
        assert done["imageScanFindings"]["imageScanCompletedAt"].timestamp() == pytest.approx(
            ecr.describe_images(repositoryName="app")["imageDetails"][0]["imagePushedAt"].timestamp() + 30, abs=1)


@pytest.mark.parametrize("argv,env", [(["--scan-seconds", "-1"], {}), (["--scan-seconds", "soon"], {}),
                                      ([], {"ECR_EMULATOR_SCAN_SECONDS": "nan"})])
def test_a_bad_scan_duration_is_refused_in_one_line(argv, env, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit):
        cli.parse_args(argv)
    assert "scan-seconds" in capsys.readouterr().err


def test_scan_duration_defaults_to_zero(monkeypatch):
    monkeypatch.delenv("ECR_EMULATOR_SCAN_SECONDS", raising=False)
    assert cli.parse_args([]).scan_seconds == 0
    assert cli.parse_args(["--scan-seconds", "2.5"]).scan_seconds == 2.5


def test_declared_findings_in_the_basic_shape(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("d"), "v1")
    declare_findings(ecr_emulator, {"repositoryName": repo, "imageTag": "v1", "findings": [
        {"name": "EMU-0001", "severity": "HIGH", "package": "libexample", "version": "1.2.3",
         "fixedInVersion": "1.2.4", "score": 7.5, "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
         "description": "Declared by the test.", "uri": "https://example.invalid/EMU-0001"},
        {"name": "EMU-0002", "severity": "LOW"},
        {"name": "EMU-0003", "severity": "CRITICAL", "package": "openthing"}]})
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    found = scan_findings(ecr, digest)["imageScanFindings"]
    assert found["findings"] == [
        {"name": "EMU-0003", "severity": "CRITICAL", "attributes": [{"key": "package_name", "value": "openthing"}]},
        {"name": "EMU-0001", "severity": "HIGH", "description": "Declared by the test.",
         "uri": "https://example.invalid/EMU-0001",
         "attributes": [{"key": "package_name", "value": "libexample"}, {"key": "package_version", "value": "1.2.3"},
                        {"key": "CVSS3_SCORE", "value": "7.5"},
                        {"key": "CVSS3_VECTOR", "value": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]},
        {"name": "EMU-0002", "severity": "LOW", "attributes": []}]
    assert found["findingSeverityCounts"] == {"CRITICAL": 1, "HIGH": 1, "LOW": 1}
    assert detail(ecr, digest)["imageScanFindingsSummary"]["findingSeverityCounts"] == {"CRITICAL": 1, "HIGH": 1,
                                                                                         "LOW": 1}


def test_pipeline_gate_a_critical_finding_appears_only_after_it_is_declared_and_the_image_is_rescanned(
        ecr, ecr_emulator, repo):
    def critical_count(digest):
        ecr.get_waiter("image_scan_complete").wait(repositoryName=repo, imageId={"imageDigest": digest},
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 1})
        return scan_findings(ecr, digest)["imageScanFindings"]["findingSeverityCounts"].get("CRITICAL", 0)

    digest = push(ecr, sm.docker("gate"), "release")
    ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "release"})
    assert critical_count(digest) == 0, "the gate passes"
    declare_findings(ecr_emulator, {"repositoryName": repo, "imageDigest": digest, "findings": [
        {"name": "EMU-GATE-1", "severity": "CRITICAL", "package": "openssl", "version": "3.0.0"}]})
    assert critical_count(digest) == 0, "a declaration does not change a scan already made"
    advance_clock(ecr_emulator, DAY)
    ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "release"})
    assert critical_count(digest) == 1, "the gate fails"
    clear_declarations(ecr_emulator)
    assert critical_count(digest) == 1, "clearing declarations changes nothing until the next scan"
    advance_clock(ecr_emulator, DAY)
    ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "release"})
    assert critical_count(digest) == 0, "fixed: the gate passes again"


def test_a_layer_declaration_covers_every_image_naming_the_layer(ecr, ecr_emulator):
    shared, own = sm.digest("shared-base-layer"), sm.digest("own-layer")
    for name in ("one", "two"):
        ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    declare_findings(ecr_emulator, {"layerDigest": shared, "findings": [{"name": "EMU-BASE-1", "severity": "MEDIUM"}]})
    declare_findings(ecr_emulator, {"layerDigest": shared, "repositoryName": "two",
                           "findings": [{"name": "EMU-BASE-2", "severity": "HIGH"}]})
    with_base_one = push(ecr, with_layers(shared, own), repo="one")
    with_base_two = push(ecr, with_layers(own, shared), repo="two")
    without = push(ecr, with_layers(own), repo="one")
    assert [f["name"] for f in scan_findings(ecr, with_base_one, "one")["imageScanFindings"]["findings"]] == [
        "EMU-BASE-1"]
    assert [f["name"] for f in scan_findings(ecr, with_base_two, "two")["imageScanFindings"]["findings"]] == [
        "EMU-BASE-2", "EMU-BASE-1"]
    assert scan_findings(ecr, without, "one")["imageScanFindings"]["findings"] == []


def test_a_tag_declaration_follows_the_tag_at_scan_time(ecr, ecr_emulator, repo):
    declare_findings(ecr_emulator, {"repositoryName": repo, "imageTag": "latest", "scanType": "BASIC",
                           "findings": [{"name": "EMU-TAG-1", "severity": "INFORMATIONAL"}]})
    first = push(ecr, sm.docker("t1"), "latest")
    second = push(ecr, sm.docker("t2"), "latest")
    for digest in (first, second):
        ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    assert scan_findings(ecr, first)["imageScanFindings"]["findings"] == []
    assert [f["name"] for f in scan_findings(ecr, second)["imageScanFindings"]["findings"]] == ["EMU-TAG-1"]


def test_enhanced_only_declarations_do_not_reach_basic_scans(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("eo"), "v1")
    declare_findings(ecr_emulator, {"repositoryName": repo, "imageTag": "v1", "scanType": "ENHANCED",
                           "findings": [{"name": "EMU-ENH-1", "severity": "HIGH"}]})
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    assert scan_findings(ecr, digest)["imageScanFindings"]["findings"] == []


def test_findings_are_paged_with_counts_of_all_of_them(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("p"), "v1")
    severities = ["LOW", "CRITICAL", "MEDIUM", "HIGH", "UNDEFINED", "INFORMATIONAL", "HIGH", "LOW", "CRITICAL"]
    declare_findings(ecr_emulator, {"repositoryName": repo, "imageTag": "v1", "findings": [
        {"name": f"EMU-{i:04d}", "severity": s} for i, s in enumerate(severities)]})
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    whole = scan_findings(ecr, digest)
    everything = whole["imageScanFindings"]["findings"]
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
    assert [f["severity"] for f in everything] == sorted(severities, key=order.index)
    counts = whole["imageScanFindings"]["findingSeverityCounts"]
    assert counts == {s: severities.count(s) for s in set(severities)}
    pages, token = [], None
    while True:
        page = scan_findings(ecr, digest, maxResults=4, **({"nextToken": token} if token else {}))
        assert len(page["imageScanFindings"]["findings"]) <= 4
        assert page["imageScanFindings"]["findingSeverityCounts"] == counts
        pages += page["imageScanFindings"]["findings"]
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == everything
    paginated = [f for p in ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=repo, imageId={"imageDigest": digest}, PaginationConfig={"PageSize": 2})
        for f in p["imageScanFindings"]["findings"]]
    assert paginated == everything


def test_bad_findings_token(ecr, repo):
    digest = push(ecr, sm.docker("t"))
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    with pytest.raises(ClientError) as exc:
        scan_findings(ecr, digest, nextToken="nope")
    assert error_of(exc)[0] == "InvalidParameterException"


def test_scan_limit_once_a_day(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("l"), "v1")
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    advance_clock(ecr_emulator, DAY - 60)
    with pytest.raises(ClientError) as exc:
        ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})
    assert error_of(exc) == ("LimitExceededException",
                             "The scan quota per image has been exceeded. Wait and try again.")
    advance_clock(ecr_emulator, 60)
    assert ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})["imageScanStatus"]["status"] == \
        "IN_PROGRESS"


@pytest.mark.parametrize("manifest", [
    sm.index([sm.oci("c1")]),
    sm.oci("art", artifact_type="application/vnd.example.sbom"),
    sm.oci("cfg", config_type="application/vnd.cncf.helm.config.v1+json"),
])
def test_unsupported_image_types(ecr, repo, manifest):
    digest = push(ecr, manifest)
    with pytest.raises(ClientError) as exc:
        ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    assert error_of(exc) == ("UnsupportedImageTypeException", "The operation is not supported for this image type.")


def test_schema1_and_oci_images_scan(ecr, repo):
    for manifest in (sm.schema1("s"), sm.oci("o")):
        digest = push(ecr, manifest)
        assert ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})["imageScanStatus"] == {
            "status": "IN_PROGRESS"}
        assert scan_findings(ecr, digest)["imageScanStatus"] == COMPLETE


def test_scan_not_found_and_image_not_found(ecr, repo):
    digest = push(ecr, sm.docker("n"), "v1")
    with pytest.raises(ClientError) as exc:
        ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageTag": "v1"})
    code, message = error_of(exc)
    assert code == "ScanNotFoundException"
    assert message == (f"Image scan does not exist for the image with '{{imageDigest:'null', imageTag:'v1'}}' in the "
                       f"repository with name 'app' in the registry with id '{ACCOUNT}'")
    assert "imageScanStatus" not in detail(ecr, digest)
    for call in (ecr.start_image_scan, ecr.describe_image_scan_findings):
        with pytest.raises(ClientError) as exc:
            call(repositoryName=repo, imageId={"imageTag": "missing"})
        assert error_of(exc)[0] == "ImageNotFoundException"
        with pytest.raises(ClientError) as exc:
            call(repositoryName="absent", imageId={"imageTag": "v1"})
        assert error_of(exc)[0] == "RepositoryNotFoundException"
        with pytest.raises(ClientError) as exc:
            call(repositoryName=repo, imageId={})
        assert error_of(exc)[0] == "InvalidParameterException"


def test_archived_image_cannot_be_scanned(ecr, repo):
    digest = push(ecr, sm.docker("ar"))
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    ecr.update_image_storage_class(repositoryName=repo, imageId={"imageDigest": digest}, targetStorageClass="ARCHIVE")
    with pytest.raises(ClientError) as exc:
        ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    assert error_of(exc)[0] == "ImageArchivedException"
    found = scan_findings(ecr, digest)
    assert found["imageScanStatus"]["status"] == "IMAGE_ARCHIVED" and "imageScanFindings" not in found


def test_scan_on_push_by_repository_flag(ecr, ecr_emulator):
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    ecr.create_repository(repositoryName="plain")
    declare_findings(ecr_emulator, {"repositoryName": "scanned", "imageTag": "v1",
                           "findings": [{"name": "EMU-PUSH-1", "severity": "MEDIUM"}]})
    scanned = push(ecr, sm.docker("sp"), "v1", repo="scanned")
    unsupported = push(ecr, sm.oci("sbom", artifact_type="application/spdx+json"), repo="scanned")
    plain = push(ecr, sm.docker("sp"), "v1", repo="plain")
    assert detail(ecr, scanned, "scanned")["imageScanStatus"] == COMPLETE
    assert detail(ecr, scanned, "scanned")["imageScanFindingsSummary"]["findingSeverityCounts"] == {"MEDIUM": 1}
    assert detail(ecr, unsupported, "scanned")["imageScanStatus"]["status"] == "UNSUPPORTED_IMAGE"
    assert "imageScanStatus" not in detail(ecr, plain, "plain")
    with pytest.raises(ClientError) as exc:
        ecr.start_image_scan(repositoryName="scanned", imageId={"imageDigest": scanned})
    assert error_of(exc)[0] == "LimitExceededException"


def test_scan_on_push_by_registry_rule(ecr):
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[{
        "scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD"}]}])
    ecr.create_repository(repositoryName="team/api")
    ecr.create_repository(repositoryName="other")
    matched = push(ecr, sm.docker("r"), repo="team/api")
    unmatched = push(ecr, sm.docker("r"), repo="other")
    assert detail(ecr, matched, "team/api")["imageScanStatus"]["status"] == "COMPLETE"
    assert "imageScanStatus" not in detail(ecr, unmatched, "other")


def test_retagging_does_not_rescan(ecr, ecr_emulator):
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    manifest = sm.docker("rt")
    digest = push(ecr, manifest, "v1", repo="scanned")
    completed = detail(ecr, digest, "scanned")["imageScanFindingsSummary"]["imageScanCompletedAt"]
    advance_clock(ecr_emulator, 60)
    push(ecr, manifest, "v2", repo="scanned")
    assert detail(ecr, digest, "scanned")["imageScanFindingsSummary"]["imageScanCompletedAt"] == completed
