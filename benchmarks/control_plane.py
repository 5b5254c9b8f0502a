#!/usr/bin/env python3
"""Server CPU per request and scale figures, side by side: ecr-emulator, the Flask floor app, and moto's server.

Runs the shared harness (``../shared/bench/control_plane.py`` beside this repository) with the same boto3 workload
against each server and prints its table and ratios. moto is measured when ``moto_server`` is installed
(``pip install 'moto[server]'``). The floor app is the floor only under waitress (without it, it falls back to
werkzeug's slower server), so this refuses to run without waitress: ``pip install -e '.[bench]'`` installs both.

usage: python benchmarks/control_plane.py [--scale N] [--no-moto] [extra harness flags...]
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(os.path.dirname(ROOT), "shared", "bench")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-moto", action="store_true")
    args, rest = parser.parse_known_args()
    if importlib.util.find_spec("waitress") is None:
        print("the floor app must run under waitress: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    harness = os.path.join(HARNESS, "control_plane.py")
    if not os.path.exists(harness):
        print(f"the shared harness is not at {harness}", file=sys.stderr)
        return 2
    commands = [f"floor={sys.executable} {os.path.join(HARNESS, 'flask_floor.py')} {{port}}",
                f"emulator={sys.executable} -m ecr_emulator --port {{port}} --log-level WARNING"]
    if not args.no_moto and shutil.which("moto_server"):
        commands.append("moto=moto_server -p {port}")
    cmd = [sys.executable, harness, *[f"--cmd={c}" for c in commands], *rest]
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
