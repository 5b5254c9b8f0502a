"""``wsgi.input`` for the HTTP server: request bodies read from the connection as the application asks for them.

A body sends ``100 Continue`` on its first read when the client asked for it, so a request the application refuses
unread never makes the client send its body. The first failed read (the client hung up or went silent, or broke
chunked framing) marks the body broken: the connection cannot be read any further and is closed after the reply.

A chunked body is refused (``BodyTooLarge``, a 413) as soon as a chunk's size line would take it past its limit,
before any of that chunk is read: ``MAX_BODY_BYTES`` for every request, or less where the application knows its
own (``limit_to``; the JSON API lowers it to ``--max-body-bytes``). A declared length is checked by the server and
the application from the head.
"""

import abc
import re

from werkzeug.exceptions import BadRequest, ClientDisconnected, RequestEntityTooLarge

# ECR's largest layer is 52,000 MiB.
MAX_BODY_BYTES = 64 * 1024 ** 3
MAX_LINE_BYTES = 64 * 1024
MAX_TRAILERS = 100
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")


class MalformedBody(BadRequest):
    """A chunked body that breaks its framing."""


class BodyTooLarge(RequestEntityTooLarge):
    """A chunked body whose chunk sizes pass its limit."""


class _Body(abc.ABC):
    def __init__(self, rfile, send_continue=None):
        self._rfile = rfile
        self._send_continue = send_continue
        self.broken = False

    @property
    def continue_pending(self) -> bool:
        """The client waits for ``100 Continue`` before it sends the body, and has not had it."""
        return self._send_continue is not None

    def _before_read(self) -> None:
        if self.broken:
            raise ClientDisconnected("the request body can no longer be read")
        if self._send_continue is not None:
            send, self._send_continue = self._send_continue, None
            send()

    def _read_exactly(self, size: int) -> bytes:
        # A buffered socket reader returns None, not bytes, when the socket's receive timeout expires.
        data = self._rfile.read(size) or b""
        if len(data) < size:
            self.broken = True
            raise ClientDisconnected("the client stopped sending before the end of the request body")
        return data

    def _malformed(self, message: str) -> MalformedBody:
        self.broken = True
        return MalformedBody(message)

    @abc.abstractmethod
    def readline(self, size: int | None = -1) -> bytes:
        """One line of the body (at most ``size`` bytes); each kind of body frames its lines its own way."""

    def __iter__(self):
        while line := self.readline():
            yield line


class FixedBody(_Body):
    """A body of declared length."""

    def __init__(self, rfile, length: int, send_continue=None):
        super().__init__(rfile, send_continue if length else None)
        self.remaining = length

    @property
    def finished(self) -> bool:
        return self.remaining == 0

    def _take(self, size: int | None, reader) -> bytes:
        """``reader`` applied to at most what remains of the body (all of it when ``size`` is None or negative)."""
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        if size == 0:
            return b""
        self._before_read()
        data = reader(size)
        self.remaining -= len(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._take(size, self._read_exactly)

    def readline(self, size: int | None = -1) -> bytes:
        return self._take(size, self._read_line)

    def _read_line(self, size: int) -> bytes:
        data = self._rfile.readline(size) or b""
        if not data:
            self.broken = True
            raise ClientDisconnected("the client stopped sending before the end of the request body")
        return data


class ChunkedBody(_Body):
    """A ``Transfer-Encoding: chunked`` body, decoded as it is read; at most ``MAX_BODY_BYTES`` in all."""

    def __init__(self, rfile, send_continue=None):
        super().__init__(rfile, send_continue)
        self._left = 0
        self._limit = MAX_BODY_BYTES
        self._allowance = MAX_BODY_BYTES
        self.finished = False

    def limit_to(self, max_bytes: int) -> None:
        """Lower the body's limit to ``max_bytes``: a chunk size that would pass it is refused before it is read."""
        if max_bytes < self._limit:
            self._allowance -= self._limit - max_bytes
            self._limit = max_bytes

    def _line(self) -> bytes:
        line = self._rfile.readline(MAX_LINE_BYTES) or b""
        if not line.endswith(b"\n"):
            self.broken = True
            if len(line) < MAX_LINE_BYTES:
                raise ClientDisconnected("the client stopped sending inside a chunked body")
            raise self._malformed("a line of the chunked body is too long")
        return line

    def _next_chunk(self) -> None:
        size_text = self._line().split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise self._malformed("invalid chunk size in a chunked body")
        size = int(size_text, 16)
        if size > self._allowance:
            self.broken = True
            raise BodyTooLarge(f"the chunked body exceeds the limit of {self._limit} bytes")
        self._allowance -= size
        if size:
            self._left = size
            return
        for _ in range(MAX_TRAILERS):
            if self._line() in (b"\r\n", b"\n"):
                self.finished = True
                return
        raise self._malformed("too many trailer lines after a chunked body")

    def read(self, size: int | None = -1) -> bytes:
        if size is None:
            size = -1
        whole = size < 0
        if self.finished or size == 0:
            return b""
        self._before_read()
        pieces = []
        while not self.finished and (whole or size > 0):
            if self._left == 0:
                self._next_chunk()
                continue
            want = self._left if whole else min(self._left, size)
            pieces.append(self._read_exactly(want))
            self._left -= want
            if not whole:
                size -= want
            if self._left == 0 and self._read_exactly(2) != b"\r\n":
                raise self._malformed("a chunk does not end with CRLF")
        return b"".join(pieces)

    def readline(self, size: int | None = -1) -> bytes:
        """Lines are not a unit of chunked framing; reading them byte by byte is slow, and nothing here does it."""
        line = bytearray()
        while size is None or size < 0 or len(line) < size:
            byte = self.read(1)
            line += byte
            if not byte or byte == b"\n":
                break
        return bytes(line)
