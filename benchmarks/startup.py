#!/usr/bin/env python3
"""Time from process start to serving: ``python -m ecr_emulator`` until ``/_emulator/health`` answers, and until a
first JSON API call (DescribeRepositories) answers. Medians over the rounds.

usage: python benchmarks/startup.py [--rounds 10]
"""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(request, started: float, timeout: float = 20.0) -> float:
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(request, timeout=1):
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.005)
    raise SystemExit("the emulator did not answer")


def one_round() -> tuple[float, float]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "ecr_emulator", "--port", str(port), "--log-level", "WARNING"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = poll(endpoint + "/_emulator/health", started)
        api = poll(urllib.request.Request(endpoint + "/", data=json.dumps({}).encode(), method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"}), started)
        return health, api
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            # Reported, not hidden: a server that ignores SIGTERM is a bug, but it should not end the measurement.
            print(f"the emulator (pid {process.pid}) did not stop within 10 s of SIGTERM; killed it", file=sys.stderr)
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    rounds = [one_round() for _ in range(args.rounds)]
    health = statistics.median(r[0] for r in rounds)
    api = statistics.median(r[1] for r in rounds)
    print(f"process start to /_emulator/health: median {health:.3f} s (max {max(r[0] for r in rounds):.3f} s)")
    print(f"process start to a first DescribeRepositories reply: median {api:.3f} s "
          f"(max {max(r[1] for r in rounds):.3f} s), {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
