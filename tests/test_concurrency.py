"""Many clients at once on shared repositories: puts, tag moves, deletes, reads and layer uploads over both APIs.

Eight threads run a seeded random mix of operations against three repositories. No reply may be a 5xx. Afterwards
the repositories must be self-consistent: every tag names exactly one image, paging returns every image and every
tag exactly once, ListImages, DescribeImages, BatchGetImage and /v2 tags/list agree, every manifest hashes to its
digest, no acknowledged blob is missing, and images that nothing could have deleted are all still there.

ECR_EMULATOR_CONCURRENCY_OPS sets the operations per thread (default 250 keeps CI short; the issue's figure is
1000); ECR_EMULATOR_CONCURRENCY_SEED changes the random mix.
"""

import base64
import hashlib
import json
import os
import random
import threading

import boto3
import botocore.config
from botocore.exceptions import ClientError

import sample_manifests as m
from registry_client import RegistryClient

THREADS = 8
OPS = int(os.environ.get("ECR_EMULATOR_CONCURRENCY_OPS", "250"))
SEED = int(os.environ.get("ECR_EMULATOR_CONCURRENCY_SEED", "6"))
REPOS = ["shared/a", "shared/b", "shared/c"]
TAGS = [f"t{i}" for i in range(6)]
# Manifests 0..3 each get a tag of their own ("pin-<i>") that no other manifest takes and nothing deletes, and no
# delete by digest targets them: once a pinned push is acknowledged, that image can never legitimately disappear.
PINNED = 4
MANIFESTS = [m.docker(f"pool-{i}") if i % 2 else m.oci(f"pool-{i}") for i in range(12)]
MEDIA_TYPES = [m.DOCKER_MANIFEST if i % 2 else m.OCI_MANIFEST for i in range(12)]
BLOBS = [f"blob-{i}-".encode() * (50 + 40 * i) for i in range(8)]

# Refusals a racing client can legitimately get; anything else 4xx is a failure, any 5xx always is.
EXPECTED = {"ImageAlreadyExistsException", "LayerAlreadyExistsException"}


def sha(data: bytes | str) -> str:
    return "sha256:" + hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def client(endpoint: str):
    """A client per thread, retries off so a 5xx or a dropped connection surfaces instead of being retried away."""
    return boto3.session.Session().client(
        "ecr", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=4))


class Worker:
    """One thread's clients, random stream and record of acknowledged results."""

    def __init__(self, index: int, endpoint: str, password: str):
        self.rng = random.Random(SEED * 1000 + index)
        self.ecr = client(endpoint)
        self.reg = RegistryClient(endpoint, password=password)
        self.pinned: set[tuple[str, int]] = set()
        self.blobs: set[tuple[str, str]] = set()
        self.counts: dict[str, int] = {}
        self.faults: list[str] = []

    def run(self) -> None:
        ops = [self.put_tagged, self.put_tagged, self.put_pinned, self.put_untagged, self.delete_by_tag,
               self.delete_by_digest, self.describe, self.list, self.get, self.layer_upload, self.v2_blob,
               self.v2_manifest, self.v2_pull, self.v2_delete]
        for _ in range(OPS):
            op = self.rng.choice(ops)
            repo = self.rng.choice(REPOS)
            try:
                op(repo)
            except ClientError as exc:
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                code = exc.response["Error"]["Code"]
                if status >= 500 or code not in EXPECTED:
                    self.faults.append(f"{op.__name__} on {repo}: {status} {code} {exc}")
            except Exception as exc:  # noqa: BLE001 - a dropped connection or a bad reply is a finding, not a crash
                self.faults.append(f"{op.__name__} on {repo}: {type(exc).__name__}: {exc}")
            self.counts[op.__name__] = self.counts.get(op.__name__, 0) + 1

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.faults.append(what)

    def put_tagged(self, repo: str) -> None:
        i = self.rng.randrange(PINNED, len(MANIFESTS))
        self.ecr.put_image(repositoryName=repo, imageManifest=MANIFESTS[i], imageTag=self.rng.choice(TAGS))

    def put_pinned(self, repo: str) -> None:
        i = self.rng.randrange(PINNED)
        try:
            self.ecr.put_image(repositoryName=repo, imageManifest=MANIFESTS[i], imageTag=f"pin-{i}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ImageAlreadyExistsException":
                raise
        self.pinned.add((repo, i))

    def put_untagged(self, repo: str) -> None:
        i = self.rng.randrange(len(MANIFESTS))
        reply = self.ecr.put_image(repositoryName=repo, imageManifest=MANIFESTS[i],
                                   imageManifestMediaType=MEDIA_TYPES[i])
        self.check(reply["image"]["imageId"]["imageDigest"] == sha(MANIFESTS[i]), f"PutImage digest {reply}")

    def delete_by_tag(self, repo: str) -> None:
        tags = self.rng.sample(TAGS, self.rng.randint(1, 2))
        reply = self.ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": t} for t in tags])
        for failure in reply["failures"]:
            self.check(failure["failureCode"] == "ImageNotFound", f"BatchDeleteImage failure {failure}")

    def delete_by_digest(self, repo: str) -> None:
        digest = sha(MANIFESTS[self.rng.randrange(PINNED, len(MANIFESTS))])
        reply = self.ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": digest}])
        for failure in reply["failures"]:
            self.check(failure["failureCode"] == "ImageNotFound", f"BatchDeleteImage failure {failure}")

    def describe(self, repo: str) -> None:
        kwargs = {"repositoryName": repo, "maxResults": self.rng.randint(1, 5)}
        for _ in range(4):
            page = self.ecr.describe_images(**kwargs)
            digests = [d["imageDigest"] for d in page["imageDetails"]]
            self.check(len(digests) == len(set(digests)) <= kwargs["maxResults"], f"DescribeImages page {digests}")
            if "nextToken" not in page:
                return
            kwargs["nextToken"] = page["nextToken"]

    def list(self, repo: str) -> None:
        page = self.ecr.list_images(repositoryName=repo, maxResults=self.rng.randint(1, 20))
        tags = [i["imageTag"] for i in page["imageIds"] if "imageTag" in i]
        self.check(len(tags) == len(set(tags)), f"ListImages page repeats a tag: {page['imageIds']}")

    def get(self, repo: str) -> None:
        ids = [{"imageTag": t} for t in self.rng.sample(TAGS, 3)]
        reply = self.ecr.batch_get_image(repositoryName=repo, imageIds=ids)
        for image in reply["images"]:
            self.check(sha(image["imageManifest"]) == image["imageId"]["imageDigest"],
                       f"BatchGetImage manifest does not hash to its digest: {image['imageId']}")
        for failure in reply["failures"]:
            self.check(failure["failureCode"] == "ImageNotFound", f"BatchGetImage failure {failure}")

    def layer_upload(self, repo: str) -> None:
        data = self.rng.choice(BLOBS)
        upload_id = self.ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
        last = self.ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=0,
                                          partLastByte=len(data) - 1, layerPartBlob=data)["lastByteReceived"]
        self.check(last == len(data) - 1, f"UploadLayerPart lastByteReceived {last} for {len(data)} bytes")
        try:
            reply = self.ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[sha(data)])
            self.check(reply["layerDigest"] == sha(data), f"CompleteLayerUpload {reply}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "LayerAlreadyExistsException":
                raise
        self.blobs.add((repo, sha(data)))

    def v2_blob(self, repo: str) -> None:
        data = self.rng.choice(BLOBS)
        if self.rng.random() < 0.5:
            self.blobs.add((repo, self.reg.push_blob(repo, data)))
            return
        status, headers, body = self.reg.request("POST", f"/v2/{repo}/blobs/uploads/")
        self.check(status == 202, f"POST upload {status} {body!r}")
        location = headers["Location"]
        half = len(data) // 2
        status, _, body = self.reg.request("PATCH", location, body=data[:half],
                                           headers={"Content-Range": f"0-{half - 1}"})
        self.check(status == 202, f"PATCH upload {status} {body!r}")
        status, _, body = self.reg.request("PUT", f"{location}?digest={sha(data)}", body=data[half:])
        self.check(status == 201, f"PUT upload {status} {body!r}")
        if status == 201:
            self.blobs.add((repo, sha(data)))

    def v2_manifest(self, repo: str) -> None:
        i = self.rng.randrange(PINNED, len(MANIFESTS))
        status, headers, body = self.reg.request("PUT", f"/v2/{repo}/manifests/{self.rng.choice(TAGS)}",
                                                 body=MANIFESTS[i].encode(),
                                                 headers={"Content-Type": MEDIA_TYPES[i]})
        self.check(status == 201 and headers["Docker-Content-Digest"] == sha(MANIFESTS[i]),
                   f"PUT manifest {status} {body!r}")

    def v2_pull(self, repo: str) -> None:
        status, headers, body = self.reg.request("GET", f"/v2/{repo}/manifests/{self.rng.choice(TAGS)}")
        if status == 200:
            self.check(sha(body) == headers["Docker-Content-Digest"], "GET manifest body does not hash to digest")
        else:
            self.check(status == 404 and json.loads(body)["errors"][0]["code"] == "MANIFEST_UNKNOWN",
                       f"GET manifest {status} {body!r}")

    def v2_delete(self, repo: str) -> None:
        status, _, body = self.reg.request("DELETE", f"/v2/{repo}/manifests/{self.rng.choice(TAGS)}")
        self.check(status == 202 or status == 404 and json.loads(body)["errors"][0]["code"] == "MANIFEST_UNKNOWN",
                   f"DELETE manifest {status} {body!r}")


def paged(call, key: str, **kwargs) -> list:
    items = []
    while True:
        page = call(**kwargs)
        items.extend(page[key])
        if "nextToken" not in page:
            return items
        kwargs["nextToken"] = page["nextToken"]


def assert_consistent(ecr, reg: RegistryClient, repo: str) -> None:
    """The invariants a quiescent repository holds however the storm interleaved."""
    details = paged(ecr.describe_images, "imageDetails", repositoryName=repo, maxResults=2)
    digests = [d["imageDigest"] for d in details]
    assert len(digests) == len(set(digests)), f"DescribeImages pages repeat an image in {repo}"
    described_tags = [(t, d["imageDigest"]) for d in details for t in d.get("imageTags", [])]
    tag_to_digest = dict(described_tags)
    assert len(tag_to_digest) == len(described_tags), f"a tag is on two images in {repo}: {described_tags}"

    ids = paged(ecr.list_images, "imageIds", repositoryName=repo, maxResults=3)
    listed = [(i["imageTag"], i["imageDigest"]) for i in ids if "imageTag" in i]
    assert len(dict(listed)) == len(listed), f"ListImages pages repeat a tag in {repo}"
    assert dict(listed) == tag_to_digest
    untagged = [i["imageDigest"] for i in ids if "imageTag" not in i]
    assert len(untagged) == len(set(untagged))
    assert set(untagged) | set(tag_to_digest.values()) == set(digests)
    assert not set(untagged) & set(tag_to_digest.values())

    if digests:
        reply = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageDigest": d} for d in digests])
        assert reply["failures"] == []
        for image in reply["images"]:
            assert sha(image["imageManifest"]) == image["imageId"]["imageDigest"]
    if tag_to_digest:
        reply = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": t} for t in tag_to_digest])
        assert reply["failures"] == []
        assert {i["imageId"]["imageTag"]: i["imageId"]["imageDigest"] for i in reply["images"]} == tag_to_digest

    status, _, body = reg.json("GET", f"/v2/{repo}/tags/list")
    assert status == 200 and body["tags"] == sorted(tag_to_digest)


def test_eight_threads_of_mixed_operations_leave_consistent_repositories(ecr_emulator, ecr):
    for repo in REPOS:
        ecr.create_repository(repositoryName=repo)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().partition(":")[2]
    workers = [Worker(i, ecr_emulator.endpoint, password) for i in range(THREADS)]
    threads = [threading.Thread(target=w.run) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    faults = [f for w in workers for f in w.faults]
    assert faults == [], f"{len(faults)} faults, first: {faults[:5]}"
    assert sum(sum(w.counts.values()) for w in workers) == THREADS * OPS

    reg = RegistryClient(ecr_emulator.endpoint, password=password)
    for repo in REPOS:
        assert_consistent(ecr, reg, repo)
    for repo, i in set().union(*(w.pinned for w in workers)):
        reply = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": f"pin-{i}"}])
        assert [img["imageId"]["imageDigest"] for img in reply["images"]] == [sha(MANIFESTS[i])], (repo, i)
    for repo, digest in set().union(*(w.blobs for w in workers)):
        status, _, body = reg.request("GET", f"/v2/{repo}/blobs/{digest}")
        assert status == 200 and sha(body) == digest
