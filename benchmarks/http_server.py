#!/usr/bin/env python3
"""The cost of the HTTP server alone: one bare WSGI app (canned ECR replies, no Flask, no state) under waitress and
under the emulator's own server (``ecr_emulator.serving``), through the shared control-plane harness in one run.
This is the measurement behind the choice of server; it needs waitress (``pip install -e '.[bench]'``).

usage: python benchmarks/http_server.py [extra harness flags...]
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")
HARNESS = os.path.join(BENCH, "control_plane.py")


def bare_app(replies: dict):
    """A WSGI app giving the floor app's canned replies (``flask_floor.REPLIES``) without Flask."""
    def app(environ, start_response):
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        params = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"{}")
        body = json.dumps(replies[operation](params)).encode()
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app


def serve(kind: str, port: int) -> None:
    sys.path.insert(0, BENCH)
    from flask_floor import REPLIES

    app = bare_app(REPLIES)
    if kind == "waitress":
        import waitress

        waitress.serve(app, host="127.0.0.1", port=port, threads=8, _quiet=True)
        return
    from ecr_emulator.serving import Server

    Server(app, "127.0.0.1", port).run()


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return 0
    if not os.path.exists(HARNESS):
        print(f"the shared harness is not at {HARNESS}", file=sys.stderr)
        return 2
    me = os.path.abspath(__file__)
    commands = [f"waitress={sys.executable} {me} --serve waitress {{port}}",
                f"ecr-server={sys.executable} {me} --serve ecr {{port}}"]
    return subprocess.call([sys.executable, HARNESS, *[f"--cmd={c}" for c in commands], *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
