"""Registry-wide settings kept in ``Registry.settings``, and the pure rules that read them.

Handlers write these keys; image handlers read them through the helpers here, so the meaning of a setting lives in
one place and needs no HTTP round trip. Settings that are collections of named entries (creation templates, pull
through cache rules, pull-time update exclusions) gain an entry through ``add``, which holds the checks they share.
"""

from collections.abc import Callable
from typing import Any

from .. import errors
from . import wildcards

REGISTRY_POLICY = "registry_policy"
SCANNING = "scanning_configuration"
ACCOUNT_SETTINGS = "account_settings"
SIGNING = "signing_configuration"
PULL_TIME_EXCLUSIONS = "pull_time_update_exclusions"
DECLARED_FINDINGS = "declared_scan_findings"

# Each account setting AWS documents: its default for a new registry and the values PutAccountSetting accepts.
# Clair basic scanning is retired, so AWS_NATIVE is the only basic scan type left.
ACCOUNT_SETTING_VALUES = {
    "BASIC_SCAN_TYPE_VERSION": ("AWS_NATIVE", ("AWS_NATIVE",)),
    "REGISTRY_POLICY_SCOPE": ("V2", ("V1", "V2")),
    "BLOB_MOUNTING": ("DISABLED", ("ENABLED", "DISABLED")),
}

DEFAULT_SCANNING = {"scanType": "BASIC", "rules": []}

# When a repository matches rules of both frequencies, the stronger one applies.
_FREQUENCY_PRECEDENCE = ("CONTINUOUS_SCAN", "SCAN_ON_PUSH")


def add(registry, setting: str, key: str, entry, exists: Callable[[Any], errors.ServiceError], maximum: int,
        what: str) -> None:
    """Add ``entry`` under ``key`` to the registry's collection ``setting``. A key already there is refused with
    ``exists(the entry stored under it)``; a collection that already has ``maximum`` entries, with
    LimitExceededException naming ``what`` (say "pull through cache rules"). Callers hold the store lock."""
    entries = registry.settings.setdefault(setting, {})
    if key in entries:
        raise exists(entries[key])
    if len(entries) >= maximum:
        raise errors.limit_exceeded(registry.account, maximum, what)
    entries[key] = entry


def account_setting(registry, name: str) -> str:
    """The value of an account setting, its documented default until PutAccountSetting changes it."""
    stored = registry.settings.get(ACCOUNT_SETTINGS, {})
    return stored.get(name, ACCOUNT_SETTING_VALUES[name][0])


def scanning_configuration(registry) -> dict:
    return registry.settings.get(SCANNING) or DEFAULT_SCANNING


def repository_scanning(registry, repo) -> dict:
    """The effective scanning of one repository: the registry rule that matches its name, else (for basic scanning)
    the repository's own scan-on-push flag, else manual scans only."""
    config = scanning_configuration(registry)
    for frequency in _FREQUENCY_PRECEDENCE:
        applied = [dict(f) for rule in config["rules"] if rule["scanFrequency"] == frequency
                   for f in rule["repositoryFilters"] if wildcards.matches(f["filter"], repo.name)]
        if applied:
            return {"scanOnPush": True, "scanFrequency": frequency, "appliedScanFilters": applied}
    if config["scanType"] == "BASIC" and repo.scan_on_push:
        return {"scanOnPush": True, "scanFrequency": "SCAN_ON_PUSH", "appliedScanFilters": []}
    return {"scanOnPush": False, "scanFrequency": "MANUAL", "appliedScanFilters": []}


def scan_on_push(registry, repo) -> bool:
    """Whether an image pushed to ``repo`` is to be scanned as it arrives."""
    return repository_scanning(registry, repo)["scanOnPush"]


def pull_time_update_excluded(registry, principal_arn: str | None) -> bool:
    """Whether a pull by ``principal_arn`` leaves the image's last recorded pull time unchanged."""
    return principal_arn is not None and principal_arn in registry.settings.get(PULL_TIME_EXCLUSIONS, {})

