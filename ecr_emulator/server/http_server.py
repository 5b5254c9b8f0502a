"""The HTTP/1.1 server: a thread per connection that reads a request, runs the WSGI application and writes the reply.

What it is for: serving the emulator on a developer's machine and in CI, on POSIX systems (it is tested on Linux;
it needs ``os.sendfile``, ``SO_RCVTIMEO`` and ``MSG_PEEK``), to clients that speak HTTP/1.0 or HTTP/1.1: the
AWS SDKs and CLI, docker, podman, containerd, skopeo. It is not meant to face the internet.

Why not a general-purpose server: on the shared control-plane harness (``benchmarks/http_server.py``), waitress's
event loop and its hand-off of every request to a worker thread cost over 200 µs more server CPU per request than
this server, a third of what the Flask floor app spends in all. A connection that owns its thread reads, runs and
writes with no hand-off and no loop in between. Being the project's own, it carries the duty of refusing what a
strict server refuses: malformed request lines, duplicate ``Host``/``Content-Length``/``Content-Type``/
``Authorization`` headers, transfer codings other than a final ``chunked``, and reply headers that would split
the reply.

What the registry needs from its server:

- Clients told a registry is insecure (skopeo ``--tls-verify=false``, podman, containerd) first try HTTPS and fall
  back to HTTP only when the handshake fails; a connection whose first byte is a TLS handshake record is closed at
  once instead of waiting out the client's handshake timeout, unless HTTPS is served too (``--tls``): then the
  connection is wrapped in TLS (certificates from ``tls``) and served like any other, without ``sendfile``.
- Request bodies are streamed to the application (``wsgi.input`` reads the socket, see ``request_bodies``), so a
  blob upload is hashed and written as it arrives and a body over an API's limit is refused before it is read.
  What the application leaves unread of a body it accepted is read and dropped after the reply (up to
  ``DRAIN_LIMIT``), so the connection stays usable; a refusal (4xx/5xx) closes the connection instead of waiting
  for a body that may never come.
- Whole-blob downloads leave through ``os.sendfile`` (``wsgi.file_wrapper``), never through Python buffers; range
  replies go through werkzeug's range wrapper in Python.
- Slow or silent clients do not keep their threads: a request head must arrive within ``header_timeout`` seconds
  of its first byte (of the connection, for its first request), and a body, after ``body_grace`` seconds, at
  ``min_body_rate`` bytes a second of the time spent waiting for it; a watcher thread cuts connections that fall
  behind. When every connection slot is taken, connections idle between requests are closed to make room, and a
  client that still finds none is answered 503 at once.

What it deliberately does not do: HTTP/2, or Windows; pipelined requests are answered one after another, never
in parallel; request trailers are read and dropped; the WSGI ``write()`` callable is refused; replies are sent as
the application gives them (no compression, no buffering); there is no thread pool (a thread per connection, at most
``max_connections``), and a client that stops reading its reply keeps its thread until the send timeout
(``idle_seconds``). It is lenient only where that is harmless: a bare LF ends a line (RFC 9112 §2.2 allows it).
"""

import errno
import io
import logging
import os
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wsgi import FileWrapper

from ..config import Config
from .request_bodies import MAX_BODY_BYTES, ChunkedBody, FixedBody

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
IDLE_SECONDS = 300
# How often the watcher looks for connections past their deadlines.
WATCH_INTERVAL = 0.25
# How long a new client waits for a connection slot when all are taken, and how often it looks for an idle one.
SLOT_WAIT = 0.5
SLOT_POLL = 0.05
# Clients answered 503 at once at most, each by a short-lived thread; more are hung up on.
MAX_TURNED_AWAY = 64
READ_BUFFER = 64 * 1024
DRAIN_CHUNK = 1024 * 1024
# The most of an unread body read and dropped to keep its connection; past it the connection is closed instead.
DRAIN_LIMIT = 64 * 1024 * 1024
# How long a connection closed with request bytes unread still reads and drops them, so the client can read the
# reply before the close resets the connection.
LINGER_SECONDS = 2.0
# The accept loop wakes at least this often, so a signal the kernel delivered to another thread (SIGTERM, SIGINT)
# reaches its Python handler, which only the main thread runs, without waiting for the next connection.
ACCEPT_WAKE_SECONDS = 0.5
_TLS_HANDSHAKE = b"\x16"
_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) (HTTP/[0-9]\.[0-9])\r?\n")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Headers whose repetition is ambiguous (which Host? which credentials?) and so refused, as waitress does.
_SINGLE_HEADERS = frozenset(("HTTP_HOST", "CONTENT_LENGTH", "CONTENT_TYPE", "HTTP_AUTHORIZATION"))
_NO_BODY_STATUS = ("1", "204", "304")
_REFUSAL_STATUS = ("4", "5")
# A connection's state, which the watcher and the accept loop read: reading a request head, answering a request
# (running the application, which may read the body), idle between requests, or closing.
_HEAD, _ANSWER, _IDLE, _CLOSING = "head", "answer", "idle", "closing"


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
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent = False


_date_cache = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class _Input(socket.SocketIO):
    """A connection's raw input. It counts the bytes that arrive and the time spent waiting for them, for the
    watcher's deadlines, and notes when an idle connection's next request head has begun."""

    def __init__(self, connection: "Connection"):
        super().__init__(connection.sock, "rb")
        self._connection = connection
        self.received = 0
        self.waited = 0.0
        self.waiting_since = 0.0

    def readinto(self, buffer) -> int | None:
        connection = self._connection
        if connection.state is _IDLE and self.received != connection.mark:
            connection.head_begun()
        started = time.monotonic()
        self.waiting_since = started
        try:
            count = super().readinto(buffer)
        finally:
            self.waiting_since = 0.0
            self.waited += time.monotonic() - started
        if count:
            self.received += count
        return count


class Connection:
    """One client connection: requests in order until either side closes it, it idles past the server's
    ``idle_seconds``, or the watcher cuts it for sending too slowly."""

    def __init__(self, server: "Server", sock: socket.socket, address):
        self.server = server
        self.sock = sock
        self.address = address
        # Made by ``serve``, again after a TLS handshake.
        self.input: _Input | None = None
        self.rfile: io.BufferedReader | None = None
        self.linger = False
        self.state = _HEAD
        self.deadline = time.monotonic() + server.header_timeout
        self.mark = 0
        self.idle_since = 0.0

    @property
    def busy(self) -> bool:
        return self.state is _ANSWER

    def head_begun(self) -> None:
        self.deadline = time.monotonic() + self.server.header_timeout
        self.state = _HEAD

    def shutdown(self) -> None:
        """End the connection from another thread: its blocked reads and writes return at once."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def overdue(self, now: float) -> str | None:
        """Why the connection should be cut now, if it should: its request head is late, or its body arrives
        slower than the minimum rate (over the time spent waiting for it, after the grace period)."""
        server = self.server
        state = self.state
        if state is _HEAD:
            if now > self.deadline:
                return f"its request head took over {server.header_timeout:g} s"
        elif state is _ANSWER and server.min_body_rate and self.input is not None:
            raw = self.input
            waited = raw.waited
            since = raw.waiting_since
            if since:
                waited += now - since
                if (waited > server.body_grace
                        and raw.received - self.mark < (waited - server.body_grace) * server.min_body_rate):
                    return f"its request body arrived slower than {server.min_body_rate} bytes a second"
        return None

    def serve(self) -> None:
        self.input = _Input(self)
        self.rfile = io.BufferedReader(self.input, READ_BUFFER)
        try:
            first = self.sock.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first == _TLS_HANDSHAKE:
                if self.server.tls is None:
                    self.linger = True
                    return
                self.rfile.close()
                self.sock = self.server.tls.wrap_socket(self.sock, server_side=True)
                self.input = _Input(self)
                self.rfile = io.BufferedReader(self.input, READ_BUFFER)
            while not self.server.closing and self._one_request():
                pass
        except OSError:
            pass
        finally:
            self._close()

    def _close(self) -> None:
        """Close the connection; with request bytes still unread, first read and drop them for a moment, so the
        reply already sent is not lost to the reset that closing over unread data causes."""
        try:
            if self.linger:
                self.sock.shutdown(socket.SHUT_WR)
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(1))
                deadline = time.monotonic() + LINGER_SECONDS
                while time.monotonic() < deadline and self.sock.recv(DRAIN_CHUNK):
                    pass
        except OSError:
            pass
        finally:
            if self.rfile is not None:
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
        raw = self.input
        assert raw is not None, "serve() made it before the first request"
        raw.waited = 0.0
        self.mark = raw.received
        self.state = _ANSWER
        stays_open = False
        try:
            stays_open = self._answer(environ, keep_alive)
            return stays_open
        finally:
            if stays_open:
                self.mark = raw.received
                self.idle_since = time.monotonic()
                self.state = _IDLE
            else:
                self.state = _CLOSING

    def _answer(self, environ: dict, keep_alive: bool) -> bool:
        body = environ["wsgi.input"]
        reply = _Reply()
        result = None
        try:
            result = self.server.app(environ, _start_response(reply))
            keep_alive = keep_alive and self._can_drain(body) and not self.server.closing
            keep_alive = self._send(environ, reply, result, keep_alive)
        except OSError:
            return False
        except HTTPException as exc:
            # Only a bare WSGI application lets its body's failure escape; Flask answers it itself.
            if not reply.sent:
                self._refuse(f"{exc.code} {exc.name}", exc.description or "the request body could not be read")
            return False
        except Exception:
            log.exception("the application failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            if not reply.sent:
                self._refuse("500 Internal Server Error", "the server failed to answer this request")
            return False
        finally:
            if result is not None and hasattr(result, "close"):
                result.close()
        if not keep_alive:
            self.linger = self.linger or not body.finished
            return False
        return self._drain(body)

    def _read_line(self, limit: int, status: str, what: str) -> bytes | None:
        """A line of the request head; None when the client closed the connection or went silent part way."""
        rfile = self.rfile
        assert rfile is not None, "serve() made it before the first request"
        line = rfile.readline(limit + 1) or b""
        if line.endswith(b"\n"):
            return line
        if len(line) > limit:
            raise _HttpError(status, f"the {what} is too long")
        return None

    def _read_head(self):
        """The WSGI environ of the next request and whether the client allows another after it; (None, False) when
        the client closed the connection or went silent before the request was whole."""
        for _ in range(5):
            line = self._read_line(MAX_LINE_BYTES, "414 URI Too Long", "request line")
            if line not in (b"\r\n", b"\n"):
                break
        if not line or line in (b"\r\n", b"\n"):
            return None, False
        request_line = _REQUEST_LINE.fullmatch(line)
        if request_line is None:
            raise _HttpError("400 Bad Request", "malformed request line")
        method, target, version = (part.decode("latin-1") for part in request_line.groups())
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _HttpError("505 HTTP Version Not Supported", "only HTTP/1.0 and HTTP/1.1 are served")
        environ = self.server.base_environ.copy()
        total = 0
        for _ in range(MAX_HEADERS + 1):
            header = self._read_line(MAX_HEADER_BYTES - total, "431 Request Header Fields Too Large", "request head")
            if header is None:
                return None, False
            total += len(header)
            if header in (b"\r\n", b"\n"):
                break
            name, colon, value = header.partition(b":")
            value = (value[:-2] if value.endswith(b"\r\n") else value[:-1]).strip(b" \t")
            if not colon or not _TOKEN.fullmatch(name) or b"\r" in value or b"\0" in value:
                raise _HttpError("400 Bad Request", "malformed header line")
            if b"_" in name:
                continue
            key = name.decode("latin-1").upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            text = value.decode("latin-1")
            if key not in environ:
                environ[key] = text
            elif key in _SINGLE_HEADERS:
                raise _HttpError("400 Bad Request", f"more than one {name.decode('latin-1')} header")
            else:
                environ[key] += "," + text
        else:
            raise _HttpError("431 Request Header Fields Too Large", "too many request headers")
        environ["REQUEST_METHOD"] = method
        environ["SERVER_PROTOCOL"] = version
        environ["REMOTE_ADDR"] = self.address[0]
        environ["REMOTE_PORT"] = str(self.address[1])
        self._set_target(environ, target)
        environ["wsgi.input"] = self._body(environ, version)
        if version == "HTTP/1.1" and "HTTP_HOST" not in environ:
            raise _HttpError("400 Bad Request", "an HTTP/1.1 request must name its Host")
        connection = environ.get("HTTP_CONNECTION", "").lower()
        keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        return environ, keep_alive

    @staticmethod
    def _set_target(environ: dict, target: str) -> None:
        environ["REQUEST_URI"] = environ["RAW_URI"] = target
        if target[:8].lower().startswith(("http://", "https://")):
            parts = urllib.parse.urlsplit(target)
            environ["HTTP_HOST"] = parts.netloc
            path, query = parts.path or "/", parts.query
        else:
            path, _, query = target.partition("?")
            if not path.startswith("/") and path != "*":
                raise _HttpError("400 Bad Request", "malformed request target")
        environ["PATH_INFO"] = (urllib.parse.unquote_to_bytes(path.encode("latin-1")).decode("latin-1")
                                if "%" in path else path)
        environ["QUERY_STRING"] = query

    def _body(self, environ: dict, version: str):
        encoding = environ.get("HTTP_TRANSFER_ENCODING")
        length = environ.get("CONTENT_LENGTH")
        send_continue = None
        if version == "HTTP/1.1" and environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            send_continue = self._send_continue
        if encoding is not None:
            if version != "HTTP/1.1":
                raise _HttpError("400 Bad Request", "Transfer-Encoding needs HTTP/1.1")
            _check_transfer_codings(encoding)
            if length is not None:
                raise _HttpError("400 Bad Request", "a request may not carry both Content-Length and Transfer-Encoding")
            return ChunkedBody(self.rfile, send_continue)
        if length is None:
            return FixedBody(self.rfile, 0)
        if not length.isdigit() or not length.isascii():
            raise _HttpError("400 Bad Request", "invalid Content-Length")
        digits = length.lstrip("0")
        if len(digits) > 18 or int(digits or "0") > MAX_BODY_BYTES:
            raise _HttpError("413 Content Too Large", f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        return FixedBody(self.rfile, int(digits or "0"), send_continue)

    def _send_continue(self) -> None:
        self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _can_drain(self, body) -> bool:
        """Whether what the application left of the body can surely be read and dropped after the reply to keep
        the connection; otherwise the reply says the connection closes. A chunked body's rest has no known size."""
        if body.finished:
            return True
        if body.broken or body.continue_pending:
            return False
        return isinstance(body, FixedBody) and body.remaining <= DRAIN_LIMIT

    def _drain(self, body) -> bool:
        """Read and drop what the application left of the body, so the next request starts where it should; False
        (and a lingering close) when that is impossible."""
        drained = 0
        try:
            while not body.finished and not body.broken and not body.continue_pending and drained <= DRAIN_LIMIT:
                drained += len(body.read(DRAIN_CHUNK))
        except HTTPException:
            pass
        if body.finished:
            return True
        # Even a client that asked for 100 Continue may have sent its body without waiting for it.
        self.linger = True
        return False

    def _send(self, environ: dict, reply: _Reply, result, keep_alive: bool) -> bool:
        """Write the reply; True when the connection stays open."""
        chunks = iter(result)
        first = b""
        fd = None
        if (reply.status is not None and isinstance(result, SendfileWrapper)
                and not isinstance(self.sock, ssl.SSLSocket)):
            try:
                fd = result.file.fileno()
            except (AttributeError, OSError, ValueError):
                fd = None
        if reply.status is None or fd is None:
            for first in chunks:
                if first:
                    break
        if reply.status is None:
            raise RuntimeError("the application returned without calling start_response")
        status = reply.status
        headers = reply.headers
        length = None
        dated = False
        connection_header = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered == "date":
                dated = True
            elif lowered == "connection":
                connection_header = True
                keep_alive = keep_alive and value.lower() != "close"
        if connection_header:
            headers = [(name, value) for name, value in headers if name.lower() != "connection"]
        lines = f"HTTP/1.1 {status}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
        if lines.count("\n") != len(headers) + 1 or lines.count("\r") != len(headers) + 1:
            log.error("%s %s: the reply's status or a header holds CR or LF; 500 sent instead",
                      environ["REQUEST_METHOD"], environ["PATH_INFO"])
            self._refuse("500 Internal Server Error", "the server failed to answer this request")
            return False
        if keep_alive and status.startswith(_REFUSAL_STATUS) and not environ["wsgi.input"].finished:
            # A refusal of a request whose body has not come: the body may never come, so the connection closes.
            keep_alive = False
        http_1_1 = environ["SERVER_PROTOCOL"] == "HTTP/1.1"
        no_body = environ["REQUEST_METHOD"] == "HEAD" or status.startswith(_NO_BODY_STATUS)
        chunked = length is None and not no_body and http_1_1
        if length is None and not no_body and not http_1_1:
            keep_alive = False
        extra = "" if dated else f"Date: {_http_date()}\r\n"
        if chunked:
            extra += "Transfer-Encoding: chunked\r\n"
        if not keep_alive:
            extra += "Connection: close\r\n"
        elif not http_1_1:
            extra += "Connection: keep-alive\r\n"
        head = (lines + extra + "\r\n").encode("latin-1")
        reply.sent = True
        if no_body:
            self.sock.sendall(head)
        elif fd is not None and length is not None:
            self.sock.sendall(head)
            self._sendfile(result.file, fd, length)
        elif chunked:
            self.sock.sendall(head + (b"%x\r\n%s\r\n" % (len(first), first) if first else b""))
            for chunk in chunks:
                if chunk:
                    self.sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.sock.sendall(b"0\r\n\r\n")
        elif length is None:
            self.sock.sendall(head + first)
            for chunk in chunks:
                self.sock.sendall(chunk)
        else:
            return self._send_sized(environ, head, first, chunks, length) and keep_alive
        return keep_alive

    def _send_sized(self, environ: dict, head: bytes, first: bytes, chunks, length: int) -> bool:
        """Send a body of declared length, cut at that length; False when the application's body was not that
        long, after logging it (the connection then closes: the client cannot tell where the reply ends)."""
        self.sock.sendall(head + first[:length])
        left = length - len(first)
        if left >= 0:
            for chunk in chunks:
                if len(chunk) > left:
                    self.sock.sendall(chunk[:left])
                    left -= len(chunk)
                    break
                if chunk:
                    self.sock.sendall(chunk)
                    left -= len(chunk)
        if left:
            log.error("%s %s: the reply body was %s than the %d bytes its Content-Length declared",
                      environ["REQUEST_METHOD"], environ["PATH_INFO"], "shorter" if left > 0 else "longer", length)
            return False
        return True

    def _sendfile(self, file, fd: int, length: int) -> None:
        """Send ``length`` bytes of ``file`` from its position; by reading it when the kernel cannot sendfile it."""
        offset = file.tell()
        while length > 0:
            try:
                sent = os.sendfile(self.sock.fileno(), fd, offset, min(length, 1 << 30))
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    raise
                file.seek(offset)
                while length > 0 and (data := file.read(min(length, DRAIN_CHUNK))):
                    self.sock.sendall(data)
                    length -= len(data)
                sent = 0
            if sent == 0 and length > 0:
                raise ConnectionError("the file ended before its declared length")
            offset += sent
            length -= sent

    def _refuse(self, status: str, message: str) -> None:
        body = message.encode()
        head = (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                f"Date: {_http_date()}\r\nConnection: close\r\n\r\n").encode("latin-1")
        self.linger = True
        try:
            self.sock.sendall(head + body)
        except OSError:
            pass


def _check_transfer_codings(encoding: str) -> None:
    """Refuse a ``Transfer-Encoding`` other than a lone ``chunked``: without chunked last the body has no end but the
    connection's (400, RFC 9112 §6.3); other codings before it are not implemented (501)."""
    codings = [coding.strip(" \t").lower() for coding in encoding.split(",")]
    codings = [coding for coding in codings if coding]
    if not codings or codings[-1] != "chunked":
        raise _HttpError("400 Bad Request", f"the last transfer coding must be chunked: {encoding!r}")
    if "chunked" in codings[:-1]:
        raise _HttpError("400 Bad Request", f"chunked may be applied only once: {encoding!r}")
    if len(codings) > 1:
        raise _HttpError("501 Not Implemented", f"unsupported Transfer-Encoding {encoding!r}")


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
    """Accepts connections and gives each a thread; at most ``max_connections`` are served at once. When all are
    taken, an idle one is closed to make room, or else the new client is answered 503."""

    def __init__(self, app, host: str, port: int, max_connections: int = 1000, idle_seconds: float = IDLE_SECONDS,
                 header_timeout: float = Config.header_timeout, min_body_rate: int = Config.min_body_rate,
                 body_grace: float = Config.body_grace):
        self.app = app
        self.idle_seconds = idle_seconds
        self.header_timeout = header_timeout
        self.min_body_rate = min_body_rate
        self.body_grace = body_grace
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.listener = socket.create_server((host, port), family=family, backlog=1024)
        self.effective_port = self.listener.getsockname()[1]
        self.base_environ: dict[str, Any] = {
            "SCRIPT_NAME": "", "SERVER_NAME": host, "SERVER_PORT": str(self.effective_port),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True, "wsgi.file_wrapper": SendfileWrapper,
        }
        self._slots = threading.BoundedSemaphore(max_connections)
        self._turning_away = threading.BoundedSemaphore(MAX_TURNED_AWAY)
        self._open: dict[Connection, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._turning_away_until = 0.0
        self.closing = False
        # An ``ssl.SSLContext`` when HTTPS is served on this port too; None: TLS handshakes are refused at once.
        self.tls: ssl.SSLContext | None = None

    def run(self) -> None:
        watcher = threading.Thread(target=self._watch, daemon=True, name="connection-deadlines")
        watcher.start()
        while not self.closing:
            try:
                if not select.select([self.listener], [], [], ACCEPT_WAKE_SECONDS)[0]:
                    continue
                sock, address = self.listener.accept()
            except (OSError, ValueError):
                if not self.closing:
                    time.sleep(0.05)
                continue
            if not self._take_slot():
                self._turn_away(sock)
                continue
            try:
                self._start(sock, address)
            except (OSError, RuntimeError):
                if not self.closing:
                    log.exception("could not serve a connection from %s", address)
                sock.close()
                self._slots.release()

    def _start(self, sock: socket.socket, address) -> None:
        timeout = _timeval(self.idle_seconds)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(self, sock, address)
        thread = threading.Thread(target=self._serve, args=(connection,), daemon=True, name=f"http-{address[1]}")
        with self._lock:
            if self.closing:
                raise RuntimeError("the server is closing")
            thread.start()
            self._open[connection] = thread

    def _serve(self, connection: Connection) -> None:
        try:
            connection.serve()
        finally:
            with self._lock:
                self._open.pop(connection, None)
            self._slots.release()

    def _take_slot(self) -> bool:
        """A connection slot for a new client: a free one, or the slot of an idle connection closed for it, or one
        freed within ``SLOT_WAIT`` (a connection whose reply just left becomes idle a moment later). While clients
        are being turned away, there is no wait, so each new client is answered at once."""
        if self._slots.acquire(blocking=False):
            return True
        now = time.monotonic()
        deadline = now if now < self._turning_away_until else now + SLOT_WAIT
        while True:
            if self._close_an_idle_connection():
                return self._slots.acquire(timeout=SLOT_WAIT)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._turning_away_until = time.monotonic() + SLOT_WAIT
                return False
            if self._slots.acquire(timeout=min(SLOT_POLL, remaining)):
                return True

    def _close_an_idle_connection(self) -> bool:
        """Close the connection idle longest between requests, so its slot serves a new client; False when every
        connection is busy."""
        with self._lock:
            idle = [connection for connection in self._open if connection.state is _IDLE]
        if not idle:
            return False
        oldest = min(idle, key=lambda connection: connection.idle_since)
        oldest.state = _CLOSING
        oldest.shutdown()
        return True

    def _turn_away(self, sock: socket.socket) -> None:
        """Answer a client no slot can take 503 and close, from a short-lived thread (a bounded number of them;
        past that, hang up)."""
        if self._turning_away.acquire(blocking=False):
            try:
                threading.Thread(target=self._answer_busy, args=(sock,), daemon=True, name="busy-reply").start()
                return
            except RuntimeError:
                self._turning_away.release()
        sock.close()

    def _answer_busy(self, sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(1))
            connection = Connection(self, sock, None)
            connection._refuse("503 Service Unavailable", "every connection this server serves at once is busy")
            connection._close()
        except OSError:
            sock.close()
        finally:
            self._turning_away.release()

    def _watch(self) -> None:
        """Cut connections whose clients are too slow: a request head past its deadline, or a body arriving slower
        than the minimum rate."""
        while not self._stopped.wait(WATCH_INTERVAL):
            now = time.monotonic()
            with self._lock:
                connections = list(self._open)
            for connection in connections:
                reason = connection.overdue(now)
                if reason:
                    log.info("closing the connection from %s: %s", connection.address[0], reason)
                    connection.shutdown()

    def close(self, grace: float = 5.0) -> None:
        """Stop accepting and end every connection: idle ones at once, those with a request in flight after its
        reply (which says the connection closes), or when ``grace`` seconds have passed."""
        with self._lock:
            self.closing = True
            open_now = list(self._open.items())
        self._stopped.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for connection, _ in open_now:
            if not connection.busy:
                connection.shutdown()
        deadline = time.monotonic() + grace
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))
        for connection, thread in open_now:
            if thread.is_alive():
                connection.shutdown()


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval`` for SO_RCVTIMEO/SO_SNDTIMEO: blocking sockets that still give up on a silent peer."""
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


def make_server(app, config: Config) -> Server:
    server = Server(app, config.host, config.port, config.max_connections, header_timeout=config.header_timeout,
                    min_body_rate=config.min_body_rate, body_grace=config.body_grace)
    if config.tls:
        from .tls import server_context

        server.tls = server_context(config)
    return server
