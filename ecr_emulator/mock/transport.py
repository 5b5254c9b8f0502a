"""One botocore request answered by a WSGI application in this process: the prepared request becomes a WSGI environ
(method, path, query, headers and body exactly as botocore would send them) and the application's reply becomes a
botocore ``AWSResponse``. No socket, no second implementation: the application sees what the server would give it.

aiobotocore runs the same ``before-send`` handlers but awaits a reply's ``content``; the reply's content here is bytes
that can also be awaited, so one reply serves both."""

import io
import sys
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse


class _Content(bytes):
    """Bytes that ``await`` gives back as themselves."""

    def __await__(self):
        yield from ()
        return bytes(self)


class _Response(AWSResponse):
    _content: _Content | None

    @property
    def content(self) -> _Content:
        if self._content is None:
            self._content = _Content(b"".join(self.raw.stream()))
        return self._content


class _Body(io.BytesIO):
    """A reply body botocore can read whole (``stream``) or as a streaming body (``read``)."""

    def stream(self, **_):
        chunk = self.read()
        if chunk:
            yield chunk


def _request_body(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    data = body.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def environ_of(request) -> dict:
    """The WSGI environ of a botocore ``AWSPreparedRequest``."""
    url = urlsplit(request.url)
    body = _request_body(request.body)
    port = url.port or (443 if url.scheme == "https" else 80)
    environ = {
        "REQUEST_METHOD": request.method, "SCRIPT_NAME": "",
        # WSGI carries the path decoded, one character per byte.
        "PATH_INFO": unquote(url.path or "/", encoding="latin-1"), "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "localhost", "SERVER_PORT": str(port), "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0), "wsgi.url_scheme": url.scheme or "https", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "HTTP_HOST": url.netloc,
    }
    for name, value in request.headers.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    return environ


def call(app, request) -> AWSResponse:
    """Run ``request`` through ``app`` and return its reply as botocore would have received it."""
    reply = {}

    def start_response(status, headers, exc_info=None):
        reply["status"], reply["headers"] = status, headers

    result = app(environ_of(request), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return _Response(request.url, int(reply["status"].split(" ", 1)[0]), reply["headers"], _Body(body))
