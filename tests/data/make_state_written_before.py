"""Writes ``state_written_before/`` (a ``--state-dir``) and ``archive_written_before.tar`` (an export) with the
emulator on the import path, for ``test_state_compatibility.py``. Run it once from a checkout of an older release
(``PYTHONPATH=<old checkout> python tests/data/make_state_written_before.py``); the files it writes are committed so
that every later change must keep reading them."""

import hashlib
import json
import pathlib
import shutil
import sys
import tempfile
import urllib.request

import boto3

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent))

from ecr_emulator.testing import running_server  # noqa: E402
from sample_manifests import DOCKER_MANIFEST  # noqa: E402

HERE = pathlib.Path(__file__).parent
LAYER = b"layer bytes written before the move\n" * 8
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
LIFECYCLE = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                                       "countUnit": "days", "countNumber": 14},
                        "action": {"type": "expire"}}]}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _upload(ecr, repo: str, data: bytes) -> str:
    upload = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(repositoryName=repo, uploadId=upload, partFirstByte=0, partLastByte=len(data) - 1,
                          layerPartBlob=data)
    return ecr.complete_layer_upload(repositoryName=repo, uploadId=upload, layerDigests=[_digest(data)])["layerDigest"]


def _client(server):
    return boto3.client("ecr", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


def main() -> None:
    target = HERE / "state_written_before"
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory() as scratch:
        state = pathlib.Path(scratch) / "state"
        # The first run's changes reach the snapshot (a start compacts the journal); the second's stay in the journal.
        with running_server("--state-dir", str(state)) as server:
            ecr = _client(server)
            ecr.create_repository(repositoryName="team/app", imageTagMutability="IMMUTABLE",
                                  tags=[{"Key": "owner", "Value": "platform"}])
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(CONFIG),
                           "digest": _upload(ecr, "team/app", CONFIG)},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(LAYER),
                            "digest": _upload(ecr, "team/app", LAYER)}]})
            ecr.put_image(repositoryName="team/app", imageManifest=manifest, imageTag="v1")
        with running_server("--state-dir", str(state)) as server:
            ecr = _client(server)
            ecr.put_lifecycle_policy(repositoryName="team/app", lifecyclePolicyText=json.dumps(LIFECYCLE))
            ecr.create_repository(repositoryName="empty")
            with urllib.request.urlopen(server.endpoint + "/_emulator/export") as reply:
                (HERE / "archive_written_before.tar").write_bytes(reply.read())
        shutil.copytree(state, target, ignore=shutil.ignore_patterns("lock"))  # the running server's lock file
    for empty in sorted((p for p in target.rglob("*") if p.is_dir() and not any(p.iterdir())), reverse=True):
        empty.rmdir()  # git keeps no empty directories; the emulator makes them again
    print("\n".join(sorted(str(p.relative_to(HERE)) for p in target.rglob("*") if p.is_file())))


if __name__ == "__main__":
    main()
