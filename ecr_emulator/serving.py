"""The HTTP/1.1 server: a thread per connection that reads a request, runs the WSGI application and writes the reply.

Why not a general-purpose server: on the shared control-plane harness, waitress's event loop and its hand-off of
every request to a worker thread cost about 300 µs of server CPU per request, more than the whole Flask application
above it. A connection that owns its thread reads, runs and writes with no hand-off and no loop in between.

What the registry needs from its server:

- Clients told a registry is insecure (skopeo ``--tls-verify=false``, podman, containerd) first try HTTPS and fall
  back to HTTP only when the handshake fails; a connection whose first byte is a TLS handshake record is closed at
  once instead of waiting out the client's handshake timeout.
- Request bodies are streamed to the application (``wsgi.input`` reads the socket), so a blob upload is hashed and
  written as it arrives and a body over an API's limit is refused before it is read. What the application leaves
  unread is read and dropped before the reply, so the connection stays usable.
- Blob downloads leave through ``os.sendfile`` (``wsgi.file_wrapper``), never through Python buffers.
"""

import logging
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate

from werkzeug.exceptions import BadRequest, ClientDisconnected
from werkzeug.wsgi import FileWrapper

from .config import Config

log = logging.getLogger(__name__)

# ECR's largest layer is 52,000 MiB.
MAX_BODY_BYTES = 64 * 1024 ** 3
MAX_LINE_BYTES = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
IDLE_SECONDS = 300
READ_BUFFER = 256 * 1024
DRAIN_CHUNK = 1024 * 1024
_TLS_HANDSHAKE = b"\x16"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_NO_BODY_STATUS = ("1", "204", "304")


class MalformedBody(BadRequest):
    """A chunked body that breaks its framing; the connection cannot be read any further."""


class _FixedBody:
    """``wsgi.input`` for a body of declared length."""

    def __init__(self, rfile, length: int):
        self._rfile = rfile
        self.remaining = length

    @property
    def finished(self) -> bool:
        return self.remaining == 0

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        if size == 0:
            return b""
        data = self._rfile.read(size)
        self.remaining -= len(data)
        if len(data) < size:
            raise ClientDisconnected("the client closed the connection before the end of the body")
        return data

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self._rfile.readline(size) if size else b""
        self.remaining -= len(data)
        if size and not data:
            raise ClientDisconnected("the client closed the connection before the end of the body")
        return data

    def __iter__(self):
        while line := self.readline():
            yield line


class _ChunkedBody:
    """``wsgi.input`` for a ``Transfer-Encoding: chunked`` body, decoded as it is read and capped at ``limit``."""

    def __init__(self, rfile, limit: int):
        self._rfile = rfile
        self._left = 0
        self._limit = limit
        self.finished = False

    def _next_chunk(self) -> None:
        line = self._rfile.readline(MAX_LINE_BYTES)
        if not line.endswith(b"\n"):
            raise ClientDisconnected("the client closed the connection inside a chunked body")
        size_text = line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise MalformedBody("invalid chunk size in a chunked body")
        size = int(size_text, 16)
        if size > self._limit:
            raise MalformedBody(f"the chunked body exceeds {MAX_BODY_BYTES} bytes")
        self._limit -= size
        if size:
            self._left = size
            return
        for _ in range(MAX_HEADERS):
            trailer = self._rfile.readline(MAX_LINE_BYTES)
            if trailer in (b"\r\n", b"\n"):
                self.finished = True
                return
            if not trailer.endswith(b"\n"):
                break
        raise MalformedBody("invalid trailer after a chunked body")

    def read(self, size: int | None = -1) -> bytes:
        whole = size is None or size < 0
        pieces = []
        while not self.finished and (whole or size > 0):
            if self._left == 0:
                self._next_chunk()
                continue
            want = self._left if whole else min(self._left, size)
            data = self._rfile.read(want)
            if len(data) < want:
                raise ClientDisconnected("the client closed the connection inside a chunked body")
            pieces.append(data)
            self._left -= want
            if not whole:
                size -= want
            if self._left == 0 and self._rfile.read(2) not in (b"\r\n",):
                raise MalformedBody("a chunk does not end with CRLF")
        return b"".join(pieces)

    def readline(self, size: int | None = -1) -> bytes:
        """Lines are not a unit of chunked framing; reading them byte-wise is slow but rare (nothing here does)."""
        line = bytearray()
        while size is None or size < 0 or len(line) < size:
            byte = self.read(1)
            line += byte
            if not byte or byte == b"\n":
                break
        return bytes(line)

    def __iter__(self):
        while line := self.readline():
            yield line


class SendfileWrapper(FileWrapper):
    """``wsgi.file_wrapper``: a file the server may send with ``os.sendfile``."""


class _HttpError(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


class _Reply:
    """What ``start_response`` was told, and whether the status line has left yet."""

    __slots__ = ("status", "headers", "sent")

    def __init__(self):
        self.status = None
        self.headers = None
        self.sent = False


_date_cache = [0, ""]


def _http_date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, formatdate(now, usegmt=True)]
    return _date_cache[1]


class Connection:
    """One client connection: requests in order until either side closes it or it idles past the server's
    ``idle_seconds``."""

    def __init__(self, server: "Server", sock: socket.socket, address):
        self.server = server
        self.sock = sock
        self.address = address
        self.rfile = sock.makefile("rb", READ_BUFFER)

    def serve(self) -> None:
        try:
            first = self.sock.recv(1, socket.MSG_PEEK)
            if not first or first == _TLS_HANDSHAKE:
                return
            while self._one_request():
                pass
        except (OSError, ValueError):
            pass
        finally:
            self.rfile.close()
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def _one_request(self) -> bool:
        """Serve one request; True when the connection stays open for another."""
        try:
            environ, keep_alive = self._read_head()
        except _HttpError as exc:
            self._refuse(exc.status, str(exc))
            return False
        if environ is None:
            return False
        body = environ["wsgi.input"]
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue" and not body.finished:
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        reply = _Reply()
        result = None
        try:
            result = self.server.app(environ, _start_response(reply))
            keep_alive = self._drain(body) and keep_alive
            return self._send(environ, reply, result, keep_alive)
        except (OSError, BadRequest):
            return False
        except Exception:
            log.exception("the application failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            if not reply.sent:
                self._refuse("500 Internal Server Error", "the server failed to answer this request")
            return False
        finally:
            if hasattr(result, "close"):
                result.close()

    def _read_head(self):
        """The WSGI environ of the next request and whether the client allows another after it; (None, False) when
        the client closed the connection between requests."""
        line = self.rfile.readline(MAX_LINE_BYTES + 1)
        for _ in range(4):
            if line not in (b"\r\n", b"\n"):
                break
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if not line:
            return None, False
        if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
            raise _HttpError("414 URI Too Long", "the request line is too long")
        parts = line.split()
        if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
            raise _HttpError("400 Bad Request", "malformed request line")
        method, target, version = (part.decode("latin-1") for part in parts)
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _HttpError("505 HTTP Version Not Supported", "only HTTP/1.0 and HTTP/1.1 are served")
        environ = self.server.base_environ.copy()
        total = 0
        for _ in range(MAX_HEADERS + 1):
            header = self.rfile.readline(MAX_LINE_BYTES + 1)
            total += len(header)
            if header in (b"\r\n", b"\n"):
                break
            if total > MAX_HEADER_BYTES or not header.endswith(b"\n"):
                raise _HttpError("431 Request Header Fields Too Large", "the request headers are too large")
            name, colon, value = header.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise _HttpError("400 Bad Request", "malformed header line")
            if b"_" in name:
                continue
            key = name.decode("latin-1").upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            value = value.strip().decode("latin-1")
            if key in environ:
                if key == "CONTENT_LENGTH" and environ[key] != value:
                    raise _HttpError("400 Bad Request", "conflicting Content-Length headers")
                if key != "CONTENT_LENGTH":
                    environ[key] += "," + value
            else:
                environ[key] = value
        else:
            raise _HttpError("431 Request Header Fields Too Large", "too many request headers")
        self._set_target(environ, target)
        environ["REQUEST_METHOD"] = method
        environ["SERVER_PROTOCOL"] = version
        environ["REMOTE_ADDR"] = self.address[0]
        environ["REMOTE_PORT"] = str(self.address[1])
        environ["wsgi.input"] = self._body(environ)
        connection = environ.get("HTTP_CONNECTION", "").lower()
        keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        return environ, keep_alive

    @staticmethod
    def _set_target(environ: dict, target: str) -> None:
        environ["REQUEST_URI"] = environ["RAW_URI"] = target
        if target.startswith(("http://", "https://")):
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        path, _, query = target.partition("?")
        if not path.startswith("/") and path != "*":
            raise _HttpError("400 Bad Request", "malformed request target")
        environ["PATH_INFO"] = urllib.parse.unquote_to_bytes(path).decode("latin-1") if "%" in path else path
        environ["QUERY_STRING"] = query

    def _body(self, environ: dict):
        encoding = environ.get("HTTP_TRANSFER_ENCODING")
        length = environ.get("CONTENT_LENGTH")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise _HttpError("501 Not Implemented", f"unsupported Transfer-Encoding {encoding!r}")
            if length is not None:
                raise _HttpError("400 Bad Request", "a request may not carry both Content-Length and Transfer-Encoding")
            return _ChunkedBody(self.rfile, MAX_BODY_BYTES)
        if length is None:
            return _FixedBody(self.rfile, 0)
        if not length.isdigit() or not length.isascii():
            raise _HttpError("400 Bad Request", "invalid Content-Length")
        if int(length) > MAX_BODY_BYTES:
            raise _HttpError("413 Content Too Large", f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        return _FixedBody(self.rfile, int(length))

    @staticmethod
    def _drain(body) -> bool:
        """Read and drop what the application left of the body, so the next request starts where it should; False
        when that is impossible."""
        try:
            while not body.finished:
                if not body.read(DRAIN_CHUNK):
                    return body.finished
        except BadRequest:
            return False
        return True

    def _send(self, environ: dict, reply: _Reply, result, keep_alive: bool) -> bool:
        """Write the reply; True when the connection stays open."""
        chunks = iter(result)
        first = b""
        sendfile = isinstance(result, SendfileWrapper) and hasattr(result.file, "fileno")
        if reply.status is None or not sendfile:
            for first in chunks:
                if first:
                    break
        if reply.status is None:
            raise RuntimeError("the application returned without calling start_response")
        headers = reply.headers
        length = None
        dated = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered == "date":
                dated = True
            elif lowered == "connection" and value.lower() == "close":
                keep_alive = False
        no_body = environ["REQUEST_METHOD"] == "HEAD" or reply.status.startswith(_NO_BODY_STATUS)
        chunked = False
        if length is None and not no_body:
            if environ["SERVER_PROTOCOL"] == "HTTP/1.1":
                chunked = True
                headers = [*headers, ("Transfer-Encoding", "chunked")]
            else:
                keep_alive = False
        extra = ("" if dated else f"Date: {_http_date()}\r\n") + ("" if keep_alive else "Connection: close\r\n")
        head = (f"HTTP/1.1 {reply.status}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
                + extra + "\r\n").encode("latin-1")
        reply.sent = True
        if no_body:
            self.sock.sendall(head)
        elif sendfile and length is not None and not first:
            self.sock.sendall(head)
            self._sendfile(result.file, length)
        elif chunked:
            self.sock.sendall(head + (b"%x\r\n%s\r\n" % (len(first), first) if first else b""))
            for chunk in chunks:
                if chunk:
                    self.sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.sock.sendall(b"0\r\n\r\n")
        else:
            self.sock.sendall(head + first)
            for chunk in chunks:
                self.sock.sendall(chunk)
        return keep_alive

    def _sendfile(self, file, length: int) -> None:
        offset = file.tell()
        fd = file.fileno()
        while length > 0:
            sent = os.sendfile(self.sock.fileno(), fd, offset, min(length, 1 << 30))
            if sent == 0:
                raise ConnectionError("the file ended before its declared length")
            offset += sent
            length -= sent

    def _refuse(self, status: str, message: str) -> None:
        body = message.encode()
        head = (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                f"Date: {_http_date()}\r\nConnection: close\r\n\r\n").encode("latin-1")
        try:
            self.sock.sendall(head + body)
        except OSError:
            pass


def _start_response(reply: _Reply):
    def start_response(status, headers, exc_info=None):
        if exc_info is not None and reply.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        reply.status = status
        reply.headers = headers
        return _write_unsupported

    return start_response


def _write_unsupported(data: bytes) -> None:
    raise RuntimeError("this server takes reply bodies from the returned iterable only, not from write()")


class Server:
    """Accepts connections and gives each a thread; at most ``max_connections`` are served at once (more wait in
    the listen backlog)."""

    def __init__(self, app, host: str, port: int, max_connections: int = 1000, idle_seconds: float = IDLE_SECONDS):
        self.app = app
        self.idle_seconds = idle_seconds
        self.listener = socket.create_server((host, port), backlog=1024)
        self.effective_port = self.listener.getsockname()[1]
        self.base_environ = {
            "SCRIPT_NAME": "", "SERVER_NAME": host, "SERVER_PORT": str(self.effective_port),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True, "wsgi.file_wrapper": SendfileWrapper,
        }
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: dict[socket.socket, threading.Thread] = {}
        self._lock = threading.Lock()
        self._closed = False

    def run(self) -> None:
        while not self._closed:
            self._slots.acquire()
            try:
                sock, address = self.listener.accept()
            except OSError:
                self._slots.release()
                if self._closed:
                    return
                time.sleep(0.05)
                continue
            timeout = _timeval(self.idle_seconds)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(sock, address), daemon=True,
                                      name=f"http-{address[1]}")
            with self._lock:
                self._open[sock] = thread
            thread.start()

    def _serve(self, sock: socket.socket, address) -> None:
        try:
            Connection(self, sock, address).serve()
        finally:
            with self._lock:
                self._open.pop(sock, None)
            self._slots.release()

    def close(self, grace: float = 5.0) -> None:
        """Stop accepting, end every connection, and give requests in flight ``grace`` seconds to finish."""
        self._closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            open_now = list(self._open.items())
        for sock, _ in open_now:
            try:
                sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        deadline = time.monotonic() + grace
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval`` for SO_RCVTIMEO/SO_SNDTIMEO: blocking sockets that still give up on a silent peer."""
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


def make_server(app, config: Config) -> Server:
    return Server(app, config.host, config.port, config.max_connections)
