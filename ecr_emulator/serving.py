"""The HTTP/1.1 server: a thread per connection that reads a request, runs the WSGI application and writes the reply.

Why not a general-purpose server: on the shared control-plane harness (``benchmarks/http_server.py``), waitress's
event loop and its hand-off of every request to a worker thread cost over 200 µs more server CPU per request than
this server, a third of what the Flask floor app spends in all. A connection that owns its thread reads, runs and
writes with no hand-off and no loop in between.

What the registry needs from its server:

- Clients told a registry is insecure (skopeo ``--tls-verify=false``, podman, containerd) first try HTTPS and fall
  back to HTTP only when the handshake fails; a connection whose first byte is a TLS handshake record is closed at
  once instead of waiting out the client's handshake timeout, unless HTTPS is served too (``--tls``): then the
  connection is wrapped in TLS (certificates from ``tls``) and served like any other, without ``sendfile``.
- Request bodies are streamed to the application (``wsgi.input`` reads the socket, see ``request_bodies``), so a
  blob upload is hashed and written as it arrives and a body over an API's limit is refused before it is read.
  What the application leaves unread is read and dropped after the reply (up to ``DRAIN_LIMIT``), so the connection
  stays usable.
- Whole-blob downloads leave through ``os.sendfile`` (``wsgi.file_wrapper``), never through Python buffers; range
  replies go through werkzeug's range wrapper in Python.
"""

import errno
import logging
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate

from werkzeug.exceptions import BadRequest
from werkzeug.wsgi import FileWrapper

from .config import Config
from .request_bodies import MAX_BODY_BYTES, ChunkedBody, FixedBody

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
IDLE_SECONDS = 300
READ_BUFFER = 64 * 1024
DRAIN_CHUNK = 1024 * 1024
# The most of an unread body read and dropped to keep its connection; past it the connection is closed instead.
DRAIN_LIMIT = 64 * 1024 * 1024
# How long a connection closed with request bytes unread still reads and drops them, so the client can read the
# reply before the close resets the connection.
LINGER_SECONDS = 2.0
_TLS_HANDSHAKE = b"\x16"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NO_BODY_STATUS = ("1", "204", "304")


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
        self.rfile = None
        self.linger = False
        self.busy = False

    def shutdown(self) -> None:
        """End the connection from another thread: its blocked reads and writes return at once."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def serve(self) -> None:
        self.rfile = self.sock.makefile("rb", READ_BUFFER)
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
                self.rfile = self.sock.makefile("rb", READ_BUFFER)
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
        self.busy = True
        try:
            return self._answer(environ, keep_alive)
        finally:
            self.busy = False

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
        except BadRequest as exc:
            # Only a bare WSGI application lets its body's failure escape; Flask answers it itself.
            if not reply.sent:
                self._refuse("400 Bad Request", exc.description or "the request body could not be read")
            return False
        except Exception:
            log.exception("the application failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            if not reply.sent:
                self._refuse("500 Internal Server Error", "the server failed to answer this request")
            return False
        finally:
            if hasattr(result, "close"):
                result.close()
        return self._drain(body) and keep_alive

    def _read_line(self, limit: int, status: str, what: str) -> bytes | None:
        """A line of the request head; None when the client closed the connection or went silent part way."""
        line = self.rfile.readline(limit + 1) or b""
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
        parts = line.split()
        if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
            raise _HttpError("400 Bad Request", "malformed request line")
        method, target, version = (part.decode("latin-1") for part in parts)
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
            value = value.strip()
            if not colon or not _TOKEN.fullmatch(name) or b"\r" in value or b"\0" in value:
                raise _HttpError("400 Bad Request", "malformed header line")
            if b"_" in name:
                continue
            key = name.decode("latin-1").upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            value = value.decode("latin-1")
            if key not in environ:
                environ[key] = value
            elif key == "CONTENT_LENGTH":
                if environ[key] != value:
                    raise _HttpError("400 Bad Request", "conflicting Content-Length headers")
            else:
                environ[key] += "," + value
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
            if encoding.strip().lower() != "chunked":
                raise _HttpError("501 Not Implemented", f"unsupported Transfer-Encoding {encoding!r}")
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
        except BadRequest:
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
        http_1_1 = environ["SERVER_PROTOCOL"] == "HTTP/1.1"
        no_body = environ["REQUEST_METHOD"] == "HEAD" or reply.status.startswith(_NO_BODY_STATUS)
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
        head = (f"HTTP/1.1 {reply.status}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
                + extra + "\r\n").encode("latin-1")
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
        else:
            self.sock.sendall(head + first)
            sent = len(first)
            for chunk in chunks:
                self.sock.sendall(chunk)
                sent += len(chunk)
            if length is not None and sent != length:
                log.error("%s %s: the reply body had %d bytes, not the %d its Content-Length declared",
                          environ["REQUEST_METHOD"], environ["PATH_INFO"], sent, length)
                return False
        return keep_alive

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
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.listener = socket.create_server((host, port), family=family, backlog=1024)
        self.effective_port = self.listener.getsockname()[1]
        self.base_environ = {
            "SCRIPT_NAME": "", "SERVER_NAME": host, "SERVER_PORT": str(self.effective_port),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True, "wsgi.file_wrapper": SendfileWrapper,
        }
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: dict[Connection, threading.Thread] = {}
        self._lock = threading.Lock()
        self.closing = False
        # An ``ssl.SSLContext`` when HTTPS is served on this port too; None: TLS handshakes are refused at once.
        self.tls = None

    def run(self) -> None:
        while not self.closing:
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                sock, address = self.listener.accept()
            except OSError:
                self._slots.release()
                if not self.closing:
                    time.sleep(0.05)
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

    def close(self, grace: float = 5.0) -> None:
        """Stop accepting and end every connection: idle ones at once, those with a request in flight after its
        reply (which says the connection closes), or when ``grace`` seconds have passed."""
        with self._lock:
            self.closing = True
            open_now = list(self._open.items())
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
    server = Server(app, config.host, config.port, config.max_connections)
    if config.tls:
        from .tls import server_context

        server.tls = server_context(config)
    return server
