"""Layer uploads through the ECR API, availability checks, and downloads by the URLs GetDownloadUrlForLayer signs."""

import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request

import pytest

from ecr_emulator.testing import running_server

MIB = 1024 * 1024


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def repo(ecr):
    ecr.create_repository(repositoryName="team/app")
    return "team/app"


def upload(ecr, repo, parts):
    """Upload ``parts`` in order; return the upload id and the last byte received."""
    upload_id = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    offset, last = 0, None
    for part in parts:
        last = ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=offset,
                                     partLastByte=offset + len(part) - 1, layerPartBlob=part)["lastByteReceived"]
        offset += len(part)
    return upload_id, last


def fetch(url: str, headers: dict | None = None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def test_initiate_reports_the_part_size(ecr, repo):
    reply = ecr.initiate_layer_upload(repositoryName=repo)
    assert reply["partSize"] == 5 * MIB
    assert len(reply["uploadId"]) == 36


def test_multipart_upload_then_check_and_download(ecr, repo):
    first, second = os.urandom(5 * MIB), os.urandom(1000)
    data = first + second
    upload_id, last = upload(ecr, repo, [first, second])
    assert last == len(data) - 1
    reply = ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(data)])
    assert reply["layerDigest"] == sha(data)
    assert reply["uploadId"] == upload_id and reply["repositoryName"] == repo
    assert reply["registryId"] == "123456789012"

    check = ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=[sha(data)])
    assert check["failures"] == []
    assert check["layers"] == [{"layerDigest": sha(data), "layerAvailability": "AVAILABLE", "layerSize": len(data)}]

    url = ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=sha(data))["downloadUrl"]
    status, body, _ = fetch(url)
    assert status == 200 and body == data


def test_layers_are_visible_only_to_the_repository_they_were_uploaded_to(ecr, repo):
    ecr.create_repository(repositoryName="other")
    upload_id, _ = upload(ecr, repo, [b"shared"])
    ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(b"shared")])
    check = ecr.batch_check_layer_availability(repositoryName="other", layerDigests=[sha(b"shared")])
    assert check["layers"] == [] and check["failures"][0]["failureCode"] == "MissingLayerDigest"


def test_part_that_is_not_consecutive_is_refused(ecr, repo):
    upload_id, _ = upload(ecr, repo, [b"0123456789"])
    with pytest.raises(ecr.exceptions.InvalidLayerPartException) as caught:
        ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=12, partLastByte=14,
                              layerPartBlob=b"abc")
    error = caught.value.response
    assert error["lastValidByteReceived"] == 9
    assert error["uploadId"] == upload_id and error["repositoryName"] == repo
    assert error["registryId"] == "123456789012"


def test_part_whose_last_byte_disagrees_with_its_length_is_refused(ecr, repo):
    upload_id, _ = upload(ecr, repo, [])
    with pytest.raises(ecr.exceptions.InvalidLayerPartException) as caught:
        ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=0, partLastByte=5,
                              layerPartBlob=b"abc")
    assert caught.value.response["lastValidByteReceived"] == -1


def test_small_part_before_the_last_fails_completion(ecr, repo):
    upload_id, _ = upload(ecr, repo, [b"small", b"last"])
    with pytest.raises(ecr.exceptions.LayerPartTooSmallException):
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(b"smalllast")])
    assert ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=[sha(b"smalllast")])["layers"] == []


def test_wrong_digest_stores_nothing(ecr, repo):
    upload_id, _ = upload(ecr, repo, [b"actual bytes"])
    with pytest.raises(ecr.exceptions.InvalidLayerException):
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(b"claimed")])
    check = ecr.batch_check_layer_availability(repositoryName=repo,
                                               layerDigests=[sha(b"claimed"), sha(b"actual bytes")])
    assert check["layers"] == []
    assert {f["failureCode"] for f in check["failures"]} == {"MissingLayerDigest"}
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(b"actual bytes")])


def test_empty_upload_cannot_complete(ecr, repo):
    upload_id = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    with pytest.raises(ecr.exceptions.EmptyUploadException):
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(b"")])


def test_completing_a_layer_that_exists_is_refused(ecr, repo):
    for expected in (None, ecr.exceptions.LayerAlreadyExistsException):
        upload_id, _ = upload(ecr, repo, [b"layer"])
        if expected is None:
            ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(b"layer")])
        else:
            with pytest.raises(expected):
                ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(b"layer")])
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=5, partLastByte=5,
                              layerPartBlob=b"x")


def test_unknown_upload_or_another_repositorys_upload_is_not_found(ecr, repo):
    ecr.create_repository(repositoryName="other")
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.upload_layer_part(repositoryName=repo, uploadId=unknown, partFirstByte=0, partLastByte=0,
                              layerPartBlob=b"x")
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.complete_layer_upload(repositoryName=repo, uploadId=unknown, layerDigests=[sha(b"x")])
    upload_id, _ = upload(ecr, "other", [b"x"])
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=1, partLastByte=1,
                              layerPartBlob=b"y")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.initiate_layer_upload(repositoryName="missing")


def test_reset_drops_uploads_and_layers(ecr_emulator, ecr, repo):
    done, _ = upload(ecr, repo, [b"kept?"])
    ecr.complete_layer_upload(repositoryName=repo, uploadId=done, layerDigests=[sha(b"kept?")])
    pending, _ = upload(ecr, repo, [b"pending"])
    ecr_emulator.reset()
    ecr.create_repository(repositoryName=repo)
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.complete_layer_upload(repositoryName=repo, uploadId=pending, layerDigests=[sha(b"pending")])
    assert ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=[sha(b"kept?")])["layers"] == []


def test_download_url_for_a_missing_layer(ecr, repo):
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=sha(b"never uploaded"))
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.get_download_url_for_layer(repositoryName=repo, layerDigest="md5:abcdef")


@pytest.fixture
def layer_url(ecr, repo):
    data = bytes(range(256)) * 40
    upload_id, _ = upload(ecr, repo, [data])
    ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(data)])
    return ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=sha(data))["downloadUrl"], data


def test_range_download(layer_url):
    url, data = layer_url
    status, body, headers = fetch(url, {"Range": "bytes=100-1123"})
    assert status == 206 and body == data[100:1124]
    assert headers["Content-Range"] == f"bytes 100-1123/{len(data)}"
    status, body, _ = fetch(url, {"Range": "bytes=-10"})
    assert status == 206 and body == data[-10:]
    status, _, headers = fetch(url, {"Range": f"bytes={len(data)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(data)}"


def test_tampered_or_expired_download_url_is_forbidden(ecr_emulator, layer_url):
    url, data = layer_url
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    signature = query["signature"]
    query["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert fetch(parts._replace(query=urllib.parse.urlencode(query)).geturl())[0] == 403
    query["signature"], query["expires"] = signature, str(int(query["expires"]) + 3600)
    assert fetch(parts._replace(query=urllib.parse.urlencode(query)).geturl())[0] == 403
    other = parts._replace(path=parts.path[:-64] + hashlib.sha256(b"other").hexdigest()).geturl()
    assert fetch(other)[0] == 403
    assert fetch(url)[0] == 200
    ecr_emulator.admin("/_emulator/clock", {"advance": 3601})
    assert fetch(url)[0] == 403


def test_batch_check_reports_malformed_and_missing_digests(ecr, repo):
    digests = ["sha256:" + "A" * 64, "sha256:short", "not-a-digest", sha(b"absent")]
    check = ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=digests)
    assert check["layers"] == []
    codes = {f["layerDigest"]: f["failureCode"] for f in check["failures"]}
    assert codes == {digests[0]: "InvalidLayerDigest", digests[1]: "InvalidLayerDigest",
                     digests[2]: "InvalidLayerDigest", digests[3]: "MissingLayerDigest"}
    assert all(f["failureReason"] for f in check["failures"])


def test_layers_and_download_urls_survive_a_restart(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="app")
        upload_id, _ = upload(ecr, "app", [b"durable layer"])
        ecr.complete_layer_upload(repositoryName="app", uploadId=upload_id, layerDigests=[sha(b"durable layer")])
        url = ecr.get_download_url_for_layer(repositoryName="app", layerDigest=sha(b"durable layer"))["downloadUrl"]
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        check = ecr.batch_check_layer_availability(repositoryName="app", layerDigests=[sha(b"durable layer")])
        assert check["layers"][0]["layerSize"] == len(b"durable layer")
        port = urllib.parse.urlsplit(server.endpoint).port
        status, body, _ = fetch(urllib.parse.urlsplit(url)._replace(netloc=f"127.0.0.1:{port}").geturl())
        assert status == 200 and body == b"durable layer"
