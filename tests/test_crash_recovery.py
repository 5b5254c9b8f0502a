"""SIGKILL during a write storm, again and again on one state directory, and what must hold after each restart.

Each round starts the server on the same --state-dir, checks the state against a model built from acknowledged
writes only, runs a short storm of writes from several threads over both APIs, and kills the server with SIGKILL at
a random moment. The model is exact: each thread owns its repositories, so its acknowledged writes happen in the
order it sent them; the one request per thread in flight at the kill may or may not have landed, and either outcome
is accepted (and adopted) at the next check. A blob belongs to the repository it was pushed to: every acknowledged one
must be served through that repository while it exists, and every file in the blob store must hash to its name, so no
partial blob is ever visible.

ECR_EMULATOR_CRASH_ROUNDS sets the number of kills (default 20); ECR_EMULATOR_CRASH_SEED changes the storms.
"""

import base64
import contextlib
import copy
import hashlib
import os
import pathlib
import random
import subprocess
import sys
import threading
import time
import urllib.request

import boto3
import botocore.config
from botocore.exceptions import ClientError

import sample_manifests as m
from ecr_emulator.testing import EmulatorServer, free_port
from registry_client import RegistryClient

ROUNDS = int(os.environ.get("ECR_EMULATOR_CRASH_ROUNDS", "20"))
SEED = int(os.environ.get("ECR_EMULATOR_CRASH_SEED", "7"))
WRITERS = 4
TAGS = ["a", "b", "c", "d"]


def sha(data: bytes | str) -> str:
    return "sha256:" + hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@contextlib.contextmanager
def server_on(state_dir: pathlib.Path, log: pathlib.Path):
    """The emulator on ``state_dir`` with its log kept in a file, so recovery warnings can be read afterwards."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "ecr_emulator", "--host", "127.0.0.1", "--port", str(port),
                                    "--log-level", "WARNING", "--state-dir", str(state_dir)],
                                   stdout=subprocess.DEVNULL, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"the server exited with {process.returncode}: {log.read_text()}"
            try:
                with urllib.request.urlopen(endpoint + "/_emulator/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not become ready"
                time.sleep(0.05)
        yield EmulatorServer(endpoint, process)
    finally:
        process.kill()
        process.wait()


def ecr_client(endpoint: str):
    return boto3.session.Session().client(
        "ecr", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))


class Writer:
    """One thread's writes and the state they imply: repositories it owns, as {name: {digest: set of tags}}."""

    def __init__(self, index: int):
        self.index = index
        self.repos: dict[str, dict[str, set[str]]] = {}
        self.next_repo = 0
        # (repository, digest) of every acknowledged blob push.
        self.blobs: set[tuple[str, str]] = set()
        self.in_flight: tuple[str, dict | None] | None = None
        self.acknowledged = 0
        # (when, what): a reply cut short by the kill can look malformed, so only faults before the kill count.
        self.faults: list[tuple[float, str]] = []

    def storm(self, endpoint: str, password: str, rng: random.Random, stop: threading.Event) -> None:
        ecr = ecr_client(endpoint)
        reg = RegistryClient(endpoint, password=password)
        while not stop.is_set():
            try:
                self.step(ecr, reg, rng)
            except ClientError as exc:
                self.faults.append((time.monotonic(), f"writer {self.index}: "
                                    f"{exc.response['ResponseMetadata']['HTTPStatusCode']} {exc}"))
                return
            except (AssertionError, KeyError) as exc:
                self.faults.append((time.monotonic(), f"writer {self.index}: {type(exc).__name__}: {exc}"))
                return
            except Exception:  # noqa: BLE001 - the connection dropped: the server was killed mid-request
                return

    def step(self, ecr, reg: RegistryClient, rng: random.Random) -> None:
        """One write; the model changes only once the reply arrives, and ``in_flight`` covers the moment between."""
        if not self.repos or rng.random() < 0.04:
            name = f"w{self.index}/r{self.next_repo}"
            self.next_repo += 1
            self.begin(name, {})
            ecr.create_repository(repositoryName=name)
            return self.commit(name, {})
        name = rng.choice(sorted(self.repos))
        images = copy.deepcopy(self.repos[name])
        roll = rng.random()
        if roll < 0.03:
            self.begin(name, None)
            ecr.delete_repository(repositoryName=name, force=True)
            return self.commit(name, None)
        if roll < 0.45:
            manifest = m.docker(f"w{self.index}-{rng.randrange(6)}")
            tag = rng.choice(TAGS + [None])
            after = put(images, sha(manifest), tag)
            self.begin(name, after)
            if rng.random() < 0.5:
                headers = {"Content-Type": m.DOCKER_MANIFEST}
                status, _, body = reg.request("PUT", f"/v2/{name}/manifests/{tag or sha(manifest)}",
                                              body=manifest.encode(), headers=headers)
                assert status == 201, (status, body)
            else:
                try:
                    ecr.put_image(repositoryName=name, imageManifest=manifest, **({"imageTag": tag} if tag else {}))
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ImageAlreadyExistsException":
                        raise
            return self.commit(name, after)
        if roll < 0.65:
            tag = rng.choice(TAGS)
            after = untag(images, tag)
            self.begin(name, after)
            ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": tag}])
            return self.commit(name, after)
        if roll < 0.75 and images:
            digest = rng.choice(sorted(images))
            after = {d: t for d, t in images.items() if d != digest}
            self.begin(name, after)
            reply = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": digest}])
            assert reply.get("failures") == [], reply
            return self.commit(name, after)
        data = f"blob {self.index} {rng.getrandbits(64)} ".encode() * rng.randint(1, 3000)
        self.in_flight = None
        if roll < 0.88:
            self.blobs.add((name, reg.push_blob(name, data)))
        else:
            upload_id = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
            ecr.upload_layer_part(repositoryName=name, uploadId=upload_id, partFirstByte=0,
                                  partLastByte=len(data) - 1, layerPartBlob=data)
            ecr.complete_layer_upload(repositoryName=name, uploadId=upload_id, layerDigests=[sha(data)])
            self.blobs.add((name, sha(data)))
        self.acknowledged += 1

    def begin(self, name: str, after: dict | None) -> None:
        self.in_flight = (name, after)

    def commit(self, name: str, after: dict | None) -> None:
        if after is None:
            self.repos.pop(name, None)
        else:
            self.repos[name] = after
        self.in_flight = None
        self.acknowledged += 1


def put(images: dict[str, set[str]], digest: str, tag: str | None) -> dict[str, set[str]]:
    """PutImage's effect: the image exists, and ``tag`` (moved from any other image) is on it."""
    after = {d: {t for t in tags if t != tag} for d, tags in images.items()}
    after.setdefault(digest, set())
    if tag:
        after[digest].add(tag)
    return after


def untag(images: dict[str, set[str]], tag: str) -> dict[str, set[str]]:
    """BatchDeleteImage by tag: the tag goes, and so does its image when that was its last tag."""
    after = {}
    for digest, tags in images.items():
        if tag in tags and tags == {tag}:
            continue
        after[digest] = tags - {tag}
    return after


def observed(ecr, prefix: str) -> dict[str, dict[str, set[str]]]:
    names = [r["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate()
             for r in p["repositories"] if r["repositoryName"].startswith(prefix)]
    state = {}
    for name in names:
        details = [d for p in ecr.get_paginator("describe_images").paginate(repositoryName=name)
                   for d in p["imageDetails"]]
        state[name] = {d["imageDigest"]: set(d.get("imageTags", [])) for d in details}
    return state


def check_and_adopt(ecr, writer: Writer) -> None:
    """The server holds exactly what the writer's acknowledged writes imply, give or take its in-flight write,
    whose outcome then becomes part of the model."""
    actual = observed(ecr, f"w{writer.index}/")
    expected = dict(writer.repos)
    if writer.in_flight is not None:
        name, after = writer.in_flight
        if actual.get(name) == after or (after is None and name not in actual):
            if after is None:
                expected.pop(name, None)
            else:
                expected[name] = after
    assert actual == expected, f"writer {writer.index}: acknowledged state differs after restart"
    writer.repos = actual
    writer.in_flight = None
    writer.blobs = {(name, digest) for name, digest in writer.blobs if name in actual}


def check_blobs(state_dir: pathlib.Path, reg: RegistryClient, blobs: set[tuple[str, str]]) -> int:
    """No file in the blob store holds anything but the bytes its name promises; acknowledged blobs are served by
    their repositories."""
    files = [p for p in (state_dir / "blobs").glob("*/*/sha256/*/*")]
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, f"corrupt blob file {path}"
    for repo, digest in blobs:
        status, _, body = reg.request("GET", f"/v2/{repo}/blobs/{digest}")
        assert status == 200 and sha(body) == digest, f"acknowledged blob {digest} is {status}"
    return len(files)


def test_sigkill_during_write_storms_never_loses_an_acknowledged_write(tmp_path):
    state_dir = tmp_path / "state"
    log = tmp_path / "server.log"
    rng = random.Random(SEED)
    writers = [Writer(i) for i in range(WRITERS)]
    kills = 0
    for round_ in range(ROUNDS + 1):
        with server_on(state_dir, log) as server:
            ecr = ecr_client(server.endpoint)
            for writer in writers:
                check_and_adopt(ecr, writer)
            token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
            password = base64.b64decode(token).decode().partition(":")[2]
            reg = RegistryClient(server.endpoint, password=password)
            check_blobs(state_dir, reg, set().union(*(w.blobs for w in writers)))
            if round_ == ROUNDS:
                break
            stop = threading.Event()
            threads = [threading.Thread(target=w.storm, args=(server.endpoint, password,
                                                              random.Random(rng.getrandbits(32)), stop))
                       for w in writers]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.2, 1.2))
            killed_at = time.monotonic()
            server.process.kill()
            server.process.wait()
            kills += 1
            stop.set()
            for t in threads:
                t.join()
        assert [f for w in writers for when, f in w.faults if when < killed_at] == []
        for w in writers:
            w.faults.clear()
    text = log.read_text()
    assert "Traceback" not in text and "replaying" not in text, text[-3000:]
    assert kills == ROUNDS
    assert sum(w.acknowledged for w in writers) > ROUNDS * 10
