"""Basic image scanning, modelled deterministically so tests can rely on it.

A scan started at ``t`` is IN_PROGRESS until ``t + SCAN_SECONDS`` of model clock, then COMPLETE; nothing runs in
the background, the status is read off the clock. Findings are derived from the image's layer digests alone (a hash
of each layer picks 0-3 CVE-style findings), so the same image always has the same findings. Only the scan record
(start time, or UNSUPPORTED_IMAGE) is stored, in ``Image.extra``.

Every scan is a basic scan: enhanced scanning (Amazon Inspector findings) is not emulated.
"""

import datetime
import hashlib

from .. import errors
from . import manifests, settings
from .images import Image

SCAN_SECONDS = 5.0
# AWS: a basic scan can be started once per 24 hours on an image, scan on push included.
BASIC_SCAN_INTERVAL = 24 * 3600
SCAN_KEY = "scan"

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
_CVSS2_RANGE = {"CRITICAL": (9.0, 10.0), "HIGH": (7.0, 8.9), "MEDIUM": (4.0, 6.9), "LOW": (0.1, 3.9)}
_PACKAGES = ("openssl", "glibc", "zlib", "curl", "libxml2", "expat", "bash", "busybox", "ncurses", "sqlite",
             "libpng", "gnutls", "krb5", "pcre2", "systemd", "tar", "xz-utils", "perl", "python3", "libssh")
_COMPLETE = "The scan was completed successfully."
_UNSUPPORTED = "The operating system and/or package manager are not supported."
_ARCHIVED = "The image is archived; restore it to scan it or to see its findings."


def scannable(image: Image) -> bool:
    """Basic scanning reads image filesystems: manifest lists and non-image artifacts have none."""
    return manifests.parse(image.manifest, image.media_type).is_image


def record(image: Image) -> dict | None:
    return (image.extra or {}).get(SCAN_KEY)


def _store(image: Image, scan: dict) -> None:
    extra = image.extra if image.extra is not None else {}
    extra[SCAN_KEY] = scan
    image.extra = extra


def forget(image: Image) -> None:
    """Drop an image's scan; AWS keeps no findings from before an image was archived once it is restored."""
    if image.extra:
        image.extra.pop(SCAN_KEY, None)


def start(image: Image, now: float) -> None:
    """StartImageScan's rules: images only, not archived, at most once per 24 hours."""
    if image.storage_class == "ARCHIVE":
        raise errors.ImageArchivedException(
            f"The image with digest '{image.digest}' is archived and cannot be scanned")
    if not scannable(image):
        raise errors.UnsupportedImageTypeException("The operation is not supported for this image type.")
    previous = record(image)
    if previous is not None and "startedAt" in previous and now < previous["startedAt"] + BASIC_SCAN_INTERVAL:
        raise errors.LimitExceededException("The scan quota per image has been exceeded. Wait and try again.")
    begin(image, now)


def begin(image: Image, when: float) -> None:
    """Record a scan of ``image`` starting at ``when``, replacing any earlier one."""
    _store(image, {"startedAt": when} if scannable(image) else {"status": "UNSUPPORTED_IMAGE"})


def on_push(store, repo, image: Image, now: float) -> None:
    """Scan an image as it arrives when the registry's rules or the repository's flag ask for it."""
    if scan_on_push(store, repo):
        begin(image, now)


def scan_on_push(store, repo) -> bool:
    return settings.scan_on_push(store.registry(repo.account, repo.region), repo)


def status(image: Image, now: float) -> dict | None:
    """The ImageScanStatus of an image's last scan, or None when it was never scanned."""
    scan = record(image)
    if scan is None:
        return None
    if image.storage_class == "ARCHIVE":
        return {"status": "IMAGE_ARCHIVED", "description": _ARCHIVED}
    if "startedAt" not in scan:
        return {"status": scan["status"], "description": _UNSUPPORTED}
    if now < completed_at(scan):
        return {"status": "IN_PROGRESS"}
    return {"status": "COMPLETE", "description": _COMPLETE}


def completed_at(scan: dict) -> float:
    return scan["startedAt"] + SCAN_SECONDS


def findings(image: Image) -> list[dict]:
    """The basic-scan findings of an image: most severe first, then by name."""
    found: dict[str, dict] = {}
    for layer in image.layers:
        h = hashlib.sha256(f"ecr-emulator/findings/{layer}".encode()).digest()
        for k in range(h[0] % 4):
            b = h[1 + 6 * k: 7 + 6 * k]
            finding = _finding(b)
            found.setdefault(finding["name"], finding)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(found.values(), key=lambda f: (rank[f["severity"]], f["name"]))


def _finding(b: bytes) -> dict:
    severity = SEVERITIES[b[0] % len(SEVERITIES)]
    name = f"CVE-{2015 + b[1] % 10}-{10000 + int.from_bytes(b[2:4], 'big') % 40000}"
    package = _PACKAGES[b[4] % len(_PACKAGES)]
    version = f"{1 + b[5] % 3}.{b[5] % 10}.{b[4] % 20}"
    attributes = [{"key": "package_name", "value": package}, {"key": "package_version", "value": version}]
    if severity in _CVSS2_RANGE:
        low, high = _CVSS2_RANGE[severity]
        score = round(low + (high - low) * (b[3] / 255), 1)
        attributes += [{"key": "CVSS2_VECTOR", "value": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
                       {"key": "CVSS2_SCORE", "value": str(score)}]
    return {"name": name, "severity": severity, "uri": f"https://nvd.nist.gov/vuln/detail/{name}",
            "description": f"A vulnerability in {package} {version} ({name}).", "attributes": attributes}


def severity_counts(found: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in found:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    return counts


def source_updated_at(scan: dict) -> float:
    """When the vulnerability database was last refreshed: midnight UTC of the scan's completion day."""
    day = datetime.datetime.fromtimestamp(completed_at(scan), datetime.timezone.utc).date()
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp()


def summary(image: Image, now: float) -> dict | None:
    """ImageScanFindingsSummary of a completed scan (None before one completes)."""
    scan = record(image)
    if scan is None or "startedAt" not in scan or image.storage_class == "ARCHIVE" or now < completed_at(scan):
        return None
    return {"imageScanCompletedAt": completed_at(scan), "vulnerabilitySourceUpdatedAt": source_updated_at(scan),
            "findingSeverityCounts": severity_counts(findings(image))}
