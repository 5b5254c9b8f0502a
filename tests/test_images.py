"""PutImage, BatchGetImage, BatchDeleteImage, DescribeImages and ListImages through boto3."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

import sample_manifests as m
from ecr_emulator.testing import running_server
from helpers import error_of, raw_call


def details(ecr, repo, **kwargs):
    return ecr.describe_images(repositoryName=repo, **kwargs)["imageDetails"]


@pytest.mark.parametrize("manifest,media_type,artifact_type", [
    (m.docker(), m.DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json"),
    (m.oci(), m.OCI_MANIFEST, "application/vnd.oci.image.config.v1+json"),
    (m.schema1(), m.SCHEMA1, None),
])
def test_put_image_of_each_kind_is_stored_under_the_sha256_of_its_bytes(ecr, repo, manifest, media_type,
                                                                          artifact_type):
    image = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1")["image"]
    assert image["imageId"] == {"imageDigest": m.digest(manifest), "imageTag": "v1"}
    assert image["imageManifestMediaType"] == media_type
    [detail] = details(ecr, repo)
    assert detail["imageDigest"] == m.digest(manifest)
    assert detail["imageManifestMediaType"] == media_type
    assert detail.get("artifactMediaType") == artifact_type
    assert detail["imageTags"] == ["v1"]
    assert detail["imageStatus"] == "ACTIVE"


def test_image_size_is_the_sum_of_compressed_layers_and_a_list_reports_its_largest_image(ecr, repo):
    small, large = m.docker("a", (10, 20)), m.docker("b", (1000, 2000, 3000))
    for manifest in (small, large):
        ecr.put_image(repositoryName=repo, imageManifest=manifest)
    ecr.put_image(repositoryName=repo, imageManifest=m.index([small, large], m.DOCKER_LIST, m.DOCKER_MANIFEST),
                  imageTag="multi")
    sizes = {d["imageDigest"]: d["imageSizeInBytes"] for d in details(ecr, repo)}
    assert sizes[m.digest(small)] == 30
    assert sizes[m.digest(large)] == 6000
    assert sizes[m.digest(m.index([small, large], m.DOCKER_LIST, m.DOCKER_MANIFEST))] == 6000


def test_oci_index_and_docker_list_keep_their_media_types(ecr, repo):
    child = m.oci("c")
    ecr.put_image(repositoryName=repo, imageManifest=child)
    oci_index = m.index([child])
    ecr.put_image(repositoryName=repo, imageManifest=oci_index, imageTag="idx")
    [detail] = details(ecr, repo, imageIds=[{"imageTag": "idx"}])
    assert detail["imageManifestMediaType"] == m.OCI_INDEX
    assert "artifactMediaType" not in detail


def test_media_type_comes_from_the_parameter_when_the_manifest_has_none(ecr, repo):
    manifest = m.oci("bare", media_type_field=False)
    image = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageManifestMediaType=m.OCI_MANIFEST)
    assert image["image"]["imageManifestMediaType"] == m.OCI_MANIFEST


@pytest.mark.parametrize("manifest", [m.oci("bare", media_type_field=False),
                                      json.dumps({k: v for k, v in json.loads(m.index([m.oci("c")])).items()
                                                  if k != "mediaType"})])
def test_a_manifest_without_media_type_needs_the_parameter(ecr, repo, manifest):
    """The PutImage API reference: imageManifestMediaType is required when the manifest has no mediaType; ECR
    refuses such a manifest as quoted in github.com/aws/aws-cli/issues/8620."""
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="bare")
    assert error_of(exc) == ("InvalidParameterException",
                             "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")
    assert details(ecr, repo) == []


def test_a_media_type_parameter_that_contradicts_the_manifest_is_refused(ecr, repo):
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=m.docker(), imageManifestMediaType=m.OCI_MANIFEST)
    code, message = error_of(exc)
    assert code == "InvalidParameterException" and "does not match" in message
    assert details(ecr, repo) == []


def test_image_digest_parameter_must_match_the_manifest(ecr, repo):
    manifest = m.docker()
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageDigest=m.digest("something else"))
    assert error_of(exc)[0] == "ImageDigestDoesNotMatchException"
    assert details(ecr, repo) == []
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageDigest=m.digest(manifest))
    assert len(details(ecr, repo)) == 1


@pytest.mark.parametrize("manifest,fragment", [
    ("{not json", "Invalid JSON syntax"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"schemaVersion": 2, "mediaType": "application/x-unknown"}), "Unsupported manifest media type"),
    (json.dumps({"schemaVersion": 3, "mediaType": m.DOCKER_MANIFEST}), "schemaVersion"),
    (json.dumps({"schemaVersion": 2}), "Invalid JSON syntax"),
    (json.dumps({"schemaVersion": 2, "mediaType": m.DOCKER_MANIFEST, "config": {"digest": "sha256:zz", "size": 1},
                 "layers": []}), "invalid digest"),
    (json.dumps({"schemaVersion": 2, "mediaType": m.OCI_INDEX, "manifests": "nope"}), "manifests must be a list"),
])
def test_invalid_manifests_are_refused_and_store_nothing(ecr, repo, manifest, fragment):
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="bad")
    code, message = error_of(exc)
    assert code == "InvalidParameterException" and fragment in message
    assert details(ecr, repo) == []


def test_manifest_size_limit_is_the_models(ecr_emulator, repo):
    body = {"repositoryName": repo, "imageManifest": "x" * (4 * 1024 * 1024 + 1)}
    status, reply, _ = raw_call(ecr_emulator.endpoint, "PutImage", body)
    assert status == 400 and reply["__type"] == "InvalidParameterException"
    assert "length less than or equal to 4194304" in reply["message"]


def test_oci_artifacts_record_their_artifact_media_type_and_subject(ecr, repo):
    image = m.oci("img")
    ecr.put_image(repositoryName=repo, imageManifest=image, imageTag="v1")
    signature = m.oci("sig", artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
                      config_type="application/vnd.oci.empty.v1+json", subject=m.digest(image))
    sbom = m.oci("sbom", config_type="application/spdx+json")
    ecr.put_image(repositoryName=repo, imageManifest=signature)
    ecr.put_image(repositoryName=repo, imageManifest=sbom)
    by_digest = {d["imageDigest"]: d for d in details(ecr, repo)}
    assert by_digest[m.digest(signature)]["artifactMediaType"] == "application/vnd.dev.cosign.artifact.sig.v1+json"
    assert by_digest[m.digest(signature)]["subjectManifestDigest"] == m.digest(image)
    assert by_digest[m.digest(sbom)]["artifactMediaType"] == "application/spdx+json"


def test_one_image_carries_many_tags_and_a_tag_moves_in_a_mutable_repository(ecr, repo):
    first, second = m.docker("1"), m.docker("2")
    for tag in ("a", "b", "c"):
        ecr.put_image(repositoryName=repo, imageManifest=first, imageTag=tag)
    ecr.put_image(repositoryName=repo, imageManifest=second, imageTag="b")
    tags = {d["imageDigest"]: sorted(d.get("imageTags", [])) for d in details(ecr, repo)}
    assert tags == {m.digest(first): ["a", "c"], m.digest(second): ["b"]}


def test_moving_the_last_tag_leaves_an_untagged_image(ecr, repo):
    first, second = m.docker("1"), m.docker("2")
    ecr.put_image(repositoryName=repo, imageManifest=first, imageTag="latest")
    ecr.put_image(repositoryName=repo, imageManifest=second, imageTag="latest")
    untagged = details(ecr, repo, filter={"tagStatus": "UNTAGGED"})
    assert [d["imageDigest"] for d in untagged] == [m.digest(first)]


def test_same_tag_and_digest_again_is_image_already_exists(ecr, repo):
    manifest = m.docker()
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1")
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1")
    code, message = error_of(exc)
    assert code == "ImageAlreadyExistsException"
    assert m.digest(manifest) in message and "'v1'" in message


def test_untagged_put_stores_an_untagged_image_and_again_is_already_exists(ecr, repo):
    manifest = m.docker()
    image = ecr.put_image(repositoryName=repo, imageManifest=manifest)["image"]
    assert image["imageId"] == {"imageDigest": m.digest(manifest)}
    [detail] = details(ecr, repo)
    assert "imageTags" not in detail
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=manifest)
    assert error_of(exc)[0] == "ImageAlreadyExistsException"


def test_immutable_repository_refuses_to_move_a_tag(ecr):
    ecr.create_repository(repositoryName="frozen", imageTagMutability="IMMUTABLE")
    ecr.put_image(repositoryName="frozen", imageManifest=m.docker("1"), imageTag="v1")
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName="frozen", imageManifest=m.docker("2"), imageTag="v1")
    code, message = error_of(exc)
    assert code == "ImageTagAlreadyExistsException" and "'v1'" in message and "frozen" in message
    [detail] = details(ecr, "frozen")
    assert detail["imageDigest"] == m.digest(m.docker("1"))
    ecr.put_image(repositoryName="frozen", imageManifest=m.docker("1"), imageTag="v1-alias")


@pytest.mark.parametrize("mode,movable,fixed", [
    ("IMMUTABLE_WITH_EXCLUSION", "latest", "v1.0"),
    ("MUTABLE_WITH_EXCLUSION", "dev-1", "release-1"),
])
def test_exclusion_filters_decide_which_tags_move(ecr, mode, movable, fixed):
    pattern = "latest" if mode == "IMMUTABLE_WITH_EXCLUSION" else "release-*"
    ecr.create_repository(repositoryName="mixed", imageTagMutability=mode,
                          imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": pattern}])
    for tag in (movable, fixed):
        ecr.put_image(repositoryName="mixed", imageManifest=m.docker("1"), imageTag=tag)
    ecr.put_image(repositoryName="mixed", imageManifest=m.docker("2"), imageTag=movable)
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName="mixed", imageManifest=m.docker("2"), imageTag=fixed)
    assert error_of(exc)[0] == "ImageTagAlreadyExistsException"
    tags = {d["imageDigest"]: d["imageTags"] for d in details(ecr, "mixed")}
    assert tags == {m.digest(m.docker("1")): [fixed], m.digest(m.docker("2")): [movable]}


def test_push_time_comes_from_the_model_clock_and_pulls_are_recorded(ecr_emulator, ecr, repo):
    ecr_emulator.admin("/_emulator/clock", {"set": "2030-01-02T03:04:05+00:00"})
    ecr.put_image(repositoryName=repo, imageManifest=m.docker(), imageTag="v1")
    [detail] = details(ecr, repo)
    set_at = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert datetime.timedelta(0) <= detail["imagePushedAt"] - set_at < datetime.timedelta(seconds=30)
    assert "lastRecordedPullTime" not in detail
    ecr_emulator.admin("/_emulator/clock", {"advance": 3600})
    ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    [detail] = details(ecr, repo)
    pulled_after = detail["lastRecordedPullTime"] - detail["imagePushedAt"]
    assert datetime.timedelta(hours=1) <= pulled_after < datetime.timedelta(hours=1, seconds=30)


def test_batch_get_image_by_tag_and_digest_and_its_failure_codes(ecr, repo):
    one, two = m.docker("1"), m.docker("2")
    ecr.put_image(repositoryName=repo, imageManifest=one, imageTag="one")
    ecr.put_image(repositoryName=repo, imageManifest=two, imageTag="two")
    reply = ecr.batch_get_image(repositoryName=repo, imageIds=[
        {"imageTag": "one"},
        {"imageDigest": m.digest(two)},
        {"imageTag": "one", "imageDigest": m.digest(one)},
        {"imageTag": "missing"},
        {"imageTag": "one", "imageDigest": m.digest(two)},
        {"imageDigest": "not-a-digest"},
        {},
    ])
    assert [(i["imageId"], i["imageManifest"]) for i in reply["images"]] == [
        ({"imageDigest": m.digest(one), "imageTag": "one"}, one),
        ({"imageDigest": m.digest(two)}, two),
        ({"imageDigest": m.digest(one), "imageTag": "one"}, one),
    ]
    assert [f["failureCode"] for f in reply["failures"]] == [
        "ImageNotFound", "ImageTagDoesNotMatchDigest", "InvalidImageDigest", "MissingDigestAndTag"]
    assert reply["failures"][0]["failureReason"] == "Requested image not found"


def test_batch_get_image_honours_accepted_media_types(ecr, repo):
    ecr.put_image(repositoryName=repo, imageManifest=m.oci(), imageTag="oci")
    ok = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "oci"}],
                             acceptedMediaTypes=[m.OCI_MANIFEST, m.DOCKER_MANIFEST])
    assert ok["images"][0]["imageManifestMediaType"] == m.OCI_MANIFEST
    refused = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "oci"}],
                                  acceptedMediaTypes=[m.DOCKER_MANIFEST])
    assert refused["images"] == [] and refused["failures"][0]["failureCode"] == "ImageNotFound"


def test_batch_get_image_limits_ids_to_the_models_maximum(ecr, repo):
    with pytest.raises(ClientError) as exc:
        ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": f"t{i}"} for i in range(101)])
    code, message = error_of(exc)
    assert code == "InvalidParameterException" and "length less than or equal to 100" in message


def test_batch_delete_by_tag_keeps_an_image_that_has_other_tags(ecr, repo):
    manifest = m.docker()
    for tag in ("a", "b"):
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
    reply = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "a"}])
    assert reply["imageIds"] == [{"imageDigest": m.digest(manifest), "imageTag": "a"}]
    [detail] = details(ecr, repo)
    assert detail["imageTags"] == ["b"]
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "b"}])
    assert details(ecr, repo) == []


def test_batch_delete_by_digest_and_matching_tag_removes_the_image_with_every_tag(ecr, repo):
    manifest = m.docker()
    for tag in ("a", "b", "c"):
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
    reply = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": m.digest(manifest), "imageTag": "a"}])
    assert sorted(i["imageTag"] for i in reply["imageIds"]) == ["a", "b", "c"]
    assert {i["imageDigest"] for i in reply["imageIds"]} == {m.digest(manifest)} and reply["failures"] == []
    assert details(ecr, repo) == []


def test_batch_delete_by_digest_removes_the_image_with_every_tag(ecr, repo):
    manifest, untagged = m.docker("1"), m.docker("2")
    for tag in ("a", "b"):
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
    ecr.put_image(repositoryName=repo, imageManifest=untagged)
    reply = ecr.batch_delete_image(repositoryName=repo, imageIds=[
        {"imageDigest": m.digest(manifest)}, {"imageDigest": m.digest(untagged)}, {"imageTag": "a"}, {}])
    assert reply["imageIds"] == [{"imageDigest": m.digest(manifest), "imageTag": "a"},
                                 {"imageDigest": m.digest(manifest), "imageTag": "b"},
                                 {"imageDigest": m.digest(untagged)}]
    assert [f["failureCode"] for f in reply["failures"]] == ["ImageNotFound", "MissingDigestAndTag"]
    assert details(ecr, repo) == []
    with pytest.raises(ClientError) as exc:
        ecr.batch_get_image(repositoryName="absent", imageIds=[{"imageTag": "a"}])
    assert error_of(exc)[0] == "RepositoryNotFoundException"


def test_an_image_a_manifest_list_needs_cannot_be_deleted_until_the_list_is(ecr, repo):
    child = m.docker("child")
    ecr.put_image(repositoryName=repo, imageManifest=child, imageTag="child")
    parent = m.index([child], m.DOCKER_LIST, m.DOCKER_MANIFEST)
    ecr.put_image(repositoryName=repo, imageManifest=parent, imageTag="multi")
    reply = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": m.digest(child)}])
    assert reply["failures"][0]["failureCode"] == "ImageReferencedByManifestList"
    assert m.digest(parent) in reply["failures"][0]["failureReason"]
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "multi"}])
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": m.digest(child)}])
    assert details(ecr, repo) == []


def test_describe_images_by_id_and_image_not_found(ecr, repo):
    ecr.put_image(repositoryName=repo, imageManifest=m.docker(), imageTag="v1")
    [detail] = details(ecr, repo, imageIds=[{"imageTag": "v1"}, {"imageDigest": m.digest(m.docker())}])
    assert detail["imageTags"] == ["v1"]
    with pytest.raises(ClientError) as exc:
        details(ecr, repo, imageIds=[{"imageTag": "nope"}])
    code, message = error_of(exc)
    assert code == "ImageNotFoundException"
    assert message == ("The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within the "
                       "repository with name 'app' in the registry with id '123456789012'")
    with pytest.raises(ClientError) as exc:
        details(ecr, repo, imageIds=[{"imageTag": "v1"}], maxResults=5)
    assert error_of(exc)[0] == "InvalidParameterException"


def test_describe_images_tag_status_filter(ecr, repo):
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("t"), imageTag="t")
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("u"))
    digests = {status: [d["imageDigest"] for d in details(ecr, repo, filter={"tagStatus": status})]
               for status in ("TAGGED", "UNTAGGED", "ANY")}
    assert digests == {"TAGGED": [m.digest(m.docker("t"))], "UNTAGGED": [m.digest(m.docker("u"))],
                       "ANY": [m.digest(m.docker("t")), m.digest(m.docker("u"))]}


def test_describe_images_pages_cover_every_image_once_while_images_are_pushed(ecr, repo):
    for i in range(25):
        ecr.put_image(repositoryName=repo, imageManifest=m.docker(str(i)), imageTag=f"t{i}")
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 7, **({"nextToken": token} if token else {})}
        reply = ecr.describe_images(repositoryName=repo, **kwargs)
        assert len(reply["imageDetails"]) <= 7
        seen += [d["imageDigest"] for d in reply["imageDetails"]]
        pages += 1
        if pages == 2:
            ecr.put_image(repositoryName=repo, imageManifest=m.docker("late"), imageTag="late")
        token = reply.get("nextToken")
        if not token:
            break
    expected = [m.digest(m.docker(str(i))) for i in range(25)] + [m.digest(m.docker("late"))]
    assert seen == expected and pages == 4


def test_describe_images_refuses_a_token_it_did_not_issue(ecr, repo):
    with pytest.raises(ClientError) as exc:
        ecr.describe_images(repositoryName=repo, nextToken="garbage")
    assert error_of(exc)[0] == "InvalidParameterException"


def test_describe_images_default_page_is_100(ecr, repo):
    for i in range(101):
        ecr.put_image(repositoryName=repo, imageManifest=m.docker(str(i)))
    first = ecr.describe_images(repositoryName=repo)
    assert len(first["imageDetails"]) == 100 and first["nextToken"]
    rest = ecr.describe_images(repositoryName=repo, nextToken=first["nextToken"])
    assert len(rest["imageDetails"]) == 1 and "nextToken" not in rest


def test_list_images_gives_one_id_per_tag_and_pages_by_id(ecr, repo):
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("multi"), imageTag="a")
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("multi"), imageTag="b")
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("multi"), imageTag="c")
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("bare"))
    ecr.put_image(repositoryName=repo, imageManifest=m.docker("one"), imageTag="d")
    pages, token = [], None
    while True:
        reply = ecr.list_images(repositoryName=repo, maxResults=2, **({"nextToken": token} if token else {}))
        pages.append(reply["imageIds"])
        token = reply.get("nextToken")
        if not token:
            break
    multi, bare, one = (m.digest(m.docker(s)) for s in ("multi", "bare", "one"))
    assert pages == [[{"imageDigest": multi, "imageTag": "a"}, {"imageDigest": multi, "imageTag": "b"}],
                     [{"imageDigest": multi, "imageTag": "c"}, {"imageDigest": bare}],
                     [{"imageDigest": one, "imageTag": "d"}]]
    untagged = ecr.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert untagged == [{"imageDigest": bare}]


def test_images_are_invisible_from_other_accounts(ecr_emulator, ecr, repo):
    ecr.put_image(repositoryName=repo, imageManifest=m.docker(), imageTag="v1")
    other = ecr_emulator.server.client(access_key="210987654321")
    other.create_repository(repositoryName=repo)
    assert other.describe_images(repositoryName=repo)["imageDetails"] == []


def test_delete_repository_with_images_needs_force(ecr, repo):
    ecr.put_image(repositoryName=repo, imageManifest=m.docker(), imageTag="v1")
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository(repositoryName=repo)
    assert error_of(exc)[0] == "RepositoryNotEmptyException"
    ecr.delete_repository(repositoryName=repo, force=True)


def test_strict_layers_require_uploaded_blobs_and_referenced_images():
    with running_server("--strict-layers") as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="strict")
        manifest = m.docker("s")
        with pytest.raises(ClientError) as exc:
            ecr.put_image(repositoryName="strict", imageManifest=manifest, imageTag="v1")
        code, message = error_of(exc)
        assert code == "LayersNotFoundException" and m.digest("config-s") in message
        with pytest.raises(ClientError) as exc:
            ecr.put_image(repositoryName="strict", imageManifest=m.index([m.oci("absent")]))
        assert error_of(exc)[0] == "ReferencedImagesNotFoundException"
        assert ecr.describe_images(repositoryName="strict")["imageDetails"] == []


def test_strict_layers_accept_a_manifest_once_its_blobs_are_uploaded():
    import hashlib

    with running_server("--strict-layers") as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="strict")
        descriptors = []
        for content in (b'{"os":"linux"}', b"layer one", b"layer two"):
            upload = ecr.initiate_layer_upload(repositoryName="strict")["uploadId"]
            ecr.upload_layer_part(repositoryName="strict", uploadId=upload, partFirstByte=0,
                                  partLastByte=len(content) - 1, layerPartBlob=content)
            digest = "sha256:" + hashlib.sha256(content).hexdigest()
            ecr.complete_layer_upload(repositoryName="strict", uploadId=upload, layerDigests=[digest])
            descriptors.append({"digest": digest, "size": len(content)})
        config, *layers = descriptors
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": m.DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **d} for d in layers]})
        ecr.put_image(repositoryName="strict", imageManifest=manifest, imageTag="v1")
        [detail] = ecr.describe_images(repositoryName="strict")["imageDetails"]
        assert detail["imageTags"] == ["v1"] and detail["imageSizeInBytes"] == len(b"layer one") + len(b"layer two")
