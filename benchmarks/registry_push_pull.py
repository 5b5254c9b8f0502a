#!/usr/bin/env python3
"""Push and pull wall time with skopeo: ecr-emulator against the CNCF Distribution registry (Debian package
``docker-registry``) in the same run, plus the emulator's RSS growth during a large push.

Each round writes a fresh OCI layout holding one layer of random bytes (so no blob is already present anywhere),
pushes it to both registries with ``--preserve-digests`` (no client-side recompression, so the registry is what is
timed), then pulls it back from both. Figures are medians over the rounds.

usage: python benchmarks/registry_push_pull.py [--layer-mib 256] [--rounds 3] [--rss-push-mib 1024] [--state-dir]
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

import boto3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def write_layout(root: str, layer_mib: int) -> None:
    """An OCI layout with one uncompressed tar layer of random bytes, written in chunks."""
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs)
    tmp = os.path.join(root, "layer.tmp")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        info = tarfile.TarInfo("data.bin")
        info.size = layer_mib * 1024 * 1024
        header = info.tobuf()
        out.write(header)
        digest.update(header)
        for _ in range(layer_mib):
            chunk = os.urandom(1024 * 1024)
            out.write(chunk)
            digest.update(chunk)
        tail = b"\0" * 1024
        out.write(tail)
        digest.update(tail)
    size = os.path.getsize(tmp)
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + digest.hexdigest(),
             "size": size}
    os.rename(tmp, os.path.join(blobs, digest.hexdigest()))

    def put(data: bytes) -> dict:
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return {"digest": f"sha256:{h}", "size": len(data)}
    config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
    manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                               "layers": [layer]}).encode())
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      **manifest,
                                                      "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
                  f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def skopeo(work: str, *args: str) -> float:
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work}
    start = time.perf_counter()
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRSS(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, rss_kib(pid), True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)


def start_distribution(work: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = os.path.join(work, "registry.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {work}/dist\n"
                f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/v2/")
    return process, f"127.0.0.1:{port}"


def start_emulator(work: str, durable: bool) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    state = ["--state-dir", os.path.join(work, "emulator")] if durable else []
    process = subprocess.Popen([sys.executable, "-m", "ecr_emulator", "--port", str(port), "--log-level", "WARNING",
                                *state],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(endpoint + "/_emulator/health")
    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    ecr.create_repository(repositoryName="bench/app")
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return process, f"127.0.0.1:{port}", base64.b64decode(token).decode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layer-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-push-mib", type=int, default=1024)
    parser.add_argument("--state-dir", action="store_true",
                        help="run the emulator with --state-dir (blobs fsynced, state journaled)")
    args = parser.parse_args()
    for tool in ("skopeo", "docker-registry"):
        if not shutil.which(tool):
            print(f"{tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="ecr-bench-")
    dist, dist_host = start_distribution(work)
    emulator, emu_host, creds = start_emulator(work, args.state_dir)
    times = {"distribution": {"push": [], "pull": []}, "emulator": {"push": [], "pull": []}}
    try:
        for round_ in range(args.rounds):
            layout = os.path.join(work, f"layout{round_}")
            write_layout(layout, args.layer_mib)
            targets = [("distribution", dist_host, []), ("emulator", emu_host, ["--dest-creds", creds])]
            for name, host, creds_args in (targets if round_ % 2 == 0 else targets[::-1]):
                times[name]["push"].append(skopeo(
                    work, "copy", "--preserve-digests", "--dest-tls-verify=false", *creds_args,
                    f"oci:{layout}:v1", f"docker://{host}/bench/app:r{round_}"))
                out = os.path.join(work, f"out-{name}-{round_}")
                src_creds = ["--src-creds", creds] if name == "emulator" else []
                times[name]["pull"].append(skopeo(
                    work, "copy", "--src-tls-verify=false", *src_creds, f"docker://{host}/bench/app:r{round_}",
                    f"oci:{out}:v1"))
                shutil.rmtree(out)
            shutil.rmtree(layout)
        mode = "with --state-dir" if args.state_dir else "in-memory default"
        print(f"one {args.layer_mib} MiB layer, {args.rounds} rounds, median wall seconds; emulator {mode}")
        print(f"{'':14}{'push':>10}{'pull':>10}")
        for name, figures in times.items():
            print(f"{name:14}{statistics.median(figures['push']):>10.2f}{statistics.median(figures['pull']):>10.2f}"
                  f"   rounds: push {' '.join(f'{t:.2f}' for t in figures['push'])}"
                  f" pull {' '.join(f'{t:.2f}' for t in figures['pull'])}")
        for kind in ("push", "pull"):
            ratio = statistics.median(times["emulator"][kind]) / statistics.median(times["distribution"][kind])
            print(f"emulator/distribution {kind}: {ratio:.2f}x")

        layout = os.path.join(work, "big")
        write_layout(layout, args.rss_push_mib)
        before = rss_kib(emulator.pid)
        sampler = PeakRSS(emulator.pid)
        sampler.start()
        seconds = skopeo(work, "copy", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds", creds,
                         f"oci:{layout}:v1", f"docker://{emu_host}/bench/app:big")
        sampler.running = False
        sampler.join()
        print(f"{args.rss_push_mib} MiB push: {seconds:.2f} s, emulator RSS {before / 1024:.1f} MiB before, "
              f"peak {sampler.peak / 1024:.1f} MiB, growth {(sampler.peak - before) / 1024:.1f} MiB")
    finally:
        for process in (dist, emulator):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
