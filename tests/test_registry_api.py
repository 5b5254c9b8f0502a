"""The /v2 registry API, request by request: auth, blobs, uploads, manifests, tags, catalog, referrers, errors."""

import base64
import hashlib
import json

import pytest

import sample_manifests as m
from registry_client import RegistryClient


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def reg(ecr_emulator, ecr):
    ecr.create_repository(repositoryName="team/app")
    return RegistryClient(ecr_emulator.endpoint, ecr)


def image_manifest(reg: RegistryClient, name: str = "team/app", payload: bytes = b"layer", **extra) -> bytes:
    config = reg.push_blob(name, b'{"architecture":"amd64","os":"linux"}')
    layer = reg.push_blob(name, payload)
    doc = {"schemaVersion": 2, "mediaType": m.OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 37},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                       "size": len(payload)}], **extra}
    return json.dumps(doc).encode()


def test_base_endpoint_asks_for_basic_credentials(ecr_emulator, reg):
    status, headers, body = reg.request("GET", "/v2/", auth=False)
    assert status == 401
    assert headers["WWW-Authenticate"] == (
        'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"')
    assert headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"
    status, headers, _ = reg.request("GET", "/v2/")
    assert status == 200 and headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_challenge_names_the_registry_host_the_request_was_addressed_to(reg):
    host = "210987654321.dkr.ecr.eu-west-2.amazonaws.com"
    status, headers, _ = reg.request("GET", "/v2/", auth=False, headers={"Host": host})
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Basic realm="https://{host}/",service="ecr.amazonaws.com"'


@pytest.mark.parametrize("auth", [
    "Basic " + base64.b64encode(b"AWS:wrong").decode(),
    "Basic " + base64.b64encode(b"someone:x").decode(),
    "Basic !!!",
    "Bearer abc",
])
def test_bad_credentials_are_unauthorized(reg, auth):
    status, headers, body = reg.request("GET", "/v2/team/app/tags/list", headers={"Authorization": auth})
    assert status == 401 and json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("auth", [
    b"Basic \xc3\xa9\xc3\xa9",                                   # non-ASCII in the header itself
    b"Basic " + base64.b64encode("AWS:pässword".encode()),      # non-ASCII UTF-8 in the credentials
    b"Basic " + base64.b64encode(b"AWS:123.us-east-1.9.\xc3\xa9"),  # a token-shaped password, non-ASCII signature
    b"Basic " + base64.b64encode(b"\xff\xfe:\x80"),              # not UTF-8 at all
])
def test_undecodable_credentials_are_unauthorized_not_a_server_error(reg, auth):
    status, headers, body = reg.request("GET", "/v2/team/app/tags/list", headers={"Authorization": auth})
    assert status == 401
    assert headers["Content-Type"] == "application/json"
    assert headers["WWW-Authenticate"].startswith("Basic realm=")
    error = json.loads(body)["errors"][0]
    assert error["code"] == "UNAUTHORIZED" and "malformed Basic credentials" in error["detail"]


def test_expired_password_is_unauthorized(ecr_emulator, reg):
    ecr_emulator.admin("/_emulator/clock", {"advance": 13 * 3600})
    status, _, _ = reg.request("GET", "/v2/")
    assert status == 401


def test_a_password_of_one_account_never_reaches_another(ecr_emulator, reg):
    other = ecr_emulator.server.client(access_key="210987654321")
    other.create_repository(repositoryName="secret")
    status, _, body = reg.json("GET", "/v2/secret/tags/list")
    assert status == 404 and body["errors"][0]["code"] == "NAME_UNKNOWN"
    _, _, catalog = reg.json("GET", "/v2/_catalog")
    assert catalog == {"repositories": ["team/app"]}
    other_reg = RegistryClient(ecr_emulator.endpoint, other)
    _, _, catalog = other_reg.json("GET", "/v2/_catalog")
    assert catalog == {"repositories": ["secret"]}


def test_monolithic_blob_upload_then_head_get_and_range(reg):
    data = bytes(range(256)) * 40
    digest = reg.push_blob("team/app", data)
    status, headers, body = reg.request("HEAD", f"/v2/team/app/blobs/{digest}")
    assert status == 200 and headers["Content-Length"] == str(len(data)) and body == b""
    assert headers["Docker-Content-Digest"] == digest
    status, _, body = reg.request("GET", f"/v2/team/app/blobs/{digest}")
    assert status == 200 and body == data
    status, headers, body = reg.request("GET", f"/v2/team/app/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert status == 206 and body == data[10:20]
    assert headers["Content-Range"] == f"bytes 10-19/{len(data)}"


def test_monolithic_upload_with_a_wrong_digest_stores_nothing(reg):
    status, _, body = reg.json("POST", f"/v2/team/app/blobs/uploads/?digest={sha(b'other')}", body=b"data")
    assert status == 400 and body["errors"][0]["code"] == "DIGEST_INVALID"
    status, _, _ = reg.request("HEAD", f"/v2/team/app/blobs/{sha(b'data')}")
    assert status == 404


def test_chunked_upload_in_order_with_status_and_a_gap_refused(reg):
    status, headers, _ = reg.request("POST", "/v2/team/app/blobs/uploads/")
    assert status == 202 and headers["Docker-Upload-UUID"]
    location = headers["Location"]
    status, headers, _ = reg.request("PATCH", location, body=b"hello ", headers={"Content-Range": "0-5"})
    assert status == 202 and headers["Range"] == "0-5"
    status, headers, body = reg.json("PATCH", location, body=b"xx", headers={"Content-Range": "9-10"})
    assert status == 416 and body["errors"][0]["code"] == "BLOB_UPLOAD_INVALID" and headers["Range"] == "0-5"
    status, headers, _ = reg.request("PATCH", location, body=b"world", headers={"Content-Range": "6-10"})
    assert status == 202 and headers["Range"] == "0-10"
    status, headers, _ = reg.request("GET", location)
    assert status == 204 and headers["Range"] == "0-10"
    digest = sha(b"hello world!")
    status, headers, _ = reg.request("PUT", f"{location}?digest={digest}", body=b"!")
    assert status == 201 and headers["Docker-Content-Digest"] == digest
    assert reg.request("GET", f"/v2/team/app/blobs/{digest}")[2] == b"hello world!"


def test_finishing_with_a_wrong_digest_fails_and_cancelled_uploads_are_gone(reg):
    _, headers, _ = reg.request("POST", "/v2/team/app/blobs/uploads/")
    location = headers["Location"]
    reg.request("PATCH", location, body=b"abc")
    status, _, body = reg.json("PUT", f"{location}?digest={sha(b'xyz')}")
    assert status == 400 and body["errors"][0]["code"] == "DIGEST_INVALID"
    assert reg.request("HEAD", f"/v2/team/app/blobs/{sha(b'abc')}")[0] == 404
    _, headers, _ = reg.request("POST", "/v2/team/app/blobs/uploads/")
    location = headers["Location"]
    assert reg.request("DELETE", location)[0] == 204
    status, _, body = reg.json("GET", location)
    assert status == 404 and body["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def test_cross_repository_mount(reg, ecr):
    ecr.create_repository(repositoryName="team/other")
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    digest = reg.push_blob("team/app", b"shared layer")
    status, headers, _ = reg.request("POST", f"/v2/team/other/blobs/uploads/?mount={digest}&from=team/app")
    assert status == 201 and headers["Location"] == f"/v2/team/other/blobs/{digest}"
    status, headers, _ = reg.request("POST", f"/v2/team/other/blobs/uploads/?mount={sha(b'nope')}&from=team/app")
    assert status == 202 and "/blobs/uploads/" in headers["Location"]


def test_blob_delete_is_unsupported(reg):
    digest = reg.push_blob("team/app", b"to delete")
    status, headers, body = reg.json("DELETE", f"/v2/team/app/blobs/{digest}")
    assert status == 405 and body["errors"][0]["code"] == "UNSUPPORTED" and headers["Allow"] == "GET, HEAD"
    assert reg.request("GET", f"/v2/team/app/blobs/{digest}")[2] == b"to delete"


@pytest.mark.parametrize("path,code", [
    ("/v2/team/app/blobs/sha256:../../etc/passwd", "NAME_UNKNOWN"),
    ("/v2/team/app/blobs/sha256:..", "DIGEST_INVALID"),
    ("/v2/team/app/blobs/md5:abc", "DIGEST_INVALID"),
    ("/v2/../etc/blobs/sha256:" + "a" * 64, "NAME_INVALID"),
    ("/v2//abs/blobs/sha256:" + "a" * 64, "NAME_INVALID"),
    ("/v2/Team/App/tags/list", "NAME_INVALID"),
    ("/v2/team/app/manifests/bad tag!", "TAG_INVALID"),
    ("/v2/team/app/blobs/uploads/..%2F..%2Fx", "NAME_UNKNOWN"),
    ("/v2/team/app/blobs/uploads/not-a-uuid", "BLOB_UPLOAD_UNKNOWN"),
])
def test_names_digests_and_ids_are_checked_before_any_file(reg, path, code):
    status, _, body = reg.request("GET", path.replace(" ", "%20"))
    assert 400 <= status < 500
    assert json.loads(body)["errors"][0]["code"] == code


def test_unknown_repository_is_name_unknown(reg):
    status, _, body = reg.json("POST", "/v2/nowhere/blobs/uploads/")
    assert status == 404 and body["errors"][0]["code"] == "NAME_UNKNOWN"


def test_manifest_put_get_head_and_describe_images_agree(reg, ecr):
    manifest = image_manifest(reg)
    status, headers, _ = reg.request("PUT", "/v2/team/app/manifests/v1", body=manifest,
                                     headers={"Content-Type": m.OCI_MANIFEST})
    assert status == 201 and headers["Docker-Content-Digest"] == sha(manifest)
    for reference in ("v1", sha(manifest)):
        status, headers, body = reg.request("GET", f"/v2/team/app/manifests/{reference}",
                                            headers={"Accept": m.OCI_MANIFEST})
        assert status == 200 and body == manifest and headers["Content-Type"] == m.OCI_MANIFEST
        assert headers["Docker-Content-Digest"] == sha(manifest)
    status, headers, body = reg.request("HEAD", "/v2/team/app/manifests/v1")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(manifest))
    [detail] = ecr.describe_images(repositoryName="team/app")["imageDetails"]
    assert detail["imageDigest"] == sha(manifest) and detail["imageTags"] == ["v1"]
    assert detail["imageManifestMediaType"] == m.OCI_MANIFEST and detail["imageSizeInBytes"] == len(b"layer")
    assert "lastRecordedPullTime" in detail


def test_accept_negotiation_refuses_a_type_the_client_cannot_read(reg):
    manifest = image_manifest(reg)
    reg.request("PUT", "/v2/team/app/manifests/v1", body=manifest, headers={"Content-Type": m.OCI_MANIFEST})
    status, _, body = reg.json("GET", "/v2/team/app/manifests/v1", headers={"Accept": m.DOCKER_MANIFEST})
    assert status == 404 and body["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    status, _, _ = reg.request("GET", "/v2/team/app/manifests/v1", headers={"Accept": "*/*"})
    assert status == 200


def test_image_put_with_put_image_is_pullable_and_batch_delete_removes_it(reg, ecr):
    ecr.put_image(repositoryName="team/app", imageManifest=m.docker("json-api"), imageTag="api")
    status, headers, body = reg.request("GET", "/v2/team/app/manifests/api")
    assert status == 200 and body == m.docker("json-api").encode()
    assert headers["Content-Type"] == m.DOCKER_MANIFEST
    ecr.batch_delete_image(repositoryName="team/app", imageIds=[{"imageTag": "api"}])
    status, _, body = reg.json("GET", "/v2/team/app/manifests/api")
    assert status == 404 and body["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_manifest_errors_map_to_the_specs_codes(reg, ecr):
    status, _, body = reg.json("PUT", "/v2/team/app/manifests/v1", body=b"{nope",
                               headers={"Content-Type": m.OCI_MANIFEST})
    assert status == 400 and body["errors"][0]["code"] == "MANIFEST_INVALID"
    manifest = image_manifest(reg)
    status, _, body = reg.json("PUT", f"/v2/team/app/manifests/{sha(b'other')}", body=manifest,
                               headers={"Content-Type": m.OCI_MANIFEST})
    assert status == 400 and body["errors"][0]["code"] == "DIGEST_INVALID"
    status, _, body = reg.json("PUT", "/v2/team/app/manifests/v1", body=b"x" * (4 * 1024 * 1024 + 1))
    assert status == 413 and body["errors"][0]["code"] == "MANIFEST_INVALID"
    assert ecr.describe_images(repositoryName="team/app")["imageDetails"] == []


def test_immutable_tags_hold_over_v2_and_the_same_push_again_succeeds(reg, ecr):
    ecr.put_image_tag_mutability(repositoryName="team/app", imageTagMutability="IMMUTABLE")
    first, second = image_manifest(reg, payload=b"one"), image_manifest(reg, payload=b"two")
    assert reg.request("PUT", "/v2/team/app/manifests/v1", body=first)[0] == 201
    assert reg.request("PUT", "/v2/team/app/manifests/v1", body=first)[0] == 201
    status, _, body = reg.json("PUT", "/v2/team/app/manifests/v1", body=second)
    assert status == 400 and body["errors"][0]["code"] == "TAG_INVALID"


def test_manifest_delete_by_digest_and_by_tag(reg, ecr):
    manifest = image_manifest(reg)
    reg.request("PUT", "/v2/team/app/manifests/v1", body=manifest)
    reg.request("PUT", "/v2/team/app/manifests/v2", body=manifest)
    assert reg.request("DELETE", "/v2/team/app/manifests/v1")[0] == 202
    assert ecr.describe_images(repositoryName="team/app")["imageDetails"][0]["imageTags"] == ["v2"]
    assert reg.request("DELETE", f"/v2/team/app/manifests/{sha(manifest)}")[0] == 202
    assert ecr.describe_images(repositoryName="team/app")["imageDetails"] == []
    status, _, body = reg.json("DELETE", f"/v2/team/app/manifests/{sha(manifest)}")
    assert status == 404 and body["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_tags_list_and_catalog_page_with_link_headers(reg, ecr):
    for i in range(5):
        ecr.put_image(repositoryName="team/app", imageManifest=m.docker(str(i)), imageTag=f"t{i}")
    status, headers, body = reg.json("GET", "/v2/team/app/tags/list?n=2")
    assert status == 200 and body == {"name": "team/app", "tags": ["t0", "t1"]}
    assert headers["Link"] == '</v2/team/app/tags/list?n=2&last=t1>; rel="next"'
    _, headers, body = reg.json("GET", "/v2/team/app/tags/list?n=2&last=t3")
    assert body["tags"] == ["t4"] and "Link" not in headers
    status, _, body = reg.json("GET", "/v2/team/app/tags/list?n=-1")
    assert status == 400
    for name in ("a1", "b2", "c3"):
        ecr.create_repository(repositoryName=name)
    _, headers, body = reg.json("GET", "/v2/_catalog?n=2")
    assert body == {"repositories": ["a1", "b2"]} and 'last=b2' in headers["Link"]


def test_referrers_lists_manifests_whose_subject_is_the_image(reg):
    subject = image_manifest(reg)
    reg.request("PUT", "/v2/team/app/manifests/v1", body=subject)
    signature = image_manifest(reg, payload=b"sig", artifactType="application/vnd.example.signature",
                               subject={"mediaType": m.OCI_MANIFEST, "digest": sha(subject), "size": len(subject)},
                               annotations={"org.example": "yes"})
    sbom = image_manifest(reg, payload=b"sbom", artifactType="application/spdx+json",
                          subject={"mediaType": m.OCI_MANIFEST, "digest": sha(subject), "size": len(subject)})
    for referrer in (signature, sbom):
        status, headers, _ = reg.request("PUT", f"/v2/team/app/manifests/{sha(referrer)}", body=referrer)
        assert status == 201 and headers["OCI-Subject"] == sha(subject)
    status, headers, body = reg.json("GET", f"/v2/team/app/referrers/{sha(subject)}")
    assert status == 200 and headers["Content-Type"] == m.OCI_INDEX
    found = {d["digest"]: d for d in body["manifests"]}
    assert set(found) == {sha(signature), sha(sbom)}
    assert found[sha(signature)]["artifactType"] == "application/vnd.example.signature"
    assert found[sha(signature)]["annotations"] == {"org.example": "yes"}
    _, headers, body = reg.json("GET", f"/v2/team/app/referrers/{sha(subject)}?artifactType=application/spdx%2Bjson")
    assert [d["digest"] for d in body["manifests"]] == [sha(sbom)]
    assert headers["OCI-Filters-Applied"] == "artifactType"
    _, _, body = reg.json("GET", f"/v2/team/app/referrers/{sha(b'nothing')}")
    assert body["manifests"] == []


def test_unsupported_method_is_a_4xx(reg):
    status, _, body = reg.json("POST", "/v2/team/app/tags/list")
    assert status == 405 and body["errors"][0]["code"] == "UNSUPPORTED"


def test_an_archived_image_cannot_be_pulled_over_v2(reg, ecr):
    """The ECR User Guide's "Archiving an image" page: pulls of an archived image fail with a 404 error."""
    digest = ecr.put_image(repositoryName="team/app", imageManifest=m.docker("cold"),
                           imageTag="cold")["image"]["imageId"]["imageDigest"]
    ecr.update_image_storage_class(repositoryName="team/app", imageId={"imageTag": "cold"},
                                   targetStorageClass="ARCHIVE")
    for reference in ("cold", digest):
        for method in ("GET", "HEAD"):
            status, _, body = reg.request(method, f"/v2/team/app/manifests/{reference}")
            assert status == 404
            if method == "GET":
                assert json.loads(body)["errors"][0]["code"] == "MANIFEST_UNKNOWN"
