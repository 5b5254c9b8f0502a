"""Declaring scan findings: the /_emulator/scan-findings endpoint, its strict checks, and declarations surviving
--state-dir restarts and export/import."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sample_manifests as sm
from ecr_emulator.models import scan_findings, scans
from ecr_emulator.models.store import Registry, Store
from ecr_emulator.testing import running_server
from helpers import push

PATH = "/_emulator/scan-findings"
GOOD = {"repositoryName": "app", "imageTag": "v1", "findings": [{"name": "EMU-1", "severity": "HIGH"}]}


def call(endpoint: str, method: str, body: bytes | dict | None = None, query: str = "") -> tuple[int, dict]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(endpoint + PATH + query, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def finding(**overrides) -> dict:
    return {"findings": [{"name": "EMU-1", "severity": "HIGH", **overrides}]}


@pytest.mark.parametrize("body,field", [
    ([], "body"),
    ({**GOOD, "colour": "red"}, "colour"),
    ({"repositoryName": "app", "findings": []}, "imageTag"),
    ({"repositoryName": "app", "imageTag": "v1", "imageDigest": sm.digest("x"), "findings": []}, "imageTag"),
    ({"imageTag": "v1", "findings": []}, "repositoryName"),
    ({"repositoryName": "App", "imageTag": "v1", "findings": []}, "repositoryName"),
    ({"repositoryName": "app", "imageDigest": "not-a-digest", "findings": []}, "imageDigest"),
    ({"layerDigest": 7, "findings": []}, "layerDigest"),
    ({"repositoryName": "app", "imageTag": "v1"}, "findings"),
    ({"repositoryName": "app", "imageTag": "v1", "findings": {}}, "findings"),
    ({"repositoryName": "app", "imageTag": "v1", "scanType": "DEEP", "findings": []}, "scanType"),
    ({"registryId": "12", **GOOD}, "registryId"),
    ({"region": "mars", **GOOD}, "region"),
    ({"repositoryName": "app", "imageTag": "v1", "findings": ["x"]}, "findings[0]"),
    ({"repositoryName": "app", "imageTag": "v1", "findings": [{"severity": "HIGH"}]}, "findings[0].name"),
    ({"repositoryName": "app", "imageTag": "v1", **finding(severity="SEVERE")}, "findings[0].severity"),
    ({"repositoryName": "app", "imageTag": "v1", **finding(score=11)}, "findings[0].score"),
    ({"repositoryName": "app", "imageTag": "v1", **finding(score=True)}, "findings[0].score"),
    ({"repositoryName": "app", "imageTag": "v1", **finding(uri="ftp://x")}, "findings[0].uri"),
    ({"repositoryName": "app", "imageTag": "v1", **finding(fixAvailable="MAYBE")}, "findings[0].fixAvailable"),
    ({"repositoryName": "app", "imageTag": "v1", **finding(cve="x")}, "findings[0].cve"),
    ({"repositoryName": "app", "imageTag": "v1", **finding(package="")}, "findings[0].package"),
    ({"repositoryName": "app", "imageTag": "v1",
      "findings": [{"name": "A", "severity": "LOW"}, {"name": "A", "severity": "HIGH"}]}, "findings"),
])
def test_bad_declarations_name_the_field(body, field):
    with pytest.raises(scan_findings.DeclarationError) as exc:
        scan_findings.parse(body, "123456789012", "us-east-1")
    assert exc.value.field == field


def test_a_parsed_declaration_is_plain_data_with_defaults():
    parsed = scan_findings.parse({"layerDigest": sm.digest("l"), "findings": [
        {"name": "EMU-1", "severity": "LOW", "fixedInVersion": "2"}, {"name": "EMU-2", "severity": "LOW"}]},
        "123456789012", "eu-west-1")
    assert parsed == {"registryId": "123456789012", "region": "eu-west-1", "layerDigest": sm.digest("l"),
                      "scanTypes": ["BASIC", "ENHANCED"],
                      "findings": [{"name": "EMU-1", "severity": "LOW", "fixedInVersion": "2", "fixAvailable": "YES"},
                                   {"name": "EMU-2", "severity": "LOW", "fixAvailable": "NO"}]}
    assert json.loads(json.dumps(parsed)) == parsed


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=20)
_MEMBERS = st.sampled_from(["registryId", "region", "repositoryName", "imageTag", "imageDigest", "layerDigest",
                            "scanType", "findings", "name", "severity", "score", "package", "uri"])


@settings(max_examples=300, deadline=None, database=None)
@given(body=st.one_of(_JSON, st.dictionaries(_MEMBERS, _JSON, max_size=6),
                      st.fixed_dictionaries({"repositoryName": st.just("app"), "imageTag": st.just("v1"),
                                             "findings": st.lists(st.dictionaries(_MEMBERS, _JSON), max_size=3)})))
def test_any_json_is_either_a_declaration_or_a_declaration_error(body):
    try:
        parsed = scan_findings.parse(body, "123456789012", "us-east-1")
    except scan_findings.DeclarationError as exc:
        assert isinstance(exc.field, str) and exc.message
    else:
        assert json.loads(json.dumps(parsed)) == parsed


def test_a_registry_holds_a_bounded_number_of_declarations():
    registry = Registry("123456789012", "us-east-1")
    declaration = scan_findings.parse(GOOD, "123456789012", "us-east-1")
    for n in range(scan_findings.MAX_DECLARATIONS):
        scan_findings.add(registry, declaration, float(n))
    with pytest.raises(scan_findings.DeclarationError):
        scan_findings.add(registry, declaration, 0.0)
    assert len({d["id"] for d in scan_findings.declarations(registry)}) == scan_findings.MAX_DECLARATIONS
    assert scan_findings.remove(registry, None) == scan_findings.MAX_DECLARATIONS


def test_the_endpoint_adds_lists_and_removes_declarations(ecr_emulator):
    status, first = call(ecr_emulator.endpoint, "POST", GOOD)
    assert status == 200
    declared = first["declaration"]
    assert declared["id"] and declared["registryId"] == "123456789012" and declared["region"] == "us-east-1"
    assert declared["findings"] == [{"name": "EMU-1", "severity": "HIGH", "fixAvailable": "NO"}]
    _, second = call(ecr_emulator.endpoint, "POST", {**GOOD, "registryId": "210987654321", "region": "eu-west-1"})
    assert call(ecr_emulator.endpoint, "GET")[1]["declarations"] == [declared, second["declaration"]]
    assert call(ecr_emulator.endpoint, "DELETE", query=f"?id={declared['id']}") == (200, {"removed": 1})
    assert call(ecr_emulator.endpoint, "GET")[1]["declarations"] == [second["declaration"]]
    status, reply = call(ecr_emulator.endpoint, "DELETE", query=f"?id={declared['id']}")
    assert status == 404 and reply["field"] == "id"
    assert call(ecr_emulator.endpoint, "DELETE") == (200, {"removed": 1})
    assert call(ecr_emulator.endpoint, "GET")[1]["declarations"] == []
    ecr_emulator.admin("/_emulator/scan-findings", GOOD)
    ecr_emulator.reset()
    assert call(ecr_emulator.endpoint, "GET")[1]["declarations"] == [], "a reset clears declarations too"


@pytest.mark.parametrize("body,status,field", [
    (b"{not json", 400, "body"),
    (b"\xff\xfe", 400, "body"),
    (b"[" * 100000 + b"]" * 100000, 400, "body"),
    (json.dumps({**GOOD, "findings": [{"name": "EMU-1", "severity": "LOW", "description": "x" * 2000}] * 600}).encode(),
     413, "body"),
    (json.dumps({**GOOD, "extra": 1}).encode(), 400, "extra"),
])
def test_the_endpoint_refuses_bad_bodies_and_changes_nothing(ecr_emulator, body, status, field):
    answered, reply = call(ecr_emulator.endpoint, "POST", body)
    assert (answered, reply["field"]) == (status, field) and field in reply["error"]
    assert call(ecr_emulator.endpoint, "GET")[1]["declarations"] == []


def scanned_state(server) -> dict:
    ecr = server.client()
    return {"declarations": call(server.endpoint, "GET")[1]["declarations"],
            "findings": ecr.describe_image_scan_findings(repositoryName="app", imageId={"imageTag": "v1"})[
                "imageScanFindings"],
            "images": ecr.describe_images(repositoryName="app")["imageDetails"]}


def test_declarations_and_what_scans_found_survive_a_restart(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="app")
        call(server.endpoint, "POST", GOOD)
        removed = call(server.endpoint, "POST", {**GOOD, "findings": [{"name": "EMU-GONE", "severity": "LOW"}]})
        call(server.endpoint, "DELETE", query=f"?id={removed[1]['declaration']['id']}")
        push(ecr, sm.docker("st"), "v1")
        ecr.start_image_scan(repositoryName="app", imageId={"imageTag": "v1"})
        before = scanned_state(server)
        assert [f["name"] for f in before["findings"]["findings"]] == ["EMU-1"]
        assert len(before["declarations"]) == 1
    with running_server("--state-dir", state) as server:
        assert scanned_state(server) == before
        call(server.endpoint, "DELETE")
    with running_server("--state-dir", state) as server:
        after = scanned_state(server)
        assert after["declarations"] == [] and after["findings"] == before["findings"]


def test_enhanced_continuous_scans_replay_to_the_same_findings_after_a_restart(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}])
        ecr.create_repository(repositoryName="app")
        push(ecr, sm.docker("ec"), "v1")
        call(server.endpoint, "POST", {**GOOD, "findings": [{"name": "EMU-A", "severity": "LOW"}]})
        server.admin("/_emulator/clock", {"advance": 86400 + 5})
        call(server.endpoint, "DELETE")
        call(server.endpoint, "POST", {**GOOD, "findings": [{"name": "EMU-B", "severity": "HIGH"}]})
        now = server.admin("/_emulator/clock")["now"]
        before = ecr.describe_image_scan_findings(repositoryName="app", imageId={"imageTag": "v1"})
        assert [f["title"] for f in before["imageScanFindings"]["enhancedFindings"]] == ["EMU-A"]
    with running_server("--state-dir", state) as server:
        server.admin("/_emulator/clock", {"set": now})
        after = server.client().describe_image_scan_findings(repositoryName="app", imageId={"imageTag": "v1"})
        assert after["imageScanFindings"] == before["imageScanFindings"]
        server.admin("/_emulator/clock", {"advance": 86400})
        rescanned = server.client().describe_image_scan_findings(repositoryName="app", imageId={"imageTag": "v1"})
        assert [f["title"] for f in rescanned["imageScanFindings"]["enhancedFindings"]] == ["EMU-B"]


def test_declarations_travel_in_an_export_archive(tmp_path):
    archive = str(tmp_path / "emulator.tar")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "ecr_emulator", *args], capture_output=True, text=True,
                              timeout=120)

    with running_server() as source:
        source.client().create_repository(repositoryName="app")
        call(source.endpoint, "POST", GOOD)
        push(source.client(), sm.docker("ex"), "v1")
        source.client().start_image_scan(repositoryName="app", imageId={"imageTag": "v1"})
        before = scanned_state(source)
        assert cli("export", archive, "--endpoint", source.endpoint).returncode == 0
    with running_server() as target:
        result = cli("import", archive, "--endpoint", target.endpoint)
        assert result.returncode == 0, result.stderr
        assert scanned_state(target) == before


def test_a_journaled_declaration_is_checked_again_when_replayed():
    store = Store()
    scans.replay(store, {"op": scans.JOURNAL_DECLARE, "now": 0.0, "account": "123456789012", "region": "us-east-1",
                         "params": GOOD})
    assert [d["findings"][0]["name"] for d in scan_findings.listing(store)] == ["EMU-1"]
    with pytest.raises(ValueError):
        scans.replay(store, {"op": scans.JOURNAL_DECLARE, "now": 0.0, "account": "123456789012",
                             "region": "us-east-1", "params": {**GOOD, "findings": "all of them"}})
    with pytest.raises(TypeError):
        scans.replay(store, {"op": scans.JOURNAL_CLEAR, "now": 0.0, "params": {"id": 7}})
    scans.replay(store, {"op": scans.JOURNAL_CLEAR, "now": 0.0, "params": {"id": None}})
    assert scan_findings.listing(store) == []
