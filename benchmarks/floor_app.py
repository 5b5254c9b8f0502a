#!/usr/bin/env python3
"""The floor for a Flask-based ECR server: one Flask route that answers each call of the benchmark's workload with a
fixed, well-formed reply, keeping no state and validating nothing. What it spends per request is what Flask, JSON
and the HTTP server cost before any emulation starts. It is served by waitress, as a Flask app usually is in
production; werkzeug's development server is slower and would flatter whatever is compared against it.

usage: python benchmarks/floor_app.py PORT
"""

import json
import sys


def _named(body: dict) -> dict:
    return {"repositoryName": body.get("repositoryName", ""), "registryId": "000000000000"}


# One reply per ECR operation the workload calls, shaped as botocore expects it; nothing is looked up.
CANNED_REPLIES = {
    "CreateRepository": lambda body: {"repository": _named(body)},
    "DeleteRepository": lambda body: {"repository": _named(body)},
    "DescribeRepositories": lambda body: {"repositories": []},
    "PutLifecyclePolicy": lambda body: {**_named(body), "lifecyclePolicyText": body.get("lifecyclePolicyText", "")},
    "PutImage": lambda body: {"image": {**_named(body), "imageId": {"imageTag": body.get("imageTag", "")},
                                        "imageManifest": body.get("imageManifest", "")}},
    "DescribeImages": lambda body: {"imageDetails": []},
    "ListImages": lambda body: {"imageIds": []},
    "BatchGetImage": lambda body: {"images": [], "failures": []},
    "BatchDeleteImage": lambda body: {"imageIds": [], "failures": []},
    "GetAuthorizationToken": lambda body: {"authorizationData": []},
}


def canned_reply(target: str, raw_body: bytes) -> bytes:
    """The reply to one JSON 1.1 request, from its X-Amz-Target header and its body."""
    operation = target.rpartition(".")[2]
    return json.dumps(CANNED_REPLIES[operation](json.loads(raw_body or b"{}"))).encode()


def create_floor_app():
    from flask import Flask, Response, request

    app = Flask("ecr_floor")

    @app.post("/")
    def answer():
        return Response(canned_reply(request.headers.get("X-Amz-Target", ""), request.get_data()),
                        content_type="application/x-amz-json-1.1")

    return app


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: floor_app.py PORT", file=sys.stderr)
        return 2
    try:
        import waitress
    except ImportError:
        print("the floor app runs under waitress: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    waitress.serve(create_floor_app(), host="127.0.0.1", port=int(sys.argv[1]), threads=8, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
