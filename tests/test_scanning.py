"""Basic scanning through boto3: StartImageScan, DescribeImageScanFindings, scan on push, and the scan fields of
DescribeImages; plus the pure findings model."""

import pytest
from botocore.exceptions import ClientError

import sample_manifests as sm
from ecr_emulator.models import scans
from ecr_emulator.models.images import Image
from conftest import error_of, push

ACCOUNT = "123456789012"
DAY = 86400


def advance(ecr_emulator, seconds: float) -> None:
    ecr_emulator.admin("/_emulator/clock", {"advance": seconds})


def detail(ecr, digest: str, repo: str = "app") -> dict:
    return ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": digest}])["imageDetails"][0]


def test_start_scan_by_tag_reports_in_progress_then_complete(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("a", layer_sizes=(1, 2, 3, 4, 5, 6)), "v1")
    started = ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})
    assert started["registryId"] == ACCOUNT and started["repositoryName"] == repo
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert started["imageScanStatus"] == {"status": "IN_PROGRESS"}
    pending = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest})
    assert pending["imageScanStatus"]["status"] == "IN_PROGRESS" and "imageScanFindings" not in pending
    assert detail(ecr, digest)["imageScanStatus"] == {"status": "IN_PROGRESS"}
    assert "imageScanFindingsSummary" not in detail(ecr, digest)

    advance(ecr_emulator, scans.SCAN_SECONDS)
    done = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageTag": "v1"})
    assert done["imageScanStatus"] == {"status": "COMPLETE", "description": "The scan was completed successfully."}
    findings = done["imageScanFindings"]
    assert findings["findings"], "six layers give findings"
    assert findings["imageScanCompletedAt"] >= findings["vulnerabilitySourceUpdatedAt"]
    counts: dict = {}
    for finding in findings["findings"]:
        assert finding["name"].startswith("CVE-20") and finding["uri"].endswith(finding["name"])
        assert finding["severity"] in scans.SEVERITIES and finding["description"]
        keys = [a["key"] for a in finding["attributes"]]
        assert keys[:2] == ["package_name", "package_version"]
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    assert findings["findingSeverityCounts"] == counts
    summary = detail(ecr, digest)["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == counts
    assert summary["imageScanCompletedAt"] == findings["imageScanCompletedAt"]
    assert detail(ecr, digest)["imageScanStatus"]["status"] == "COMPLETE"


def test_findings_are_deterministic_and_paged(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("p", layer_sizes=tuple(range(1, 21))))
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    advance(ecr_emulator, scans.SCAN_SECONDS)
    whole = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest})
    everything = whole["imageScanFindings"]["findings"]
    assert len(everything) > 3 and "nextToken" not in whole
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest},
                                                maxResults=3, **kwargs)
        assert len(page["imageScanFindings"]["findings"]) <= 3
        assert page["imageScanFindings"]["findingSeverityCounts"] == whole["imageScanFindings"]["findingSeverityCounts"]
        pages += page["imageScanFindings"]["findings"]
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == everything
    paginated = [f for p in ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=repo, imageId={"imageDigest": digest}, PaginationConfig={"PageSize": 4})
        for f in p["imageScanFindings"]["findings"]]
    assert paginated == everything


def test_bad_findings_token(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("t"))
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    with pytest.raises(ClientError) as exc:
        ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest}, nextToken="nope")
    assert error_of(exc)[0] == "InvalidParameterException"


def test_pure_findings_follow_layers():
    def image(layers):
        img = Image("sha256:" + "0" * 64, b"{}", sm.DOCKER_MANIFEST, 0.0, 0)
        img.layers = tuple(layers)
        return img
    layers = [sm.digest(f"layer-{i}") for i in range(30)]
    assert scans.findings(image(layers)) == scans.findings(image(layers))
    assert scans.findings(image([])) == []
    assert scans.findings(image(layers)) != scans.findings(image(layers[:10]))
    ranks = [scans.SEVERITIES.index(f["severity"]) for f in scans.findings(image(layers))]
    assert ranks == sorted(ranks)


def test_scan_limit_once_a_day(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("l"), "v1")
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    advance(ecr_emulator, DAY - 60)
    with pytest.raises(ClientError) as exc:
        ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})
    assert error_of(exc) == ("LimitExceededException",
                             "The scan quota per image has been exceeded. Wait and try again.")
    advance(ecr_emulator, 60)
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
    found = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest})
    assert found["imageScanStatus"]["status"] == "IMAGE_ARCHIVED" and "imageScanFindings" not in found


def test_scan_on_push_by_repository_flag(ecr, ecr_emulator):
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    ecr.create_repository(repositoryName="plain")
    scanned = push(ecr, sm.docker("sp"), repo="scanned")
    unsupported = push(ecr, sm.oci("sbom", artifact_type="application/spdx+json"), repo="scanned")
    plain = push(ecr, sm.docker("sp"), repo="plain")
    assert detail(ecr, scanned, "scanned")["imageScanStatus"] == {"status": "IN_PROGRESS"}
    assert detail(ecr, unsupported, "scanned")["imageScanStatus"]["status"] == "UNSUPPORTED_IMAGE"
    assert "imageScanStatus" not in detail(ecr, plain, "plain")
    with pytest.raises(ClientError) as exc:
        ecr.start_image_scan(repositoryName="scanned", imageId={"imageDigest": scanned})
    assert error_of(exc)[0] == "LimitExceededException"
    advance(ecr_emulator, scans.SCAN_SECONDS)
    assert ecr.describe_image_scan_findings(repositoryName="scanned", imageId={"imageDigest": scanned})[
        "imageScanStatus"]["status"] == "COMPLETE"


def test_scan_on_push_by_registry_rule(ecr):
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[{
        "scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD"}]}])
    ecr.create_repository(repositoryName="team/api")
    ecr.create_repository(repositoryName="other")
    matched = push(ecr, sm.docker("r"), repo="team/api")
    unmatched = push(ecr, sm.docker("r"), repo="other")
    assert detail(ecr, matched, "team/api")["imageScanStatus"]["status"] == "IN_PROGRESS"
    assert "imageScanStatus" not in detail(ecr, unmatched, "other")


def test_retagging_does_not_rescan(ecr, ecr_emulator):
    ecr.create_repository(repositoryName="scanned", imageScanningConfiguration={"scanOnPush": True})
    manifest = sm.docker("rt")
    digest = push(ecr, manifest, "v1", repo="scanned")
    advance(ecr_emulator, scans.SCAN_SECONDS)
    push(ecr, manifest, "v2", repo="scanned")
    assert detail(ecr, digest, "scanned")["imageScanStatus"]["status"] == "COMPLETE"
