"""UpdateImageStorageClass through boto3: archiving, the clock-driven restore through ACTIVATING, re-push restores,
and what archived images look like to DescribeImages, ListImages and BatchGetImage."""

import pytest
from botocore.exceptions import ClientError

import sample_manifests as sm
from ecr_emulator.models import storage
from helpers import error_of, push

ACCOUNT = "123456789012"


def detail(ecr, digest: str, repo: str = "app") -> dict:
    return ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": digest}])["imageDetails"][0]


def update(ecr, target: str, **image_id) -> dict:
    return ecr.update_image_storage_class(repositoryName="app", imageId=image_id, targetStorageClass=target)


def pull(ecr, digest: str) -> dict:
    return ecr.batch_get_image(repositoryName="app", imageIds=[{"imageDigest": digest}])


def test_archive_then_restore_through_activating(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("a"), "v1")
    archived = update(ecr, "ARCHIVE", imageTag="v1")
    assert {k: v for k, v in archived.items() if k != "ResponseMetadata"} == {
        "registryId": ACCOUNT, "repositoryName": "app", "imageId": {"imageDigest": digest, "imageTag": "v1"},
        "imageStatus": "ARCHIVED"}
    shown = detail(ecr, digest)
    assert shown["imageStatus"] == "ARCHIVED" and "lastArchivedAt" in shown and "lastActivatedAt" not in shown
    failure = pull(ecr, digest)["failures"][0]
    assert failure["failureCode"] == "ImageInaccessible"

    assert update(ecr, "STANDARD", imageDigest=digest)["imageStatus"] == "ACTIVATING"
    assert detail(ecr, digest)["imageStatus"] == "ACTIVATING"
    assert pull(ecr, digest)["failures"][0]["failureCode"] == "ImageInaccessible"
    listed = ecr.list_images(repositoryName="app", filter={"imageStatus": "ACTIVATING"})["imageIds"]
    assert listed == [{"imageDigest": digest, "imageTag": "v1"}]

    ecr_emulator.admin("/_emulator/clock", {"advance": storage.RESTORE_SECONDS})
    shown = detail(ecr, digest)
    assert shown["imageStatus"] == "ACTIVE" and "lastArchivedAt" not in shown
    assert shown["lastActivatedAt"] > shown["imagePushedAt"]
    got = pull(ecr, digest)
    assert got["failures"] == [] and got["images"][0]["imageId"]["imageDigest"] == digest


def test_status_filters(ecr, repo):
    active = push(ecr, sm.docker("f1"))
    archived = push(ecr, sm.docker("f2"))
    update(ecr, "ARCHIVE", imageDigest=archived)
    digests = lambda status: [d["imageDigest"] for d in ecr.describe_images(  # noqa: E731
        repositoryName="app", filter={"imageStatus": status})["imageDetails"]]
    assert digests("ACTIVE") == [active]
    assert digests("ARCHIVED") == [archived]
    assert sorted(digests("ANY")) == sorted([active, archived])
    assert [d["imageDigest"] for d in ecr.describe_images(repositoryName="app")["imageDetails"]] == [active]


def test_repush_restores_at_once_and_rescans(ecr, ecr_emulator):
    ecr.create_repository(repositoryName="app", imageScanningConfiguration={"scanOnPush": True})
    manifest = sm.docker("rp")
    digest = push(ecr, manifest, "v1")
    update(ecr, "ARCHIVE", imageDigest=digest)
    assert detail(ecr, digest)["imageScanStatus"]["status"] == "IMAGE_ARCHIVED"
    push(ecr, manifest)
    shown = detail(ecr, digest)
    assert shown["imageStatus"] == "ACTIVE" and "lastActivatedAt" in shown
    assert shown["imageScanStatus"] == {"status": "COMPLETE", "description": "The scan was completed successfully."}
    assert pull(ecr, digest)["failures"] == []
    update(ecr, "ARCHIVE", imageDigest=digest)
    push(ecr, manifest, "v1")
    assert detail(ecr, digest)["imageStatus"] == "ACTIVE"


def test_restore_drops_old_scan_and_rescans_on_completion(ecr, ecr_emulator):
    ecr.create_repository(repositoryName="app", imageScanningConfiguration={"scanOnPush": True})
    digest = push(ecr, sm.docker("rs"))
    update(ecr, "ARCHIVE", imageDigest=digest)
    update(ecr, "STANDARD", imageDigest=digest)
    ecr_emulator.admin("/_emulator/clock", {"advance": storage.RESTORE_SECONDS})
    shown = detail(ecr, digest)
    assert shown["imageScanStatus"]["status"] == "COMPLETE"
    assert shown["imageScanFindingsSummary"]["imageScanCompletedAt"] == shown["lastActivatedAt"]


@pytest.mark.parametrize("steps,target,why", [
    ((), "STANDARD", "it is already in the STANDARD storage class"),
    (("ARCHIVE",), "ARCHIVE", "it is already archived"),
    (("ARCHIVE", "STANDARD"), "ARCHIVE", "it is being restored from archive"),
    (("ARCHIVE", "STANDARD"), "STANDARD", "it is already being restored from archive"),
])
def test_unsupported_transitions(ecr, repo, steps, target, why):
    digest = push(ecr, sm.docker("u"))
    for step in steps:
        update(ecr, step, imageDigest=digest)
    with pytest.raises(ClientError) as exc:
        update(ecr, target, imageDigest=digest)
    code, message = error_of(exc)
    assert code == "ImageStorageClassUpdateNotSupportedException"
    assert message == (f"The storage class of the image with digest '{digest}' in the repository with name 'app' "
                       f"in the registry with id '{ACCOUNT}' cannot be updated because {why}")


def test_errors(ecr, repo):
    push(ecr, sm.docker("e"), "v1")
    with pytest.raises(ClientError) as exc:
        update(ecr, "ARCHIVE", imageTag="missing")
    assert error_of(exc)[0] == "ImageNotFoundException"
    with pytest.raises(ClientError) as exc:
        update(ecr, "ARCHIVE")
    assert error_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecr.update_image_storage_class(repositoryName="absent", imageId={"imageTag": "v1"},
                                       targetStorageClass="ARCHIVE")
    assert error_of(exc)[0] == "RepositoryNotFoundException"
    with pytest.raises(ClientError) as exc:
        update(ecr, "GLACIER", imageTag="v1")
    assert error_of(exc)[0] == "InvalidParameterException"


def test_deleting_an_activating_image(ecr, ecr_emulator, repo):
    digest = push(ecr, sm.docker("d"))
    update(ecr, "ARCHIVE", imageDigest=digest)
    update(ecr, "STANDARD", imageDigest=digest)
    ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": digest}])
    push(ecr, sm.docker("d"))
    ecr_emulator.admin("/_emulator/clock", {"advance": storage.RESTORE_SECONDS})
    shown = detail(ecr, digest)
    assert shown["imageStatus"] == "ACTIVE" and "lastActivatedAt" not in shown
