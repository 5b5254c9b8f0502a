"""ListImageReferrers through boto3, and the shared ``models.referrers.referrers`` the /v2 API reuses."""

import json

import pytest
from botocore.exceptions import ClientError

import sample_manifests as sm
from ecr_emulator.models import referrers
from ecr_emulator.models.images import Image
from ecr_emulator.models.repository import Repository
from helpers import error_of, push

SBOM = "application/spdx+json"
SIG = "application/vnd.cncf.notary.signature"


def annotated(manifest: str, annotations: dict) -> str:
    doc = json.loads(manifest)
    doc["annotations"] = annotations
    return json.dumps(doc)


def listed(ecr, subject: str, **kwargs) -> list[dict]:
    return ecr.list_image_referrers(repositoryName="app", subjectId={"imageDigest": subject}, **kwargs)["referrers"]


def test_lists_referrers_with_their_descriptors(ecr, repo):
    subject = push(ecr, sm.oci("s"), "v1")
    sbom_manifest = annotated(sm.oci("sbom", artifact_type=SBOM, subject=subject),
                              {"org.opencontainers.image.created": "2025-01-01T00:00:00Z"})
    sbom = push(ecr, sbom_manifest)
    sig_manifest = sm.oci("sig", config_type=SIG, subject=subject)
    sig = push(ecr, sig_manifest)
    push(ecr, sm.oci("unrelated"))
    assert listed(ecr, subject) == [
        {"digest": sbom, "mediaType": sm.OCI_MANIFEST, "artifactType": SBOM, "size": len(sbom_manifest),
         "annotations": {"org.opencontainers.image.created": "2025-01-01T00:00:00Z"}, "artifactStatus": "ACTIVE"},
        {"digest": sig, "mediaType": sm.OCI_MANIFEST, "artifactType": SIG, "size": len(sig_manifest),
         "artifactStatus": "ACTIVE"}]
    assert [r["digest"] for r in listed(ecr, subject, filter={"artifactTypes": [SIG]})] == [sig]
    assert [r["digest"] for r in listed(ecr, subject, filter={"artifactTypes": [SIG, SBOM]})] == [sbom, sig]
    assert listed(ecr, subject, filter={"artifactTypes": ["application/other"]}) == []


def test_subject_without_referrers_or_absent(ecr, repo):
    subject = push(ecr, sm.oci("s"))
    assert listed(ecr, subject) == []
    assert listed(ecr, sm.digest("nothing")) == []


def test_referrers_may_arrive_before_their_subject(ecr, repo):
    subject = sm.digest(sm.oci("later"))
    sbom = push(ecr, sm.oci("early", artifact_type=SBOM, subject=subject))
    assert [r["digest"] for r in listed(ecr, subject)] == [sbom]


def test_paging(ecr, repo):
    subject = push(ecr, sm.oci("s"))
    pushed = [push(ecr, sm.oci(f"r{i}", artifact_type=SBOM, subject=subject)) for i in range(7)]
    seen, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = ecr.list_image_referrers(repositoryName="app", subjectId={"imageDigest": subject}, maxResults=3,
                                        **kwargs)
        assert len(page["referrers"]) <= 3
        seen += [r["digest"] for r in page["referrers"]]
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == pushed
    first = ecr.list_image_referrers(repositoryName="app", subjectId={"imageDigest": subject}, maxResults=7)
    assert "nextToken" not in first


def test_status_filter(ecr, repo):
    subject = push(ecr, sm.oci("s"))
    active = push(ecr, sm.oci("a", artifact_type=SBOM, subject=subject))
    archived = push(ecr, sm.oci("b", artifact_type=SBOM, subject=subject))
    ecr.update_image_storage_class(repositoryName="app", imageId={"imageDigest": archived},
                                   targetStorageClass="ARCHIVE")
    assert [r["digest"] for r in listed(ecr, subject)] == [active]
    assert [(r["digest"], r["artifactStatus"]) for r in listed(ecr, subject, filter={"artifactStatus": "ARCHIVED"})] \
        == [(archived, "ARCHIVED")]
    assert [r["digest"] for r in listed(ecr, subject, filter={"artifactStatus": "ANY"})] == [active, archived]
    ecr.update_image_storage_class(repositoryName="app", imageId={"imageDigest": archived},
                                   targetStorageClass="STANDARD")
    assert [r["digest"] for r in listed(ecr, subject, filter={"artifactStatus": "ACTIVATING"})] == [archived]


def test_deleted_referrers_disappear(ecr, repo):
    subject = push(ecr, sm.oci("s"))
    sbom = push(ecr, sm.oci("d", artifact_type=SBOM, subject=subject))
    ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": sbom}])
    assert listed(ecr, subject) == []


def test_errors(ecr, repo):
    with pytest.raises(ClientError) as exc:
        ecr.list_image_referrers(repositoryName="absent", subjectId={"imageDigest": sm.digest("x")})
    assert error_of(exc)[0] == "RepositoryNotFoundException"
    with pytest.raises(ClientError) as exc:
        ecr.list_image_referrers(repositoryName="app", subjectId={"imageDigest": "not a digest"})
    assert error_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecr.list_image_referrers(repositoryName="app", subjectId={"imageDigest": sm.digest("x")}, nextToken="bad")
    assert error_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecr.list_image_referrers(repositoryName="app", subjectId={"imageDigest": sm.digest("x")}, maxResults=51)
    assert error_of(exc)[0] == "InvalidParameterException"


def test_pure_referrers_function():
    repo = Repository("123456789012", "us-east-1", "app", 0.0)
    subject = sm.digest("subject")
    made = []
    for i, kind in enumerate([SBOM, SIG, SBOM]):
        image = Image(sm.digest(f"ref-{i}"), b"{}", sm.OCI_MANIFEST, 0.0, 0)
        image.subject, image.artifact_media_type = subject, kind
        repo.images.add(image)
        made.append(image)
    assert referrers.referrers(repo, subject) == made
    assert referrers.referrers(repo, subject, SBOM) == [made[0], made[2]]
    assert referrers.referrers(repo, subject, [SIG]) == [made[1]]
    assert referrers.referrers(repo, sm.digest("other")) == []
