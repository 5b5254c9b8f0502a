"""Upstream registries for pull through cache tests: a CNCF Distribution registry (``docker-registry``) started on a
free loopback port, and a small in-process registry that speaks the bearer token flow and can be told to lie."""

import base64
import contextlib
import hashlib
import http.client
import http.server
import json
import subprocess
import threading
import time
import urllib.parse

from ecr_emulator.testing import free_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image(payload: bytes, arch: str = "amd64") -> tuple[bytes, dict[str, bytes]]:
    """(manifest bytes, {digest: blob}) of a one-layer OCI image."""
    config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers",
                                                                         "diff_ids": [sha(payload)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": OCI_LAYER, "digest": sha(payload), "size": len(payload)}]})
    return manifest.encode(), {sha(config): config, sha(payload): payload}


def index(*manifests: tuple[bytes, str]) -> bytes:
    """An OCI index of (manifest bytes, architecture) pairs."""
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha(data), "size": len(data),
         "platform": {"architecture": arch, "os": "linux"}} for data, arch in manifests]}).encode()


class Distribution:
    """A ``docker-registry`` process serving ``url``, optionally behind htpasswd Basic auth for one user."""

    def __init__(self, binary: str, root, user: tuple[str, str] | None = None, htpasswd: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.user = user
        auth = ""
        if user is not None:
            hashed = subprocess.run([htpasswd, "-Bbn", *user], capture_output=True, text=True, check=True).stdout
            (root / "htpasswd").write_text(hashed)
            auth = f"auth:\n  htpasswd:\n    realm: upstream\n    path: {root / 'htpasswd'}\n"
        config = root / "config.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                          f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
                          f"http:\n  addr: 127.0.0.1:{self.port}\n{auth}")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.process.stderr.read().decode()}")
            with contextlib.suppress(OSError):
                self.request("GET", "/v2/")
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("docker-registry did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = dict(headers or {})
        if self.user:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.user).encode()).decode()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def push_blob(self, repo: str, data: bytes) -> None:
        status, headers, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, body
        location = urllib.parse.urlsplit(headers["Location"])
        query = f"{location.query}&" if location.query else ""
        status, _, body = self.request("PUT", f"{location.path}?{query}digest={sha(data)}", body=data,
                                        headers={"Content-Type": "application/octet-stream"})
        assert status == 201, body

    def push_manifest(self, repo: str, reference: str, data: bytes) -> str:
        media_type = json.loads(data)["mediaType"]
        status, _, body = self.request("PUT", f"/v2/{repo}/manifests/{reference}", body=data,
                                        headers={"Content-Type": media_type})
        assert status == 201, body
        return sha(data)

    def push_image(self, repo: str, tag: str, payload: bytes, arch: str = "amd64") -> str:
        manifest, blobs = image(payload, arch)
        for data in blobs.values():
            self.push_blob(repo, data)
        return self.push_manifest(repo, tag, manifest)


class FakeUpstream:
    """A registry in a thread: manifests and blobs from dicts, behind the bearer token flow for one user. ``lie``
    makes it send other bytes than a blob's digest names, ``cut`` hang up half way through a blob; ``status`` makes
    every registry request answer it."""

    def __init__(self, user: tuple[str, str] = ("bob", "hunter2")):
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.user = user
        self.lie = False
        self.cut = False
        self.status: int | None = None
        self.requests: list[str] = []
        self.token = "token-" + sha(repr(user).encode())[7:23]
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                upstream.requests.append(self.path)
                path = urllib.parse.urlsplit(self.path).path
                if path == "/token":
                    expected = "Basic " + base64.b64encode(":".join(upstream.user).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        return self._reply(401, b'{"details":"incorrect username or password"}')
                    return self._reply(200, json.dumps({"token": upstream.token}).encode())
                if upstream.status is not None:
                    return self._reply(upstream.status, b"{}")
                if self.headers.get("Authorization") != f"Bearer {upstream.token}":
                    scope = ""
                    if "/manifests/" in path or "/blobs/" in path:
                        scope = f',scope="repository:{path[4:].split("/manifests/")[0].split("/blobs/")[0]}:pull"'
                    return self._reply(401, b"{}", {"WWW-Authenticate": f'Bearer realm="{upstream.url}/token",'
                                                                          f'service="fake"{scope}'})
                if path == "/v2/":
                    return self._reply(200, b"{}")
                if "/manifests/" in path:
                    repo, reference = path[4:].split("/manifests/")
                    found = upstream.manifests.get((repo, reference))
                    if found is None:
                        return self._reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                    data, media_type = found
                    return self._reply(200, data, {"Content-Type": media_type, "Docker-Content-Digest": sha(data)})
                if "/blobs/" in path:
                    digest = path.rsplit("/", 1)[1]
                    data = upstream.blobs.get(digest)
                    if data is None:
                        return self._reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
                    if upstream.cut:
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[:len(data) // 2])
                        self.close_connection = True
                        return None
                    return self._reply(200, data + b"tampered" if upstream.lie else data)
                return self._reply(404, b"{}")

            do_HEAD = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add_image(self, repo: str, tag: str, payload: bytes) -> str:
        manifest, blobs = image(payload)
        self.blobs.update(blobs)
        self.manifests[(repo, tag)] = self.manifests[(repo, sha(manifest))] = (manifest, OCI_MANIFEST)
        return sha(manifest)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
