"""Enhanced scanning through boto3: which repositories are scanned, ECR's statuses for them, declared findings in
Amazon Inspector's shape (every member of botocore's EnhancedImageScanFinding), continuous rescans on the model
clock, scan eligibility, and switching between basic and enhanced scanning."""

import botocore.session
import pytest
from botocore.exceptions import ClientError

import sample_manifests as sm
from ecr_emulator.testing import running_server
from helpers import advance_clock, clear_declarations, declare_findings, error_of, push

ACCOUNT = "123456789012"
DAY = 86400
CONTINUOUS = {"status": "ACTIVE", "description": "Continuous scan is selected for image."}
COMPLETE = {"status": "COMPLETE", "description": "The scan was completed successfully."}
LAYER = sm.digest("layer-full-0")
FULL = {"name": "EMU-2099-0001", "severity": "HIGH", "description": "A declared vulnerability.",
        "uri": "https://example.invalid/advisories/EMU-2099-0001", "package": "libexample", "version": "1.2.3",
        "packageManager": "OS", "arch": "X86_64", "filePath": "/usr/lib/libexample.so", "fixedInVersion": "1.2.4",
        "exploitAvailable": "YES", "score": 8.1, "scoringVector": "CVSS:3.1/AV:L/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H"}


def rule(frequency: str, *filters: str) -> dict:
    return {"scanFrequency": frequency, "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters]}


def enhanced(ecr, *rules) -> None:
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=list(rules))


def scan_findings(ecr, repo: str, digest: str, **kwargs) -> dict:
    return ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest}, **kwargs)


def names(reply: dict) -> list[str]:
    return [f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in reply["imageScanFindings"]["enhancedFindings"]]


def members(shape_name: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("ecr")
    return set(model.shape_for(shape_name).members)


def test_enhanced_findings_carry_every_member_of_the_model(ecr, ecr_emulator):
    enhanced(ecr, rule("CONTINUOUS_SCAN", "prod/*"))
    ecr.create_repository(repositoryName="prod/api")
    declare_findings(ecr_emulator, {"layerDigest": LAYER, "scanType": "ENHANCED", "findings": [FULL]})
    digest = push(ecr, sm.docker("full"), "v1", repo="prod/api")
    ecr.batch_get_image(repositoryName="prod/api", imageIds=[{"imageTag": "v1"}])
    reply = scan_findings(ecr, "prod/api", digest)
    assert reply["imageScanStatus"] == CONTINUOUS
    found = reply["imageScanFindings"]
    assert "findings" not in found and found["findingSeverityCounts"] == {"HIGH": 1}
    [finding] = found["enhancedFindings"]
    assert set(finding) == members("EnhancedImageScanFinding")
    details = finding["packageVulnerabilityDetails"]
    assert set(details) == members("PackageVulnerabilityDetails")
    [package] = details["vulnerablePackages"]
    assert set(package) == members("VulnerablePackage")
    assert set(details["cvss"][0]) == members("CvssScore")
    assert set(finding["remediation"]["recommendation"]) == members("Recommendation")
    [resource] = finding["resources"]
    assert set(resource) == members("Resource")
    image = resource["details"]["awsEcrContainerImage"]
    assert set(image) == members("AwsEcrContainerImageDetails") - {"architecture", "platform", "author"}
    assert set(finding["scoreDetails"]["cvss"]) == members("CvssScoreDetails")

    assert finding["awsAccountId"] == ACCOUNT and finding["severity"] == "HIGH" and finding["status"] == "ACTIVE"
    assert finding["findingArn"].startswith(f"arn:aws:inspector2:us-east-1:{ACCOUNT}:finding/")
    assert finding["title"] == "EMU-2099-0001 - libexample" and finding["type"] == "PACKAGE_VULNERABILITY"
    assert finding["score"] == 8.1 and finding["scoreDetails"]["cvss"]["scoringVector"] == FULL["scoringVector"]
    assert finding["fixAvailable"] == "YES" and finding["exploitAvailable"] == "YES"
    assert package == {"arch": "X86_64", "epoch": 0, "filePath": "/usr/lib/libexample.so", "name": "libexample",
                       "packageManager": "OS", "release": "", "sourceLayerHash": LAYER, "version": "1.2.3",
                       "fixedInVersion": "1.2.4"}
    assert details["vulnerabilityId"] == "EMU-2099-0001" and details["referenceUrls"] == [FULL["uri"]]
    assert image["imageHash"] == digest and image["imageTags"] == ["v1"] and image["repositoryName"] == "prod/api"
    assert resource["id"] == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/prod/api/{digest}"
    assert finding["firstObservedAt"] == finding["lastObservedAt"] == found["imageScanCompletedAt"]
    assert "EMU" not in finding["findingArn"] and "nvd.nist.gov" not in str(reply)


def test_which_repositories_are_scanned_and_how_they_report(ecr, ecr_emulator):
    enhanced(ecr, rule("CONTINUOUS_SCAN", "prod/*"), rule("SCAN_ON_PUSH", "dev/*"))
    for name in ("prod/api", "dev/api", "other"):
        ecr.create_repository(repositoryName=name)
    declare_findings(ecr_emulator, {"layerDigest": sm.digest("layer-same-0"), "findings": [
        {"name": "EMU-1", "severity": "CRITICAL"}, {"name": "EMU-2", "severity": "UNDEFINED"}]})
    digests = {name: push(ecr, sm.docker("same"), "v1", repo=name) for name in ("prod/api", "dev/api", "other")}
    prod = scan_findings(ecr, "prod/api", digests["prod/api"])
    dev = scan_findings(ecr, "dev/api", digests["dev/api"])
    assert prod["imageScanStatus"] == CONTINUOUS and dev["imageScanStatus"] == COMPLETE
    for reply in (prod, dev):
        assert names(reply) == ["EMU-1", "EMU-2"]
        assert [f["severity"] for f in reply["imageScanFindings"]["enhancedFindings"]] == ["CRITICAL", "UNTRIAGED"]
        assert reply["imageScanFindings"]["findingSeverityCounts"] == {"CRITICAL": 1, "UNDEFINED": 1}
    with pytest.raises(ClientError) as exc:
        scan_findings(ecr, "other", digests["other"])
    assert error_of(exc)[0] == "ScanNotFoundException"
    described = {name: ecr.describe_images(repositoryName=name)["imageDetails"][0] for name in digests}
    assert described["prod/api"]["imageScanStatus"] == CONTINUOUS
    assert described["prod/api"]["imageScanFindingsSummary"]["findingSeverityCounts"] == {"CRITICAL": 1,
                                                                                           "UNDEFINED": 1}
    assert "imageScanStatus" not in described["other"]
    configs = ecr.batch_get_repository_scanning_configuration(repositoryNames=list(digests))["scanningConfigurations"]
    assert [(c["repositoryName"], c["scanFrequency"]) for c in configs] == [
        ("prod/api", "CONTINUOUS_SCAN"), ("dev/api", "SCAN_ON_PUSH"), ("other", "MANUAL")]


def test_manual_scans_are_refused_under_enhanced_scanning(ecr):
    enhanced(ecr, rule("SCAN_ON_PUSH", "*"))
    ecr.create_repository(repositoryName="app")
    digest = push(ecr, sm.docker("m"))
    with pytest.raises(ClientError) as exc:
        ecr.start_image_scan(repositoryName="app", imageId={"imageDigest": digest})
    assert error_of(exc)[0] == "ValidationException" and "enhanced scanning" in error_of(exc)[1]


def test_continuous_rescans_pick_up_declarations_when_the_clock_passes_a_rescan(ecr, ecr_emulator):
    enhanced(ecr, rule("CONTINUOUS_SCAN", "prod/*"), rule("SCAN_ON_PUSH", "dev/*"))
    ecr.create_repository(repositoryName="prod/api")
    ecr.create_repository(repositoryName="dev/api")
    declare_findings(ecr_emulator, {"layerDigest": sm.digest("layer-cr-0"),
                           "findings": [{"name": "EMU-OLD", "severity": "LOW"}]})
    prod = push(ecr, sm.docker("cr"), "v1", repo="prod/api")
    dev = push(ecr, sm.docker("cr"), "v1", repo="dev/api")
    first = scan_findings(ecr, "prod/api", prod)["imageScanFindings"]
    declare_findings(ecr_emulator, {"layerDigest": sm.digest("layer-cr-1"),
                           "findings": [{"name": "EMU-NEW", "severity": "CRITICAL", "fixAvailable": "PARTIAL"}]})
    advance_clock(ecr_emulator, DAY - 1)
    assert names(scan_findings(ecr, "prod/api", prod)) == ["EMU-OLD"], "no rescan yet"
    advance_clock(ecr_emulator, 1)
    rescanned = scan_findings(ecr, "prod/api", prod)
    assert names(rescanned) == ["EMU-NEW", "EMU-OLD"]
    new, old = rescanned["imageScanFindings"]["enhancedFindings"]
    assert old["firstObservedAt"] == first["imageScanCompletedAt"]
    assert new["firstObservedAt"] == new["lastObservedAt"] == old["lastObservedAt"] == \
        rescanned["imageScanFindings"]["imageScanCompletedAt"]
    assert (rescanned["imageScanFindings"]["imageScanCompletedAt"] - first["imageScanCompletedAt"]).total_seconds() \
        == DAY
    assert new["fixAvailable"] == "PARTIAL"
    assert rescanned["imageScanFindings"]["findingSeverityCounts"] == {"CRITICAL": 1, "LOW": 1}
    assert names(scan_findings(ecr, "dev/api", dev)) == ["EMU-OLD"], "scan on push scans once"


def test_a_declaration_cleared_after_a_due_rescan_is_still_seen_by_that_rescan(ecr, ecr_emulator):
    enhanced(ecr, rule("CONTINUOUS_SCAN", "*"))
    ecr.create_repository(repositoryName="app")
    digest = push(ecr, sm.docker("cl"), "v1")
    declare_findings(ecr_emulator, {"repositoryName": "app", "imageTag": "v1",
                           "findings": [{"name": "EMU-BRIEF", "severity": "MEDIUM"}]})
    advance_clock(ecr_emulator, DAY + 60)
    clear_declarations(ecr_emulator)
    assert names(scan_findings(ecr, "app", digest)) == ["EMU-BRIEF"]
    advance_clock(ecr_emulator, DAY)
    assert names(scan_findings(ecr, "app", digest)) == []


def test_scan_eligibility_expires_fourteen_days_after_the_push(ecr, ecr_emulator):
    enhanced(ecr, rule("CONTINUOUS_SCAN", "*"))
    ecr.create_repository(repositoryName="app")
    declare_findings(ecr_emulator, {"repositoryName": "app", "imageTag": "v1",
                           "findings": [{"name": "EMU-E", "severity": "HIGH"}]})
    digest = push(ecr, sm.docker("el"), "v1")
    advance_clock(ecr_emulator, 14 * DAY - 1)
    assert scan_findings(ecr, "app", digest)["imageScanStatus"] == CONTINUOUS
    advance_clock(ecr_emulator, 1)
    expired = scan_findings(ecr, "app", digest)
    assert expired["imageScanStatus"]["status"] == "SCAN_ELIGIBILITY_EXPIRED"
    assert "imageScanFindings" not in expired
    assert "imageScanFindingsSummary" not in ecr.describe_images(repositoryName="app")["imageDetails"][0]


def test_enhanced_findings_are_paged_with_counts_of_all_of_them(ecr, ecr_emulator):
    enhanced(ecr, rule("SCAN_ON_PUSH", "*"))
    ecr.create_repository(repositoryName="app")
    severities = ["LOW", "HIGH", "CRITICAL", "MEDIUM", "HIGH", "INFORMATIONAL", "LOW"]
    declare_findings(ecr_emulator, {"repositoryName": "app", "imageTag": "v1",
                           "findings": [{"name": f"EMU-{i}", "severity": s} for i, s in enumerate(severities)]})
    digest = push(ecr, sm.docker("pg"), "v1")
    whole = scan_findings(ecr, "app", digest)["imageScanFindings"]
    pages = list(ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName="app", imageId={"imageDigest": digest}, PaginationConfig={"PageSize": 3}))
    assert len(pages) == 3
    assert all(p["imageScanFindings"]["findingSeverityCounts"] == whole["findingSeverityCounts"] for p in pages)
    assert [f for p in pages for f in p["imageScanFindings"]["enhancedFindings"]] == whole["enhancedFindings"]
    assert sum(whole["findingSeverityCounts"].values()) == len(whole["enhancedFindings"]) == len(severities)


def test_switching_scan_types_hides_and_shows_each_types_scans(ecr, ecr_emulator):
    ecr.create_repository(repositoryName="app")
    declare_findings(ecr_emulator, {"repositoryName": "app", "imageTag": "v1", "scanType": "BASIC",
                           "findings": [{"name": "EMU-BASIC", "severity": "LOW"}]})
    declare_findings(ecr_emulator, {"repositoryName": "app", "imageTag": "v1", "scanType": "ENHANCED",
                           "findings": [{"name": "EMU-ENHANCED", "severity": "HIGH"}]})
    digest = push(ecr, sm.docker("sw"), "v1")
    ecr.start_image_scan(repositoryName="app", imageId={"imageDigest": digest})
    enhanced(ecr, rule("CONTINUOUS_SCAN", "*"))
    shown = scan_findings(ecr, "app", digest)
    assert shown["imageScanStatus"] == CONTINUOUS and names(shown) == ["EMU-ENHANCED"], \
        "enabling continuous scanning scans the eligible images already there"
    ecr.put_registry_scanning_configuration(scanType="BASIC")
    back = scan_findings(ecr, "app", digest)
    assert back["imageScanStatus"] == COMPLETE
    assert [f["name"] for f in back["imageScanFindings"]["findings"]] == ["EMU-BASIC"]
    enhanced(ecr, rule("SCAN_ON_PUSH", "other"))
    with pytest.raises(ClientError) as exc:
        scan_findings(ecr, "app", digest)
    assert error_of(exc)[0] == "ScanNotFoundException", "a repository that turned MANUAL is no longer scanned"


def test_enhanced_scan_seconds_show_pending():
    with running_server("--scan-seconds", "10") as server:
        ecr = server.client()
        enhanced(ecr, rule("SCAN_ON_PUSH", "*"))
        ecr.create_repository(repositoryName="app")
        digest = push(ecr, sm.docker("pd"))
        pending = scan_findings(ecr, "app", digest)
        assert pending["imageScanStatus"] == {"status": "PENDING", "description": "Pending start of the image scan."}
        assert "imageScanFindings" not in pending
        server.admin("/_emulator/clock", {"advance": 10})
        done = scan_findings(ecr, "app", digest)
        assert done["imageScanStatus"] == COMPLETE and done["imageScanFindings"]["enhancedFindings"] == []
