#!/usr/bin/env python3
"""How image operations scale with repository size, measured in-process through the whole request path
(protocol, validation, handler, serialization) with Flask's test client, so the figures are server CPU only.

For each size it fills a repository with that many images, then reports per-call CPU for PutImage, DescribeImages
of one tag, BatchGetImage of one tag, and the CPU of a full DescribeImages scan (maxResults 1000), plus the RSS
each image costs beyond its manifest bytes.

usage: python benchmarks/images_scale.py [--sizes 10,100000] [--calls 2000]
"""

import argparse
import gc
import json
import resource
import time

from ecr_emulator.app import create_app
from ecr_emulator.config import Config

TARGET = "AmazonEC2ContainerRegistry_V20150921."


def manifest(i: int) -> str:
    def digest(n: int, kind: str) -> str:
        return "sha256:" + f"{kind}{i:012d}{n:04d}".encode().hex().ljust(64, "0")[:64]
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                  "digest": digest(0, "c"), "size": 1000},
                       "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                   "digest": digest(n, "l"), "size": 1000 * n} for n in range(1, 4)]})


class Client:
    def __init__(self):
        self.http = create_app(Config(log_level="WARNING")).test_client()

    def call(self, operation: str, body: dict) -> dict:
        reply = self.http.post("/", data=json.dumps(body), headers={
            "X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"})
        if reply.status_code != 200:
            raise RuntimeError(f"{operation}: {reply.status_code} {reply.get_data(as_text=True)}")
        return json.loads(reply.get_data())


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def per_call_us(fn, calls: int) -> float:
    start = time.process_time()
    for i in range(calls):
        fn(i)
    return (time.process_time() - start) / calls * 1e6


def measure(size: int, calls: int) -> dict:
    client = Client()
    repo = f"scale-{size}"
    client.call("CreateRepository", {"repositoryName": repo})
    gc.collect()
    rss_before = rss_kib()
    manifest_bytes = 0
    fill_start = time.process_time()
    for i in range(size):
        text = manifest(i)
        manifest_bytes += len(text)
        client.call("PutImage", {"repositoryName": repo, "imageManifest": text, "imageTag": f"t{i}"})
    fill_cpu = time.process_time() - fill_start
    gc.collect()
    per_image = ((rss_kib() - rss_before) * 1024 - manifest_bytes) / size
    middle = f"t{size // 2}"
    figures = {
        "images": size,
        "fill_cpu_s": fill_cpu,
        "rss_per_image_beyond_manifest_bytes": per_image,
        "describe_one_tag_us": per_call_us(lambda i: client.call("DescribeImages", {
            "repositoryName": repo, "imageIds": [{"imageTag": middle}]}), calls),
        "batch_get_one_tag_us": per_call_us(lambda i: client.call("BatchGetImage", {
            "repositoryName": repo, "imageIds": [{"imageTag": middle}]}), calls),
        "put_image_us": per_call_us(lambda i: client.call("PutImage", {
            "repositoryName": repo, "imageManifest": manifest(size + 1_000_000 + i)}), calls),
    }
    start, token, seen = time.process_time(), None, 0
    while True:
        body = {"repositoryName": repo, "maxResults": 1000, **({"nextToken": token} if token else {})}
        page = client.call("DescribeImages", body)
        seen += len(page["imageDetails"])
        token = page.get("nextToken")
        if not token:
            break
    figures["full_scan_cpu_s"] = time.process_time() - start
    figures["full_scan_images"] = seen
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100000")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    results = [measure(int(size), args.calls) for size in args.sizes.split(",")]
    keys = ["images", "fill_cpu_s", "describe_one_tag_us", "batch_get_one_tag_us", "put_image_us",
            "full_scan_cpu_s", "full_scan_images", "rss_per_image_beyond_manifest_bytes"]
    print(" ".join(f"{k:>24}" for k in keys))
    for r in results:
        print(" ".join(f"{r[k]:>24.1f}" if isinstance(r[k], float) else f"{r[k]:>24}" for k in keys))
    if len(results) > 1:
        small, large = results[0], results[-1]
        for key in ("describe_one_tag_us", "batch_get_one_tag_us", "put_image_us"):
            print(f"{key}: {large[key] / small[key]:.2f}x at {large['images']} vs {small['images']} images")


if __name__ == "__main__":
    main()
