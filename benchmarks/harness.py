"""Drive ECR servers started by command with one boto3 workload and measure what each server spends.

A server is named by a command line holding ``{port}``. The harness starts it in a process group of its own on a
free local port, waits until DescribeRepositories answers, runs a mixed control-plane workload from several client
threads, then a scale phase on one large repository, and stops the group. CPU is the server's own (user + system time
of every thread and of any child process, read from ``/proc``), so botocore's work in the client, which any server
would pay too, is left out of the comparison. Linux only, since it reads ``/proc``.
"""

import argparse
import dataclasses
import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import botocore.config

LIFECYCLE_POLICY = json.dumps({"rules": [{
    "rulePriority": 1, "description": "expire all but the newest 5",
    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
    "action": {"type": "expire"}}]})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The workload's size, the same flags for every benchmark built on this harness."""
    parser.add_argument("--threads", type=int, default=4, help="client threads running the mixed workload")
    parser.add_argument("--repos", type=int, default=5, help="repositories each thread works through")
    parser.add_argument("--images", type=int, default=40, help="images pushed to each repository")
    parser.add_argument("--scale", type=int, default=2000, help="images in the one large repository")
    parser.add_argument("--json", action="store_true", help="also print the measurements as JSON")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_digest(*parts) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def image_manifest(owner: str, number: int) -> str:
    """A distinct Docker v2 manifest per (owner, number); the blobs it names are never pushed."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                   "digest": fake_digest("config", owner, number)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2_800_000 + number,
                    "digest": fake_digest("layer", owner, number)}],
    })


def ecr_client(endpoint: str):
    return boto3.client("ecr", region_name="us-east-1", endpoint_url=endpoint,
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}, max_pool_connections=16))


class CountingClient:
    """An ECR client that counts the HTTP requests it makes (a paginated call is one request per page)."""

    def __init__(self, endpoint: str):
        self.client = ecr_client(endpoint)
        self.requests = 0

    def call(self, operation: str, **params) -> dict:
        self.requests += 1
        return getattr(self.client, operation)(**params)

    def describe_all_images(self, repository: str, page_size: int) -> int:
        """Page through every image of a repository; returns how many images were listed."""
        listed, token = 0, None
        while True:
            params = {"repositoryName": repository, "maxResults": page_size}
            if token:
                params["nextToken"] = token
            page = self.call("describe_images", **params)
            listed += len(page["imageDetails"])
            token = page.get("nextToken")
            if not token:
                return listed


def mixed_workload(client: CountingClient, thread: int, repos: int, images: int) -> None:
    """What a CI job does to ECR: create, configure, push, read back in the usual ways, clean up."""
    for r in range(repos):
        name = f"bench/thread{thread}/repo{r}"
        owner = f"{thread}.{r}"
        client.call("create_repository", repositoryName=name)
        client.call("put_lifecycle_policy", repositoryName=name, lifecyclePolicyText=LIFECYCLE_POLICY)
        for i in range(images):
            client.call("put_image", repositoryName=name, imageTag=f"build-{i}", imageManifest=image_manifest(owner, i))
        client.describe_all_images(name, page_size=100)
        client.call("batch_get_image", repositoryName=name,
                    imageIds=[{"imageTag": f"build-{i}"} for i in range(min(images, 100))])
        client.call("list_images", repositoryName=name)
        client.call("get_authorization_token")
        client.call("describe_repositories", repositoryNames=[name])
        client.call("batch_delete_image", repositoryName=name,
                    imageIds=[{"imageTag": f"build-{i}"} for i in range(0, images, 2)])
        client.call("delete_repository", repositoryName=name, force=True)


@dataclasses.dataclass
class Measurement:
    name: str
    ready_s: float
    requests: int
    wall_s: float
    cpu_us_per_request: float
    scale_images: int
    scale_put_s: float
    scale_scan_s: float
    scale_lookup_ms: float
    rss_mib: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.wall_s


class ServerProcess:
    """A server started from a command line, in its own process group so that stopping it stops all of it."""

    def __init__(self, command: str, port: int):
        # A file, not a pipe: a server that logs each request would block once a pipe nobody reads is full.
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(shlex.split(command.format(port=port)), stdout=subprocess.DEVNULL,
                                        stderr=self.errors, start_new_session=True)

    def _tree(self) -> list[int]:
        pids, pending = [], [self.process.pid]
        while pending:
            pid = pending.pop()
            pids.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as children:
                        pending.extend(int(child) for child in children.read().split())
            except OSError:
                continue
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its descendants (children it has reaped included)."""
        ticks = 0
        for pid in self._tree():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        kib = 0
        for pid in self._tree():
            try:
                with open(f"/proc/{pid}/status") as status:
                    kib += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            except OSError:
                continue
        return kib / 1024

    def wait_ready(self, endpoint: str, timeout: float = 60.0) -> float:
        started = time.perf_counter()
        client = ecr_client(endpoint)
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                self.errors.seek(0)
                error = self.errors.read().decode(errors="replace").strip().splitlines()
                raise SystemExit(f"the server exited with {self.process.returncode}: {error[-1] if error else ''}")
            try:
                client.describe_repositories()
                return time.perf_counter() - started
            except Exception:
                time.sleep(0.02)
        raise SystemExit(f"the server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.errors.close()


def run_threads(endpoint: str, args) -> int:
    clients = [CountingClient(endpoint) for _ in range(args.threads)]
    failures = []

    def work(thread: int) -> None:
        try:
            mixed_workload(clients[thread], thread, args.repos, args.images)
        except Exception as error:  # reported after the join, so one broken server does not hang the run
            failures.append(f"thread {thread}: {error}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit("the workload failed: " + "; ".join(failures))
    return sum(client.requests for client in clients)


def measure(name: str, command: str, args) -> Measurement:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ServerProcess(command, port)
    try:
        ready = server.wait_ready(endpoint)
        cpu_before, started = server.cpu_seconds(), time.perf_counter()
        requests = run_threads(endpoint, args)
        wall = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu_before

        client = CountingClient(endpoint)
        client.call("create_repository", repositoryName="bench/large")
        started = time.perf_counter()
        for i in range(args.scale):
            client.call("put_image", repositoryName="bench/large", imageTag=f"t{i}",
                        imageManifest=image_manifest("large", i))
        put_s = time.perf_counter() - started
        started = time.perf_counter()
        client.describe_all_images("bench/large", page_size=1000)
        scan_s = time.perf_counter() - started
        lookups = 20
        started = time.perf_counter()
        for _ in range(lookups):
            client.call("describe_images", repositoryName="bench/large", imageIds=[{"imageTag": f"t{args.scale - 1}"}])
        lookup_ms = (time.perf_counter() - started) / lookups * 1000
        return Measurement(name, ready, requests, wall, cpu / requests * 1e6, args.scale, put_s, scan_s, lookup_ms,
                           server.rss_mib())
    finally:
        server.stop()


def run(servers: list[tuple[str, str]], ratios: list[tuple[str, str]], args) -> int:
    """Measure each (name, command) in turn, print one line each, then the ratios asked for as (name, against)."""
    print(f"{args.threads} threads x {args.repos} repositories x {args.images} images; "
          f"scale phase {args.scale} images; load average {os.getloadavg()[0]:.2f}", flush=True)
    results = {}
    for name, command in servers:
        m = results[name] = measure(name, command, args)
        print(f"{name:>10}: ready {m.ready_s:.2f} s  {m.requests} requests in {m.wall_s:.2f} s "
              f"= {m.requests_per_s:.0f}/s  server CPU {m.cpu_us_per_request:.0f} us/request  "
              f"scale: {m.scale_images} puts in {m.scale_put_s:.2f} s, full scan {m.scale_scan_s * 1000:.0f} ms, "
              f"one-tag lookup {m.scale_lookup_ms:.2f} ms  RSS {m.rss_mib:.0f} MiB", flush=True)
    for name, against in ratios:
        if name in results and against in results:
            m, base = results[name], results[against]
            print(f"{name} / {against}: server CPU per request x{m.cpu_us_per_request / base.cpu_us_per_request:.2f}"
                  f"  requests/s x{m.requests_per_s / base.requests_per_s:.2f}"
                  f"  one-tag lookup x{m.scale_lookup_ms / base.scale_lookup_ms:.2f}"
                  f"  RSS x{m.rss_mib / base.rss_mib:.2f}")
    print(f"load average after the run {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps([dataclasses.asdict(m) for m in results.values()]))
    return 0


def require_linux() -> None:
    if not os.path.exists("/proc/self/stat"):
        sys.exit("this benchmark reads server CPU from /proc and runs on Linux only")
