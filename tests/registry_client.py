"""A minimal registry HTTP client for protocol tests: raw requests with the ECR password as Basic credentials."""

import base64
import hashlib
import http.client
import json
import urllib.parse


class RegistryClient:
    def __init__(self, endpoint: str, ecr=None, password: str | None = None):
        parsed = urllib.parse.urlparse(endpoint)
        self.host, self.port = parsed.hostname, parsed.port
        if password is None and ecr is not None:
            token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
            password = base64.b64decode(token).decode().partition(":")[2]
        self.auth = "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode() if password else None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                auth: bool = True):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        all_headers = dict(headers or {})
        if auth and self.auth:
            all_headers.setdefault("Authorization", self.auth)
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, response.headers, data

    def json(self, method: str, path: str, **kwargs):
        status, headers, data = self.request(method, path, **kwargs)
        return status, headers, json.loads(data) if data else None

    def push_blob(self, name: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, _, body = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", body=data)
        assert status == 201, body
        return digest
