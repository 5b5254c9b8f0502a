#!/usr/bin/env python3
"""Server CPU per request and scale figures, side by side: ecr-emulator, the Flask floor app, and moto's server.

The same boto3 workload (``harness.py``) runs against the floor app (``floor_app.py`` under waitress: the least a
Flask-based ECR server can spend), the emulator (``python -m ecr_emulator``) and moto's server
(``python -m moto.server``), one after the other, and prints one line each and the ratios the README quotes: the
emulator against the floor, moto against the emulator. ``pip install -e '.[bench]'`` installs waitress and
``moto[server]``; without moto's server, or with ``--no-moto``, moto is left out.

usage: python benchmarks/control_plane.py [--no-moto] [--threads 4] [--repos 5] [--images 40] [--scale 2000] [--json]
"""

import argparse
import importlib.util
import os
import sys

import harness

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    harness.require_linux()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-moto", action="store_true", help="leave moto's server out")
    harness.add_arguments(parser)
    args = parser.parse_args()
    if importlib.util.find_spec("waitress") is None:
        print("the floor app must run under waitress: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    python = sys.executable
    servers = [("floor", f"{python} {os.path.join(HERE, 'floor_app.py')} {{port}}"),
               ("emulator", f"{python} -m ecr_emulator --port {{port}} --log-level WARNING")]
    if not args.no_moto:
        if importlib.util.find_spec("flask_cors") is None or importlib.util.find_spec("moto") is None:
            print("moto's server is not installed (pip install -e '.[bench]'); measuring without it", file=sys.stderr)
        else:
            servers.append(("moto", f"{python} -m moto.server -p {{port}}"))
    return harness.run(servers, [("emulator", "floor"), ("moto", "emulator")], args)


if __name__ == "__main__":
    sys.exit(main())
