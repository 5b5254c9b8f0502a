"""Image scanning, basic and enhanced, read off the model clock, finding what tests declared.

A scan finds the findings of the declarations covering the image when it runs (``models.scan_findings``); with
none it finds nothing. Nothing runs in the background: each image keeps the record of its last scan, and statuses
are derived from the record and the clock.

Basic scanning (registry scan type BASIC): ``StartImageScan`` (once per 24 hours) or scan on push. A scan is
IN_PROGRESS until ``Store.scan_seconds`` (``--scan-seconds``, default 0) have passed, then COMPLETE. The record is
``Image.scan``: ``{"startedAt", "completesAt", "findings"}``, or ``{"status": "UNSUPPORTED_IMAGE"}``.

Enhanced scanning (scan type ENHANCED, Amazon Inspector at AWS): repositories matched by a CONTINUOUS_SCAN or
SCAN_ON_PUSH filter are scanned on push, the others (MANUAL) never, and manual scans are refused. The first scan is
PENDING for ``scan_seconds``. A scan-on-push image is then COMPLETE and keeps that scan's findings. A continuously
scanned image is ACTIVE and rescanned every ``RESCAN_INTERVAL`` until its scan eligibility lapses
(``ELIGIBILITY_SECONDS`` after its push), when it turns SCAN_ELIGIBILITY_EXPIRED and its findings close. Enabling
continuous scanning scans the eligible images already there. The record is ``Image.enhanced_scan``:
``{"frequency", "startedAt", "completesAt", "scannedAt", "findings", "firstObserved"}``.

Basic and enhanced records are kept apart: switching the registry's scan type hides the other type's scans, and
switching back shows them again, as AWS documents. Rescans are brought up to date (``settle``) before declarations
or the scanning configuration change, so each rescan sees what was declared at its time.
"""

import hashlib
import math

from .. import errors
from . import manifests, scan_findings, settings
from .images import Image
from .repository import Repository
from .store import Registry, Store

DAY = 86400.0
# AWS: a basic scan can be started once per 24 hours on an image, scan on push included.
BASIC_SCAN_INTERVAL = DAY
# Inspector rescans continuously monitored images as new vulnerabilities are published; here, once a day.
RESCAN_INTERVAL = DAY
# Inspector's default ECR re-scan duration for new accounts: 14 days after the push.
ELIGIBILITY_SECONDS = 14 * DAY

# Journal records of declaration changes: not JSON API operations, so recovery replays them through ``replay``.
JOURNAL_DECLARE = "emulator:DeclareScanFindings"
JOURNAL_CLEAR = "emulator:ClearScanFindings"
JOURNAL_OPS = (JOURNAL_DECLARE, JOURNAL_CLEAR)

# The ``source`` of enhanced findings: they come from declarations, not from any real advisory feed.
SOURCE = "ECR_EMULATOR_DECLARED"
# A declared score is taken as a CVSS 3.1 base score, the version Inspector reports for current advisories.
CVSS_VERSION = "3.1"

_COMPLETE = "The scan was completed successfully."
_UNSUPPORTED = "The operating system and/or package manager are not supported."
_ARCHIVED = "The image is archived; restore it to scan it or to see its findings."
_PENDING = "Pending start of the image scan."
_CONTINUOUS = "Continuous scan is selected for image."
_EXPIRED = "The scan duration of this image has lapsed; it is no longer scanned and its findings are closed."


def scannable(image: Image) -> bool:
    """Scanners read image filesystems: manifest lists and non-image artifacts have none."""
    return manifests.parse(image.manifest, image.media_type).is_image


def scan_type(registry: Registry) -> str:
    return settings.scanning_configuration(registry)["scanType"]


def forget(image: Image) -> None:
    """Drop an image's scans; AWS keeps no findings from before an image was archived once it is restored."""
    image.scan = None
    image.enhanced_scan = None


def start(store: Store, registry: Registry, repo: Repository, image: Image, now: float) -> dict:
    """StartImageScan's rules: basic scanning only, images only, not archived, at most once per 24 hours. Returns
    the status StartImageScan answers: the scan has just started, whatever its duration."""
    if scan_type(registry) == "ENHANCED":
        raise errors.ValidationException(
            f"Manual scans are not supported: the registry with id '{registry.account}' uses enhanced scanning, "
            f"which scans on push and continuously as its scanning configuration says")
    if image.storage_class == "ARCHIVE":
        raise errors.ImageArchivedException(
            f"The image with digest '{image.digest}' is archived and cannot be scanned")
    if not scannable(image):
        raise errors.UnsupportedImageTypeException("The operation is not supported for this image type.")
    previous = image.scan
    if previous is not None and "startedAt" in previous and now < previous["startedAt"] + BASIC_SCAN_INTERVAL:
        raise errors.LimitExceededException("The scan quota per image has been exceeded. Wait and try again.")
    _begin_basic(store, registry, repo, image, now)
    return {"status": "IN_PROGRESS"}


def _begin_basic(store: Store, registry: Registry, repo: Repository, image: Image, when: float) -> None:
    if not scannable(image):
        image.scan = {"status": "UNSUPPORTED_IMAGE"}
        return
    image.scan = {"startedAt": when, "completesAt": when + store.scan_seconds,
                  "findings": scan_findings.covering(registry, repo.name, image, "BASIC")}


def _begin_enhanced(store: Store, registry: Registry, repo: Repository, image: Image, when: float,
                    frequency: str) -> None:
    if not scannable(image):
        image.enhanced_scan = {"frequency": frequency, "status": "UNSUPPORTED_IMAGE"}
        return
    done = when + store.scan_seconds
    found = scan_findings.covering(registry, repo.name, image, "ENHANCED")
    image.enhanced_scan = {"frequency": frequency, "startedAt": when, "completesAt": done, "scannedAt": done,
                           "findings": found, "firstObserved": {f["name"]: done for f in found}}


def on_push(store: Store, repo: Repository, image: Image, now: float) -> None:
    """Scan an image as it arrives (or as its restore completes) when the scanning configuration asks for it."""
    registry = store.registry(repo.account, repo.region)
    scanning = settings.repository_scanning(registry, repo)
    if scan_type(registry) == "BASIC":
        if scanning["scanOnPush"]:
            _begin_basic(store, registry, repo, image, now)
    elif scanning["scanFrequency"] != "MANUAL":
        _begin_enhanced(store, registry, repo, image, now, scanning["scanFrequency"])


def _eligible_until(image: Image) -> float:
    return image.pushed_at + ELIGIBILITY_SECONDS


def _refresh(registry: Registry, repo: Repository, image: Image, now: float) -> dict | None:
    """The enhanced record, with the continuous rescans due by ``now`` applied."""
    scan = image.enhanced_scan
    if scan is None or "startedAt" not in scan or scan["frequency"] != "CONTINUOUS_SCAN":
        return scan
    until = min(now, _eligible_until(image))
    if until < scan["completesAt"]:
        return scan
    due = scan["completesAt"] + math.floor((until - scan["completesAt"]) / RESCAN_INTERVAL) * RESCAN_INTERVAL
    if due > scan["scannedAt"]:
        found = scan_findings.covering(registry, repo.name, image, "ENHANCED")
        seen = scan["firstObserved"]
        scan["firstObserved"] = {f["name"]: seen.get(f["name"], due) for f in found}
        scan["findings"] = found
        scan["scannedAt"] = due
    return scan


def settle(registry: Registry, now: float) -> None:
    """Apply every continuous rescan due by ``now`` in ``registry``. Caller holds the store lock."""
    for repo in registry.repositories.values():
        for image in repo.images:
            _refresh(registry, repo, image, now)


def reconfigure(store: Store, registry: Registry, config: dict, now: float) -> None:
    """Store a new registry scanning configuration: rescans due under the old one happen first; then enhanced
    scans of repositories that became MANUAL are dropped, frequency changes apply, and images of repositories that
    became continuously scanned are scanned if still eligible. Caller holds the store lock."""
    settle(registry, now)
    registry.settings[settings.SCANNING] = config
    if config["scanType"] != "ENHANCED":
        return
    for repo in registry.repositories.values():
        frequency = settings.repository_scanning(registry, repo)["scanFrequency"]
        for image in repo.images:
            scan = image.enhanced_scan
            if frequency == "MANUAL":
                image.enhanced_scan = None
            elif scan is not None:
                scan["frequency"] = frequency
            elif frequency == "CONTINUOUS_SCAN" and now < _eligible_until(image) and image.storage_class != "ARCHIVE":
                _begin_enhanced(store, registry, repo, image, now, frequency)


def status(registry: Registry, repo: Repository, image: Image, now: float) -> dict | None:
    """The ImageScanStatus of the image's last scan of the registry's scan type, or None when there is none."""
    enhanced = scan_type(registry) == "ENHANCED"
    scan = _refresh(registry, repo, image, now) if enhanced else image.scan
    if scan is None:
        return None
    if image.storage_class == "ARCHIVE":
        return {"status": "IMAGE_ARCHIVED", "description": _ARCHIVED}
    if "startedAt" not in scan:
        return {"status": "UNSUPPORTED_IMAGE", "description": _UNSUPPORTED}
    if now < scan.get("completesAt", scan["startedAt"]):
        return {"status": "PENDING", "description": _PENDING} if enhanced else {"status": "IN_PROGRESS"}
    if not enhanced or scan["frequency"] == "SCAN_ON_PUSH":
        return {"status": "COMPLETE", "description": _COMPLETE}
    if now >= _eligible_until(image):
        return {"status": "SCAN_ELIGIBILITY_EXPIRED", "description": _EXPIRED}
    return {"status": "ACTIVE", "description": _CONTINUOUS}


def _reportable(registry: Registry, repo: Repository, image: Image, now: float) -> dict | None:
    """The scan record whose findings are shown now, if any: completed, not archived, not expired."""
    state = status(registry, repo, image, now)
    if state is None or state["status"] not in ("COMPLETE", "ACTIVE"):
        return None
    return image.enhanced_scan if scan_type(registry) == "ENHANCED" else image.scan


def severity_counts(found: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in found:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    return counts


def summary(registry: Registry, repo: Repository, image: Image, now: float) -> dict | None:
    """ImageScanFindingsSummary of the scan shown now (None before one completes)."""
    scan = _reportable(registry, repo, image, now)
    if scan is None:
        return None
    completed = scan.get("scannedAt", scan.get("completesAt", scan["startedAt"]))
    return {"imageScanCompletedAt": completed, "vulnerabilitySourceUpdatedAt": completed,
            "findingSeverityCounts": severity_counts(scan.get("findings", []))}


def findings(registry: Registry, repo: Repository, image: Image, now: float) -> tuple[str, list[dict]] | None:
    """The member of ImageScanFindings that lists findings (``findings`` or ``enhancedFindings``) and the findings
    in the shape of the registry's scan type, most severe first; None when no scan is shown."""
    scan = _reportable(registry, repo, image, now)
    if scan is None:
        return None
    if scan_type(registry) == "BASIC":
        return "findings", [_basic_view(f) for f in scan.get("findings", [])]
    return "enhancedFindings", [_enhanced_view(repo, image, scan, f) for f in scan["findings"]]


def _basic_view(finding: dict) -> dict:
    """An ImageScanFinding: the attributes AWS's native basic scanning reports, for the members declared."""
    view = {"name": finding["name"], "severity": finding["severity"]}
    for key in ("description", "uri"):
        if key in finding:
            view[key] = finding[key]
    attributes = [("package_name", finding.get("package")), ("package_version", finding.get("version")),
                  ("CVSS3_SCORE", None if "score" not in finding else str(finding["score"])),
                  ("CVSS3_VECTOR", finding.get("scoringVector"))]
    view["attributes"] = [{"key": k, "value": v} for k, v in attributes if v is not None]
    return view


def _enhanced_view(repo: Repository, image: Image, scan: dict, finding: dict) -> dict:
    """An EnhancedImageScanFinding in Amazon Inspector's shape. Members the emulator cannot know (the image's
    architecture, platform and author, which Inspector reads from the image) are left out; everything else comes
    from the declaration, the image and the scan times."""
    name, package = finding["name"], finding.get("package")
    severity = "UNTRIAGED" if finding["severity"] == "UNDEFINED" else finding["severity"]
    key = f"{repo.account}/{repo.region}/{repo.name}@{image.digest}/{name}/{package}"
    observed = scan["scannedAt"]
    details = {"cvss": [], "referenceUrls": [finding["uri"]] if "uri" in finding else [],
               "relatedVulnerabilities": [], "source": SOURCE, "vendorCreatedAt": finding["declaredAt"],
               "vendorSeverity": finding["severity"], "vendorUpdatedAt": finding["declaredAt"],
               "vulnerabilityId": name, "vulnerablePackages": []}
    if "uri" in finding:
        details["sourceUrl"] = finding["uri"]
    cvss = None
    if "score" in finding:
        cvss = {"score": finding["score"], "scoreSource": SOURCE, "version": CVSS_VERSION}
        if "scoringVector" in finding:
            cvss["scoringVector"] = finding["scoringVector"]
        details["cvss"] = [{"baseScore": cvss["score"], "source": SOURCE, "version": CVSS_VERSION,
                            **({"scoringVector": cvss["scoringVector"]} if "scoringVector" in cvss else {})}]
    if package is not None:
        vulnerable = {"epoch": 0, "name": package, "packageManager": finding.get("packageManager", "OS"),
                      "release": "", "version": finding.get("version", ""),
                      "fixedInVersion": finding.get("fixedInVersion", "NotAvailable")}
        if finding.get("layerDigest"):
            vulnerable["sourceLayerHash"] = finding["layerDigest"]
        for key in ("arch", "filePath"):
            if key in finding:
                vulnerable[key] = finding[key]
        details["vulnerablePackages"] = [vulnerable]
    recommendation = {"text": f"Upgrade {package} to {finding['fixedInVersion']} or later."
                      if package is not None and "fixedInVersion" in finding else "None Provided"}
    if "uri" in finding:
        recommendation["url"] = finding["uri"]
    container = {"imageHash": image.digest, "imageTags": list(image.tags), "pushedAt": image.pushed_at,
                 "inUseCount": 0, "registry": repo.account, "repositoryName": repo.name}
    if image.last_pull is not None:
        container["lastInUseAt"] = image.last_pull
    view = {
        "awsAccountId": repo.account,
        "description": finding.get("description", f"{name} in {package}" if package else name),
        "findingArn": f"arn:aws:inspector2:{repo.region}:{repo.account}:finding/"
                      f"{hashlib.sha256(key.encode()).hexdigest()[:32]}",
        "firstObservedAt": scan["firstObserved"].get(name, observed),
        "lastObservedAt": observed,
        "packageVulnerabilityDetails": details,
        "remediation": {"recommendation": recommendation},
        "resources": [{"details": {"awsEcrContainerImage": container}, "id": f"{repo.arn}/{image.digest}",
                       "tags": {}, "type": "AWS_ECR_CONTAINER_IMAGE"}],
        "severity": severity,
        "status": "ACTIVE",
        "title": f"{name} - {package}" if package else name,
        "type": "PACKAGE_VULNERABILITY",
        "updatedAt": observed,
        "fixAvailable": finding["fixAvailable"],
        "exploitAvailable": finding.get("exploitAvailable", "NO"),
    }
    if cvss is not None:
        view["score"] = cvss["score"]
        view["scoreDetails"] = {"cvss": {"adjustments": [], **cvss}}
    return view


def declare(store: Store, body, account: str, region: str) -> dict:
    """Check a declaration body (``scan_findings.parse``; DeclarationError names a bad field), add it and journal it
    as an operation of ``account`` in ``region`` (the defaults for a body that names neither). Rescans due by now
    run first, so they use the declarations of their time; the new one applies from the next scan of each image it
    covers."""
    declaration = scan_findings.parse(body, account, region)
    with store.lock:
        now = store.clock.now()
        registry = store.registry(declaration["registryId"], declaration["region"])
        settle(registry, now)
        stored = scan_findings.add(registry, declaration, now)
        if store.persistence is not None:
            store.persistence.append({"op": JOURNAL_DECLARE, "account": account, "region": region, "now": now,
                                      "params": body})
        return stored


def clear_declarations(store: Store, declaration_id: str | None = None) -> int:
    """Remove one declaration (by id) or all of them; scans already made keep their findings until rescanned."""
    with store.lock:
        now = store.clock.now()
        removed = 0
        for registry in store.registries():
            settle(registry, now)
            removed += scan_findings.remove(registry, declaration_id)
        if removed and store.persistence is not None:
            store.persistence.append({"op": JOURNAL_CLEAR, "now": now, "params": {"id": declaration_id}})
        return removed


def replay(store: Store, entry: dict) -> None:
    """Repeat a journaled declaration change, checked as when it was made; recovery has frozen the clock at the
    record's time. A record of the wrong shape raises ValueError or TypeError."""
    params = entry["params"]
    if entry["op"] == JOURNAL_DECLARE:
        declare(store, params, entry["account"], entry["region"])
        return
    if not isinstance(params, dict) or not isinstance(params.get("id"), (str, type(None))):
        raise TypeError("its declaration id is not a string")
    clear_declarations(store, params["id"])
