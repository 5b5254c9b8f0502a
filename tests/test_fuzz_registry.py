"""Hostile input to the /v2 registry API, and the JSON API's body limit.

Requests are built from fragments that have broken registries before: traversal and encoded dots in names,
malformed digests and upload ids, odd tags and queries, garbage and out-of-range Range and Content-Range headers,
wrong content types and credentials, invalid JSON and manifests over the 4 MiB limit. Every reply must be below
500; a 4xx with a JSON body must have the Distribution Specification's ``{"errors": [{"code", "message"}]}`` shape;
and the registry must still answer afterwards.

The JSON API's 32 MiB body limit answers 413 whether the body's size is declared or chunked.

ECR_EMULATOR_FUZZ_EXAMPLES sets how many requests the hypothesis test sends (default 15 * 20; raise it for a
longer run).
"""

import base64
import json
import os
import socket
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sample_manifests as m
from registry_client import RegistryClient

EXAMPLES = int(os.environ.get("ECR_EMULATOR_FUZZ_EXAMPLES", "15")) * 20
MANIFEST_LIMIT = 4 * 1024 * 1024
BLOB = b"fuzz target blob " * 64
BLOB_DIGEST = m.digest(BLOB)
HEX = "0123456789abcdef"

_names = st.sampled_from([
    "team/app", "nowhere", "..", "../etc", "team/../app", "%2e%2e", "team/%2e%2e/app", "%2E%2E%2Fetc", "Team/App",
    "/abs", "team//app", "team/app/", "team%2Fapp", "a" * 300, "x/" * 130 + "y", "_catalog", "team/app%00", "~",
    "team\\app", "team/app;x", "-lead", "."])
_digests = st.one_of(
    st.sampled_from([BLOB_DIGEST, m.digest("absent"), "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:..",
                     "sha256:..%2F..%2Fx", "md5:abc", "sha512:" + "a" * 128, "sha256:", ":", "%2e%2e",
                     "sha256:" + "a" * 64 + "%00", "sha256:" + "g" * 64]),
    st.text(HEX, min_size=60, max_size=68).map(lambda h: "sha256:" + h))
_upload_ids = st.one_of(st.uuids().map(str), st.sampled_from(["", "..", "..%2F..%2Fx", "not-a-uuid", "%2e%2e",
                                                             str(uuid.UUID(int=0)), "A" * 36]))
_tags = st.one_of(st.sampled_from(["latest", "v1", "-bad", ".hidden", "a" * 129, "a" * 128, "%20", "..", "UPPER",
                                   "tag:colon", "t%2Fx", "_x"]),
                  st.text("abcXYZ019._-", min_size=1, max_size=20))
_queries = st.one_of(st.just(""), st.sampled_from([
    "?digest=garbage", "?n=-1", "?n=abc", "?n=0", "?n=99999999999999999999", "?last=zz", "?last=%00",
    f"?mount={BLOB_DIGEST}&from=team/app", f"?mount={BLOB_DIGEST}&from=../x", "?mount=junk", "?artifactType=%ff",
    "?digest=", "?digest=sha256:..", "?n=1&last="]), _digests.map(lambda d: f"?digest={d}"))


@st.composite
def _paths(draw):
    name = draw(_names)
    kind = draw(st.sampled_from(["blob", "uploads", "upload", "manifest", "tags", "referrers", "other", "root"]))
    if kind == "blob":
        path = f"/v2/{name}/blobs/{draw(_digests)}"
    elif kind == "uploads":
        path = f"/v2/{name}/blobs/uploads/"
    elif kind == "upload":
        path = f"/v2/{name}/blobs/uploads/{draw(_upload_ids)}"
    elif kind == "manifest":
        path = f"/v2/{name}/manifests/{draw(st.one_of(_tags, _digests))}"
    elif kind == "tags":
        path = f"/v2/{name}/tags/list"
    elif kind == "referrers":
        path = f"/v2/{name}/referrers/{draw(_digests)}"
    elif kind == "other":
        path = f"/v2/{name}/{draw(st.sampled_from(['', 'blobs', 'manifests/', 'x/y/z', '..', 'blobs/uploads/a/b']))}"
    else:
        path = draw(st.sampled_from(["/v2", "/v2/", "/v2/_catalog", "/v2/..", "/v2/%2e%2e/_catalog"]))
    return path + draw(_queries)


_oversized = json.dumps({"schemaVersion": 2, "mediaType": m.OCI_MANIFEST,
                         "config": json.loads(m.oci("big"))["config"],
                         "layers": [], "annotations": {"pad": "x" * MANIFEST_LIMIT}}).encode()
_bodies = st.one_of(
    st.sampled_from([None, b"", b"{", b"null", b"[]", b'{"schemaVersion": 2}', b"\xff\xfe", m.oci("fuzz").encode(),
                     m.docker("fuzz").encode(), m.index([m.oci("fuzz")]).encode(), BLOB, _oversized,
                     b"x" * (MANIFEST_LIMIT + 1)]),
    st.binary(max_size=256))

_ranges = st.sampled_from(["bytes=0-0", "bytes=5-2", "bytes=999999-", "bytes=0-1,3-4", "garbage", "bytes=-0",
                           "bytes=-99999999", "bytes=", "bytes=0-99999999999999999999", "items=0-1", "bytes=10-19"])
_content_ranges = st.sampled_from(["0-5", "5-2", "bytes 0-1/2", "garbage", "-1-3", "0-", "bytes=0-0",
                                   "99999999999999999999-999999999999999999999", "0-0", " 0 - 1 "])
_content_types = st.sampled_from([m.OCI_MANIFEST, m.DOCKER_MANIFEST, m.OCI_INDEX, m.DOCKER_LIST, m.SCHEMA1,
                                  "application/json", "text/plain", "application/octet-stream", "", ";;;",
                                  "application/vnd.oci.image.manifest.v1+json; charset=utf-8", "x" * 300])
_accepts = st.sampled_from(["*/*", m.DOCKER_MANIFEST, m.OCI_INDEX, "", ",,,", "text/html;q=0", "application/*"])


def _authorizations(password: str):
    return st.sampled_from([
        "valid", "valid", "valid", None, "Basic !!!", "Bearer abc", "Basic " + base64.b64encode(b"AWS:wrong").decode(),
        "Basic " + base64.b64encode(b"AWS").decode(), "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
        "Basic " + base64.b64encode(f"someone:{password}".encode()).decode(), "basic", "Basic " + "A" * 2000])


def assert_spec_error(status: int, headers, body: bytes, what) -> None:
    """A 4xx with a JSON body has the spec's error shape."""
    if not body or "json" not in (headers.get("Content-Type") or ""):
        return
    doc = json.loads(body)
    assert isinstance(doc, dict) and isinstance(doc.get("errors"), list) and doc["errors"], (what, status, doc)
    for entry in doc["errors"]:
        assert isinstance(entry.get("code"), str) and isinstance(entry.get("message"), str), (what, status, doc)


@pytest.fixture
def reg(ecr_emulator, ecr):
    ecr.create_repository(repositoryName="team/app")
    reg = RegistryClient(ecr_emulator.endpoint, ecr)
    reg.push_blob("team/app", BLOB)
    return reg


def test_hostile_registry_requests_get_4xx_in_the_specs_shape(reg):
    password = base64.b64decode(reg.auth[6:]).decode().partition(":")[2]
    non_json_4xx: set[tuple[str, int]] = set()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.data_too_large])
    @given(method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]),
           path=_paths(), body=_bodies, auth=_authorizations(password),
           extra=st.fixed_dictionaries({}, optional={"Range": _ranges, "Content-Range": _content_ranges,
                                                      "Content-Type": _content_types, "Accept": _accepts}))
    def run(method, path, body, auth, extra):
        headers = dict(extra)
        if auth not in ("valid", None):
            headers["Authorization"] = auth
        status, reply_headers, reply = reg.request(method, path, body=body, headers=headers,
                                                   auth=auth == "valid")
        what = (method, path, headers, None if body is None else body[:80])
        assert status < 500, (what, status, reply[:500])
        if 400 <= status < 500:
            if reply and "json" not in (reply_headers.get("Content-Type") or ""):
                non_json_4xx.add((method, status))
            assert_spec_error(status, reply_headers, reply, what)

    run()
    status, _, _ = reg.request("GET", "/v2/")
    assert status == 200
    assert reg.request("GET", "/v2/team/app/tags/list")[0] == 200
    # Only a Range the blob cannot satisfy may answer without the JSON error body (416 from the file sender).
    assert non_json_4xx <= {("GET", 416)}, non_json_4xx


@pytest.mark.parametrize("method,path", [("DELETE", "/v2"), ("POST", "/v2"),
                                         ("PROPFIND", "/v2/team/app/tags/list")])
def test_a_method_routing_refuses_is_405_in_the_specs_shape(reg, method, path):
    status, headers, body = reg.json(method, path)
    assert status == 405 and body["errors"][0]["code"] == "UNSUPPORTED"
    assert headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize("range_", ["bytes=999999-", "bytes=5-2,999999-"])
def test_an_unsatisfiable_range_on_a_blob_is_416_with_the_blob_size(reg, range_):
    status, headers, _ = reg.request("GET", f"/v2/team/app/blobs/{BLOB_DIGEST}", headers={"Range": range_})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(BLOB)}"
    assert reg.request("GET", "/v2/")[0] == 200


def test_an_oversized_manifest_is_refused_and_stores_nothing(reg, ecr):
    status, _, body = reg.json("PUT", "/v2/team/app/manifests/big", body=_oversized,
                               headers={"Content-Type": m.OCI_MANIFEST})
    assert status == 413 and body["errors"][0]["code"] == "MANIFEST_INVALID"
    assert ecr.describe_images(repositoryName="team/app")["imageDetails"] == []


def _post_json_api(endpoint: str, head: bytes, body_chunks) -> bytes:
    """Send a raw request to the JSON API and return the status line and headers of the reply."""
    host, port = endpoint.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeRepositories\r\n" + head + b"\r\n")
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
        except OSError:
            pass
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = conn.recv(4096)
            if not data:
                break
            reply += data
        return reply


def test_a_json_api_body_over_the_limit_is_413_and_the_connection_still_works(ecr_emulator):
    """The application refuses from Content-Length alone, without reading the body; the server reads and drops it,
    so a client that sends the whole body before reading still gets the reply."""
    limit = 32 * 1024 * 1024
    body = [b"{"] + [b" " * (1024 * 1024)] * 32 + [b"}"]
    reply = _post_json_api(ecr_emulator.endpoint, b"Content-Length: %d\r\n" % (limit + 2), body)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert ecr_emulator.client.describe_repositories()["repositories"] == []


def test_a_chunked_json_api_body_over_the_limit_is_413(ecr_emulator):
    chunk = b"x" * (1024 * 1024)
    body = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * 33 + [b"0\r\n\r\n"]
    reply = _post_json_api(ecr_emulator.endpoint, b"Transfer-Encoding: chunked\r\n", body)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert ecr_emulator.client.describe_repositories()["repositories"] == []
