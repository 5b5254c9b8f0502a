#!/usr/bin/env python3
"""The cost of the HTTP server alone: one bare WSGI app (the floor app's canned replies, without Flask and without
state) served by waitress and by the emulator's own server (``ecr_emulator.server.http_server``), measured with
the same boto3 workload (``harness.py``) in one run. This is the measurement behind the choice of server; it needs
waitress (``pip install -e '.[bench]'``).

usage: python benchmarks/http_server.py [--threads 4] [--repos 5] [--images 40] [--scale 2000] [--json]
       python benchmarks/http_server.py --serve {waitress,ecr} PORT   (one server, as the benchmark starts it)
"""

import argparse
import importlib.util
import os
import sys

import harness
from floor_app import canned_reply


def bare_app(environ, start_response):
    """The floor app's replies as a plain WSGI callable, so only the server around it differs."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = canned_reply(environ.get("HTTP_X_AMZ_TARGET", ""), environ["wsgi.input"].read(length))
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))])
    return [body]


def serve(kind: str, port: int) -> None:
    if kind == "waitress":
        import waitress

        waitress.serve(bare_app, host="127.0.0.1", port=port, threads=8, _quiet=True)
    else:
        from ecr_emulator.server.http_server import Server

        Server(bare_app, "127.0.0.1", port).run()


def main() -> int:
    harness.require_linux()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=2, metavar=("SERVER", "PORT"), help=argparse.SUPPRESS)
    harness.add_arguments(parser)
    args = parser.parse_args()
    if args.serve:
        if args.serve[0] not in ("waitress", "ecr") or not args.serve[1].isdigit():
            parser.error("--serve takes waitress or ecr, and a port")
        serve(args.serve[0], int(args.serve[1]))
        return 0
    if importlib.util.find_spec("waitress") is None:
        print("this compares against waitress: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    me = f"{sys.executable} {os.path.abspath(__file__)} --serve"
    servers = [("waitress", f"{me} waitress {{port}}"), ("ecr-server", f"{me} ecr {{port}}")]
    return harness.run(servers, [("ecr-server", "waitress")], args)


if __name__ == "__main__":
    sys.exit(main())
