"""A small client of the OCI Distribution API for reading from an upstream registry, on the standard library only.

It speaks what registries answer a pull with: the token flow (a 401 with ``WWW-Authenticate: Bearer realm=...,
service=..., scope=...`` sends it to the realm for a token, with HTTP Basic credentials when it has them), plain
HTTP Basic, and redirects (blob downloads usually go to object storage). Every fault comes out as ``UpstreamError``
with one of ECR's upstream failure codes, so callers never see a socket error. Manifests are read up to a limit;
blobs are handed over as a stream of chunks and never read whole.
"""

import base64
import http.client
import json
import re
import ssl
import urllib.parse
from collections.abc import Iterator

# ECR's ImageFailureCode values for upstream faults, plus the two outcomes a pull tells apart from them.
ACCESS_DENIED = "UpstreamAccessDenied"
TOO_MANY_REQUESTS = "UpstreamTooManyRequests"
UNAVAILABLE = "UpstreamUnavailable"
NOT_FOUND = "ImageNotFound"

CHUNK_SIZE = 1024 * 1024
_MAX_REDIRECTS = 5
_MAX_TOKEN_BYTES = 1024 * 1024
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class UpstreamError(Exception):
    """A pull from the upstream registry failed; ``code`` is the ECR failure code it maps to."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _status_error(status: int, what: str) -> UpstreamError:
    if status in (401, 403):
        return UpstreamError(ACCESS_DENIED, f"The upstream registry refused access to {what} (HTTP {status}). "
                                            f"Verify the credentials of the pull through cache rule and try again.")
    if status == 429:
        return UpstreamError(TOO_MANY_REQUESTS, f"The upstream registry answered {what} with too many requests "
                                                f"(HTTP 429); try again later.")
    if status == 404:
        return UpstreamError(NOT_FOUND, f"The upstream registry has no {what}.")
    return UpstreamError(UNAVAILABLE, f"The upstream registry answered {what} with HTTP {status}.")


def _check_complete(response: http.client.HTTPResponse, received: int, what: str) -> None:
    """A body shorter than its Content-Length is a connection that broke (``read`` with a size returns what came)."""
    declared = response.getheader("Content-Length")
    if declared is not None and declared.isdigit() and received < int(declared):
        raise UpstreamError(UNAVAILABLE, f"The upstream registry broke off {what} after {received} of {declared} "
                                         f"bytes.")


class RegistryClient:
    """Reads one upstream registry at ``base_url`` (``https://host`` or ``http://host:port``), as ``username`` with
    ``password`` when given, anonymously otherwise."""

    def __init__(self, base_url: str, username: str | None = None, password: str | None = None,
                 timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.basic = None if username is None else "Basic " + base64.b64encode(
            f"{username}:{password or ''}".encode()).decode()
        self.timeout = timeout
        self._authorization: str | None = None

    def check(self) -> None:
        """Sign in to the registry (GET /v2/ through its challenge), raising ``UpstreamError`` when that fails."""
        response = self._open("GET", "/v2/", {}, "the registry API")
        response.close()

    def manifest(self, repository: str, reference: str, accept: list[str], limit: int) -> tuple[bytes, str, str | None]:
        """(bytes, media type, Docker-Content-Digest header) of a manifest, refused when larger than ``limit``."""
        what = f"manifest {repository}:{reference}" if ":" not in reference else f"manifest {repository}@{reference}"
        response = self._open("GET", f"/v2/{repository}/manifests/{reference}", {"Accept": ", ".join(accept)}, what)
        try:
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise UpstreamError(UNAVAILABLE, f"The upstream {what} is larger than {limit} bytes.")
            data = self._read(response, limit + 1, what)
            if len(data) > limit:
                raise UpstreamError(UNAVAILABLE, f"The upstream {what} is larger than {limit} bytes.")
            _check_complete(response, len(data), what)
            media_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
            return data, media_type, response.getheader("Docker-Content-Digest")
        finally:
            response.close()

    def blob(self, repository: str, digest: str) -> Iterator[bytes]:
        """The bytes of a blob, in chunks as they arrive; a connection that fails part way raises ``UpstreamError``
        from the iteration."""
        what = f"blob {digest} of {repository}"
        response = self._open("GET", f"/v2/{repository}/blobs/{digest}", {}, what)
        received = 0
        try:
            while True:
                try:
                    chunk = response.read(CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as exc:
                    raise UpstreamError(UNAVAILABLE, f"The upstream registry broke off {what}: {exc}") from None
                if not chunk:
                    _check_complete(response, received, what)
                    return
                received += len(chunk)
                yield chunk
        finally:
            response.close()

    # Requests.

    def _open(self, method: str, path: str, headers: dict, what: str) -> http.client.HTTPResponse:
        """The successful response to a request, after at most one sign-in and a few redirects."""
        url = self.base_url + path
        signed_in = False
        redirects = 0
        while True:
            sent = dict(headers)
            same_host = url.startswith(self.base_url + "/")
            if same_host and self._authorization:
                sent["Authorization"] = self._authorization
            response = self._send(method, url, sent, what)
            status = response.status
            if status in (301, 302, 303, 307, 308) and redirects < _MAX_REDIRECTS:
                location = response.getheader("Location")
                response.close()
                if not location:
                    raise UpstreamError(UNAVAILABLE, f"The upstream registry redirected {what} nowhere.")
                url = urllib.parse.urljoin(url, location)
                redirects += 1
                continue
            if status == 401 and same_host and not signed_in:
                challenge = response.getheader("WWW-Authenticate") or ""
                response.close()
                self._sign_in(challenge, what)
                signed_in = True
                continue
            if 200 <= status < 300:
                return response
            response.close()
            raise _status_error(status, what)

    def _sign_in(self, challenge: str, what: str) -> None:
        """Answer a 401: fetch a bearer token from the challenge's realm, or use Basic credentials."""
        scheme, _, rest = challenge.strip().partition(" ")
        if scheme.lower() == "bearer":
            params = dict(_CHALLENGE_PARAM.findall(rest))
            realm = params.pop("realm", None)
            if not realm:
                raise UpstreamError(ACCESS_DENIED, f"The upstream registry asked for a token for {what} without "
                                                   f"saying where to get one.")
            query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
            self._authorization = "Bearer " + self._token(realm + ("&" if "?" in realm else "?") + query
                                                          if query else realm, what)
        elif scheme.lower() == "basic" and self.basic is not None:
            self._authorization = self.basic
        else:
            raise _status_error(401, what)

    def _token(self, url: str, what: str) -> str:
        headers = {"Authorization": self.basic} if self.basic else {}
        response = self._send("GET", url, headers, f"a token for {what}")
        try:
            if response.status != 200:
                raise _status_error(401 if response.status == 404 else response.status, f"a token for {what}")
            body = self._read(response, _MAX_TOKEN_BYTES, f"a token for {what}")
        finally:
            response.close()
        try:
            reply = json.loads(body)
            token = reply.get("token") or reply.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise UpstreamError(ACCESS_DENIED, f"The upstream registry's token service gave no token for {what}.")
        return token

    def _send(self, method: str, url: str, headers: dict, what: str) -> http.client.HTTPResponse:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(UNAVAILABLE, f"Cannot reach {what}: {url} is not an http(s) URL.")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            connection.request(method, target, headers={"User-Agent": "ecr-emulator-pull-through-cache", **headers})
            return connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise UpstreamError(UNAVAILABLE, f"The upstream registry at {parts.scheme}://{parts.netloc} could not "
                                             f"be reached for {what}: {exc}") from None

    @staticmethod
    def _read(response: http.client.HTTPResponse, limit: int, what: str) -> bytes:
        try:
            return response.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamError(UNAVAILABLE, f"The upstream registry broke off {what}: {exc}") from None
