"""Scan findings that tests declare: what a scan of an image finds, instead of anything invented.

A declaration names the images it covers (a repository and a tag or digest, or every image whose manifest names a
layer, optionally within one repository), the scan types it applies to (basic, enhanced or both) and its findings.
A scan takes the findings of every declaration covering the image when it runs; with none, it finds nothing.
Declarations are plain data kept in ``Registry.settings`` so snapshots and export archives carry them.

``parse`` checks a declaration strictly and reports the first bad field; ``covering`` is what a scan consults.
Changing declarations goes through ``scans.declare`` (which parses the body) and ``scans.clear_declarations``: they
bring continuous rescans up to date first and journal the change. Any caller (the admin endpoint, a seed file, an
in-process control API) uses those.
"""

import json
import re

from ..specs import model, patterns
from . import settings
from .store import Registry, Store

# botocore's FindingSeverity values, most severe first: the order findings are listed in.
SEVERITIES = tuple(sorted(model.shape("FindingSeverity")["enum"],
                          key=("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED").index))
SCAN_TYPES = ("BASIC", "ENHANCED")
FIX_AVAILABILITY = ("YES", "NO", "PARTIAL")
EXPLOIT_AVAILABILITY = ("YES", "NO")
MAX_DECLARATIONS = 1000
MAX_FINDINGS = 1000
MAX_TEXT = 2048

_DIGEST = patterns.compiled(model.shape("LayerDigest")["pattern"])
_ACCOUNT = patterns.compiled(model.shape("RegistryId")["pattern"])
_REPOSITORY = patterns.compiled(model.shape("RepositoryName")["pattern"])
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")

_SCOPE_KEYS = ("registryId", "region", "repositoryName", "imageTag", "imageDigest", "layerDigest", "scanType",
               "findings")


class DeclarationError(ValueError):
    """A declaration that cannot be accepted; ``field`` names the offending member."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _text(field: str, value, pattern: re.Pattern | None = None) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise DeclarationError(field, f"must be a non-empty string of at most {MAX_TEXT} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise DeclarationError(field, f"'{value}' is not valid here")
    return value


def _choice(field: str, value, choices: tuple) -> str:
    if value not in choices:
        raise DeclarationError(field, f"must be one of {', '.join(choices)}")
    return value


def _score(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10:
        raise DeclarationError(field, "must be a number from 0 to 10")
    return float(value)


def _url(field: str, value) -> str:
    _text(field, value)
    if not value.startswith(("http://", "https://")):
        raise DeclarationError(field, "must be an http:// or https:// URL")
    return value


# Each finding member: (required, check); a check returns the stored value or raises DeclarationError.
_FINDING_MEMBERS = {
    "name": (True, _text),
    "severity": (True, lambda f, v: _choice(f, v, SEVERITIES)),
    "description": (False, _text),
    "uri": (False, _url),
    "package": (False, _text),
    "version": (False, _text),
    "packageManager": (False, _text),
    "arch": (False, _text),
    "filePath": (False, _text),
    "fixedInVersion": (False, _text),
    "fixAvailable": (False, lambda f, v: _choice(f, v, FIX_AVAILABILITY)),
    "exploitAvailable": (False, lambda f, v: _choice(f, v, EXPLOIT_AVAILABILITY)),
    "score": (False, _score),
    "scoringVector": (False, _text),
}


def _finding(index: int, raw) -> dict:
    where = f"findings[{index}]"
    if not isinstance(raw, dict):
        raise DeclarationError(where, "must be an object")
    for key in raw:
        if key not in _FINDING_MEMBERS:
            raise DeclarationError(f"{where}.{key}", f"unknown member {json.dumps(key)}; known: "
                                                     f"{', '.join(_FINDING_MEMBERS)}")
    finding = {}
    for key, (required, check) in _FINDING_MEMBERS.items():
        if key in raw and raw[key] is not None:
            finding[key] = check(f"{where}.{key}", raw[key])
        elif required:
            raise DeclarationError(f"{where}.{key}", "is required")
    if "fixAvailable" not in finding:
        finding["fixAvailable"] = "YES" if "fixedInVersion" in finding else "NO"
    return finding


def parse(body, default_account: str, default_region: str) -> dict:
    """The stored form of a declaration body, or DeclarationError naming the first bad field."""
    if not isinstance(body, dict):
        raise DeclarationError("body", "must be a JSON object")
    for key in body:
        if key not in _SCOPE_KEYS:
            raise DeclarationError(key, f"unknown member {json.dumps(key)}; known: {', '.join(_SCOPE_KEYS)}")
    declaration: dict = {
        "registryId": _text("registryId", body.get("registryId", default_account), _ACCOUNT),
        "region": _text("region", body.get("region", default_region), _REGION),
    }
    if "repositoryName" in body:
        declaration["repositoryName"] = _text("repositoryName", body["repositoryName"], _REPOSITORY)
    selectors = [k for k in ("imageTag", "imageDigest", "layerDigest") if k in body]
    if len(selectors) != 1:
        raise DeclarationError("imageTag", "give exactly one of imageTag, imageDigest (with repositoryName) or "
                                           "layerDigest")
    selector = selectors[0]
    if selector != "layerDigest" and "repositoryName" not in declaration:
        raise DeclarationError("repositoryName", f"is required with {selector}")
    declaration[selector] = _text(selector, body[selector], None if selector == "imageTag" else _DIGEST)
    if selector == "imageTag" and len(body[selector]) > model.limit("ImageTag", "max"):
        raise DeclarationError(selector, f"must be at most {model.limit('ImageTag', 'max')} characters")
    if "scanType" in body:
        declaration["scanTypes"] = [_choice("scanType", body["scanType"], SCAN_TYPES)]
    else:
        declaration["scanTypes"] = list(SCAN_TYPES)
    findings = body.get("findings")
    if not isinstance(findings, list) or len(findings) > MAX_FINDINGS:
        raise DeclarationError("findings", f"must be a list of at most {MAX_FINDINGS} findings")
    declaration["findings"] = [_finding(i, f) for i, f in enumerate(findings)]
    names = [f["name"] for f in declaration["findings"]]
    if len(set(names)) != len(names):
        raise DeclarationError("findings", "names must be unique within a declaration")
    return declaration


def _state(registry: Registry) -> dict:
    return registry.settings.setdefault(settings.DECLARED_FINDINGS, {"next": 1, "declarations": []})


def declarations(registry: Registry) -> list[dict]:
    return registry.settings.get(settings.DECLARED_FINDINGS, {}).get("declarations", [])


def add(registry: Registry, declaration: dict, now: float) -> dict:
    """Store a parsed declaration; returns it with its id and declaration time. Caller holds the store lock."""
    if len(declarations(registry)) >= MAX_DECLARATIONS:
        raise DeclarationError("findings", f"a registry holds at most {MAX_DECLARATIONS} declarations; clear some "
                                           f"first")
    state = _state(registry)
    stored = {"id": f"{registry.account}-{registry.region}-{state['next']}", "declaredAt": now, **declaration}
    state["next"] += 1
    state["declarations"].append(stored)
    return stored


def remove(registry: Registry, declaration_id: str | None) -> int:
    """Drop one declaration (by id) or all; returns how many went. Caller holds the store lock."""
    existing = declarations(registry)
    kept = [d for d in existing if declaration_id is not None and d["id"] != declaration_id]
    if len(kept) != len(existing):
        _state(registry)["declarations"] = kept
    return len(existing) - len(kept)


def listing(store: Store) -> list[dict]:
    with store.lock:
        return [d for registry in store.registries() for d in declarations(registry)]


def covering(registry: Registry, repo_name: str, image, scan_type: str) -> list[dict]:
    """The findings every declaration covering ``image`` gives a scan of ``scan_type``, most severe first. A later
    declaration's finding replaces an earlier one of the same name. Each carries the layer it was declared for."""
    found: dict[str, dict] = {}
    for declaration in declarations(registry):
        if scan_type not in declaration["scanTypes"]:
            continue
        if declaration.get("repositoryName", repo_name) != repo_name:
            continue
        if "imageTag" in declaration and declaration["imageTag"] not in image.tags:
            continue
        if "imageDigest" in declaration and declaration["imageDigest"] != image.digest:
            continue
        if "layerDigest" in declaration and declaration["layerDigest"] not in image.layers:
            continue
        for finding in declaration["findings"]:
            found[finding["name"]] = {**finding, "declaredAt": declaration["declaredAt"],
                                      "layerDigest": declaration.get("layerDigest")}
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(found.values(), key=lambda f: (rank[f["severity"]], f["name"]))
