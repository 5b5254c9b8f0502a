#!/usr/bin/env python3
"""In-process mode against moto: the same mixed boto3 ECR workload (repository, policy and lifecycle calls, puts,
describes, lists, batch gets and deletes) under ``mock_ecr`` and under moto's ``mock_aws`` in one run, alternating
which goes first each round; prints wall time per call for each (median over rounds) and their ratio. Then the time
from import to the first answered call, each in a fresh process (median over rounds): from ``from ecr_emulator import
mock_ecr`` (or ``from moto import mock_aws``) with boto3 already imported, as in a test suite, and from a bare
interpreter including boto3's import.

usage: python benchmarks/in_process.py [--rounds 5 --repos 10 --images 30 --startup-rounds 7]
needs: pip install -e '.[bench]' (moto)
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

import boto3
import botocore.config

LIFECYCLE = json.dumps({"rules": [{"rulePriority": 1, "description": "keep 5", "selection": {
    "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "pull", "Effect": "Allow",
                                                             "Principal": {"AWS": "*"},
                                                             "Action": ["ecr:BatchGetImage"]}]})


def manifest(seed: str) -> str:
    def digest(kind):
        return "sha256:" + hashlib.sha256(f"{kind}-{seed}".encode()).hexdigest()
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": digest("config")},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                    "digest": digest("layer")}]})


def client():
    return boto3.client("ecr", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def workload(ecr, repos: int, images: int) -> int:
    """The calls; returns how many were made."""
    calls = 0
    for r in range(repos):
        name = f"bench/repo{r}"
        ecr.create_repository(repositoryName=name)
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=LIFECYCLE)
        ecr.set_repository_policy(repositoryName=name, policyText=POLICY)
        ecr.get_repository_policy(repositoryName=name)
        calls += 4
        for i in range(images):
            ecr.put_image(repositoryName=name, imageManifest=manifest(f"{r}-{i}"), imageTag=f"v{i}")
            calls += 1
        for _ in ecr.get_paginator("describe_images").paginate(repositoryName=name,
                                                               PaginationConfig={"PageSize": 10}):
            calls += 1
        ecr.list_images(repositoryName=name)
        ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": f"v{i}"} for i in range(images)])
        ecr.describe_repositories(repositoryNames=[name])
        ecr.get_lifecycle_policy(repositoryName=name)
        ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": f"v{i}"} for i in range(0, images, 2)])
        calls += 5
    ecr.describe_repositories()
    for r in range(repos):
        ecr.delete_repository(repositoryName=f"bench/repo{r}", force=True)
    return calls + 1 + repos


def timed(mock, repos: int, images: int) -> tuple[float, float]:
    """(wall, CPU) seconds per call; the client is made inside the mock (as a test would) but outside the timing.
    Everything runs in this process, so its CPU time is the whole cost, and is less disturbed by a busy machine."""
    with mock:
        workload(client(), 1, 2)  # warm: first call of each kind
    with mock:
        ecr = client()
        started, cpu = time.perf_counter(), time.process_time()
        calls = workload(ecr, repos, images)
        return (time.perf_counter() - started) / calls, (time.process_time() - cpu) / calls


STARTUP = {
    "ecr-emulator": ("from ecr_emulator import mock_ecr as mock", "mock()"),
    "moto": ("from moto import mock_aws as mock", "mock()"),
}
STARTUP_SCRIPT = """
import time
{pre}
t0, c0 = time.perf_counter(), time.process_time()
import boto3
t1, c1 = time.perf_counter(), time.process_time()
{imp}
with {make}:
    boto3.client("ecr", region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").describe_repositories()
t2, c2 = time.perf_counter(), time.process_time()
print(t2 - t1, c2 - c1, t2 - t0, c2 - c0)
"""


def startup(name: str, rounds: int, boto3_first: bool) -> tuple[float, float]:
    """Median (wall, CPU) seconds. Run as an installed package is: with compiled bytecode (one untimed run first
    writes it, whatever PYTHONDONTWRITEBYTECODE says)."""
    imp, make = STARTUP[name]
    pre = "import boto3" if boto3_first else ""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls, cpus = [], []
    for n in range(rounds + 1):
        out = subprocess.run([sys.executable, "-c", STARTUP_SCRIPT.format(pre=pre, imp=imp, make=make)],
                             capture_output=True, text=True, check=True, env=env).stdout.split()
        if n:
            wall, cpu = (out[0], out[1]) if boto3_first else (out[2], out[3])
            walls.append(float(wall))
            cpus.append(float(cpu))
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repos", type=int, default=10)
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--startup-rounds", type=int, default=7)
    args = parser.parse_args()
    try:
        from moto import mock_aws
    except ImportError:
        raise SystemExit("moto is not installed: pip install -e '.[bench]'") from None
    from ecr_emulator import mock_ecr

    results = {"mock_ecr": [], "mock_aws": []}
    for n in range(args.rounds):
        order = [("mock_ecr", mock_ecr), ("mock_aws", mock_aws)]
        for name, make in order if n % 2 == 0 else order[::-1]:
            results[name].append(timed(make(), args.repos, args.images))
    print(f"per call, mixed workload ({args.repos} repositories x {args.images} images, median of {args.rounds} "
          f"rounds):")
    medians = {}
    for name, rounds in results.items():
        walls, cpus = [r[0] * 1e6 for r in rounds], [r[1] * 1e6 for r in rounds]
        medians[name] = statistics.median(walls), statistics.median(cpus)
        print(f"  {name}  {medians[name][0]:7.0f} us wall ({min(walls):.0f}-{max(walls):.0f}), "
              f"{medians[name][1]:7.0f} us CPU ({min(cpus):.0f}-{max(cpus):.0f})")
    print(f"  ratio mock_ecr / mock_aws: {medians['mock_ecr'][0] / medians['mock_aws'][0]:.2f}x wall, "
          f"{medians['mock_ecr'][1] / medians['mock_aws'][1]:.2f}x CPU")
    for boto3_first, what in ((True, "import of the mock to first answered call, boto3 already imported"),
                              (False, "bare interpreter (boto3's import included) to first answered call")):
        print(f"{what}, median of {args.startup_rounds}:")
        for name in STARTUP:
            wall, cpu = startup(name, args.startup_rounds, boto3_first)
            print(f"  {name:13s} {wall:.3f} s wall, {cpu:.3f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
