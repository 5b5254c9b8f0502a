"""The WSGI server: waitress, with three registry-specific adjustments.

- Registry clients told a registry is insecure (skopeo ``--tls-verify=false``, podman, containerd) first try HTTPS
  and fall back to HTTP only when the handshake fails. A plain HTTP server that waits for a request line would hold
  a TLS ClientHello until the client's handshake timeout (10 s per connection), so a connection whose first byte is
  a TLS handshake record is closed at once.
- Blob uploads may be far larger than waitress's default 1 GiB body cap.
- waitress receives a whole request body before the application runs. Bodies with a small limit (the JSON API, the
  admin API, manifests) are capped while they arrive: bytes past the limit are read and dropped, never stored, and
  the application is told (``BODY_OVER_LIMIT``) so it answers 413 in its own error format. Blob upload bodies are
  written into the blob store's staging area and hashed as they arrive (``STAGED_BODY`` names them), so the upload
  adopts the file instead of copying a spooled body a second time.
"""

import io
import re

from waitress.buffers import OverflowableBuffer
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.receiver import ChunkedReceiver, FixedStreamReceiver
from waitress.server import create_server

from .config import Config
from .specs import model

# ECR's largest layer is 52,000 MiB.
MAX_BLOB_BYTES = 64 * 1024 ** 3
# Blob bodies arrive at hundreds of MiB; 8 KiB reads (the default) spend the time in the event loop.
RECV_BYTES = 1024 * 1024
_TLS_HANDSHAKE = 0x16
_OVER_LIMIT_HEADER = "X_ECR_EMULATOR_BODY_OVER_LIMIT"
BODY_OVER_LIMIT = "HTTP_" + _OVER_LIMIT_HEADER
_STAGED_HEADER = "X_ECR_EMULATOR_STAGED_BODY"
STAGED_BODY = "HTTP_" + _STAGED_HEADER
_BLOB_UPLOAD = re.compile(r"/v2/.+/blobs/uploads/.*")


def body_limit(path: str, json_limit: int) -> int | None:
    """The most bytes a request body to ``path`` may have; None for blob uploads and archive imports, which
    stream to disk."""
    if path == "/_emulator/import":
        return None
    if path.startswith("/v2/"):
        return model.shape("ImageManifest")["max"] if "/manifests/" in path else None
    return json_limit


class _CappedBuffer(OverflowableBuffer):
    """A request body buffer that keeps at most ``cap`` bytes and drops the rest, remembering that it did."""

    def __init__(self, overflow: int, cap: int):
        super().__init__(overflow)
        self.cap = cap
        self.received_bytes = 0

    def append(self, s):
        self.received_bytes += len(s)
        room = self.cap + 1 - self.__len__()
        if room > 0:
            super().append(s[:room])

    @property
    def over_limit(self) -> bool:
        return self.received_bytes > self.cap


class _StagingBuffer:
    """The body buffer of a blob upload: every byte goes straight to a staged file; the application reads it from
    there, so the request's own body stream is empty."""

    def __init__(self, staged):
        self.staged = staged

    def append(self, data: bytes) -> None:
        self.staged.write(data)

    def __len__(self) -> int:
        return self.staged.size

    def getfile(self):
        return io.BytesIO()

    def close(self) -> None:
        """Nothing to free here: the parser releases the staged file when the request ends."""


class BodyLimitParser(HTTPRequestParser):
    """A request parser that caps the bodies ``body_limit`` limits and stages blob upload bodies in ``blobs``. The
    flags it sets reach the application as headers no client can send (a client's own copies are removed)."""

    json_limit = 32 * 1024 * 1024
    blobs = None
    staged = None

    def parse_header(self, header_plus):
        super().parse_header(header_plus)
        self.headers.pop(_OVER_LIMIT_HEADER, None)
        self.headers.pop(_STAGED_HEADER, None)
        if self.blobs is not None and self.command in ("POST", "PATCH", "PUT") and _BLOB_UPLOAD.fullmatch(self.path):
            self._stage()
            return
        cap = body_limit(self.path, self.json_limit)
        if cap is None or (not self.chunked and self.content_length <= cap):
            return
        self.capped = _CappedBuffer(self.adj.inbuf_overflow, cap)
        if self.chunked:
            self.body_rcv = ChunkedReceiver(self.capped)
        else:
            self.body_rcv = FixedStreamReceiver(self.content_length, self.capped)

    def _stage(self) -> None:
        if self.body_rcv is None:
            return
        self.staged = self.blobs.stage()
        buffer = _StagingBuffer(self.staged)
        self.body_rcv = ChunkedReceiver(buffer) if self.chunked else FixedStreamReceiver(self.content_length, buffer)
        self.headers[_STAGED_HEADER] = self.staged.id

    def close(self):
        super().close()
        if self.staged is not None:
            self.blobs.release_staged(self.staged)

    def received(self, data):
        consumed = super().received(data)
        capped = getattr(self, "capped", None)
        if self.completed and capped is not None and capped.over_limit:
            self.headers[_OVER_LIMIT_HEADER] = str(capped.received_bytes)
        return consumed


class PlainHTTPChannel(HTTPChannel):
    """A channel that hangs up on a TLS handshake instead of parsing it as HTTP."""

    _first = True

    def received(self, data):
        if self._first and data:
            self._first = False
            if data[0] == _TLS_HANDSHAKE:
                self.will_close = True
                self.handle_close()
                return False
        return super().received(data)


def make_server(app, config: Config):
    server = create_server(app, host=config.host, port=config.port, threads=config.threads,
                           connection_limit=1000, channel_timeout=300, ident="ecr-emulator",
                           max_request_body_size=MAX_BLOB_BYTES, recv_bytes=RECV_BYTES)
    parser = type("ConfiguredBodyLimitParser", (BodyLimitParser,), {
        "json_limit": config.max_body_bytes, "blobs": app.config["ECR_STORE"].blobs})
    server.channel_class = type("ConfiguredChannel", (PlainHTTPChannel,), {"parser_class": parser})
    return server
