"""The HTTP/1.1 server (``server/http_server.py``) on raw sockets: framing of request and reply bodies, keep-alive,
refusals of malformed requests, the TLS hang-up, idle and connection limits, and shutdown. Most tests run the server
in-process around a small WSGI app that reports what it received; the last ones go through the emulator itself."""

import contextlib
import errno
import hashlib
import io
import json
import pathlib
import socket
import tempfile
import threading
import time

import pytest

from ecr_emulator.server import http_server as http_serving
from ecr_emulator.server.http_server import Server
from registry_client import RegistryClient

BIG_REPLY = 256 * 1024 * 1024
FILE_BYTES = bytes(range(256)) * 64
FILE_PATH = pathlib.Path(tempfile.mkdtemp(prefix="http-server-test-")) / "blob"
FILE_PATH.write_bytes(FILE_BYTES)


def report(environ, start_response):
    """Echoes what the server handed over; ``/ignore`` leaves the body unread, ``/stream`` replies without a
    length, ``/big`` replies with ``BIG_REPLY`` bytes, ``/lazy`` reads the body while its reply is sent,
    ``/wrapped`` replies with a file wrapper around a file with no descriptor, ``/file`` with one around a real file,
    ``/short`` with fewer bytes than its Content-Length, ``/broken`` fails."""
    path = environ["PATH_INFO"]
    if path == "/broken":
        raise RuntimeError("broken on purpose")
    if path == "/lazy":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (environ["wsgi.input"].read() for _ in range(1))
    if path == "/big":
        start_response("200 OK", [("Content-Length", str(BIG_REPLY))])
        return (b"z" * (1024 * 1024) for _ in range(BIG_REPLY // (1024 * 1024)))
    if path == "/short":
        start_response("200 OK", [("Content-Length", "10")])
        return [b"12345"]
    if path == "/file":
        start_response("200 OK", [("Content-Length", str(len(FILE_BYTES)))])
        return environ["wsgi.file_wrapper"](open(FILE_PATH, "rb"))
    if path == "/wrapped":
        start_response("200 OK", [("Content-Length", "5")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"hello"))
    body = b"" if path == "/ignore" else environ["wsgi.input"].read()
    reply = json.dumps({
        "method": environ["REQUEST_METHOD"], "path": path, "query": environ["QUERY_STRING"],
        "host": environ.get("HTTP_HOST"),
        "length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
        "headers": sorted(key for key in environ if key.startswith("HTTP_")),
    }).encode()
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/json")])
        return iter([reply[:10], b"", reply[10:]])
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(reply)))])
    return [reply]


@contextlib.contextmanager
def serving(app=report, **kwargs):
    server = Server(app, "127.0.0.1", 0, **kwargs)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close(grace=2)
        thread.join(5)
        assert not thread.is_alive()


@pytest.fixture
def server():
    with serving() as running:
        yield running


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_reply(rfile, method: str = "GET"):
    """(status, headers, body) of the next reply on ``rfile``; None when the server closed the connection."""
    line = rfile.readline()
    if not line:
        return None
    status = int(line.split()[1])
    headers = {}
    while (header := rfile.readline()) not in (b"\r\n", b""):
        name, _, value = header.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if method == "HEAD" or status in (100, 204, 304):
        return status, headers, b""
    if "content-length" in headers:
        return status, headers, rfile.read(int(headers["content-length"]))
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while (size := int(rfile.readline().strip(), 16)):
            body += rfile.read(size)
            assert rfile.readline() == b"\r\n"
        assert rfile.readline() == b"\r\n"
        return status, headers, body
    return status, headers, rfile.read()


def test_requests_on_one_connection_are_answered_in_order(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
                     b"POST /b%20c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                     b"GET /d HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        replies = [json.loads(read_reply(rfile)[2]) for _ in range(3)]
    assert [(r["method"], r["path"], r["query"], r["length"]) for r in replies] == [
        ("GET", "/a", "x=1", 0), ("POST", "/b c", "", 5), ("GET", "/d", "", 0)]
    assert replies[1]["sha256"] == hashlib.sha256(b"hello").hexdigest()


def test_a_chunked_request_body_is_decoded_with_extensions_and_trailers(server):
    data = bytes(range(256)) * 1000
    pieces = [data[i:i + 70000] for i in range(0, len(data), 70000)]
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: t\r\n\r\n"
    with connect(server.effective_port) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        sock.sendall(b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        first = json.loads(read_reply(rfile)[2])
        second = json.loads(read_reply(rfile)[2])
    assert first["length"] == len(data) and first["sha256"] == hashlib.sha256(data).hexdigest()
    assert second["path"] == "/after"


def test_expect_100_continue_gets_the_interim_reply_before_the_body_is_sent(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        rfile = sock.makefile("rb")
        assert read_reply(rfile)[0] == 100
        sock.sendall(b"abc")
        status, _, body = read_reply(rfile)
    assert status == 200 and json.loads(body)["length"] == 3


def test_a_body_the_application_leaves_unread_is_dropped_and_the_connection_goes_on(server):
    big = b"x" * (5 * 1024 * 1024)
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        assert json.loads(read_reply(rfile)[2])["length"] == 0
        assert json.loads(read_reply(rfile)[2])["path"] == "/next"


def test_a_reply_without_a_length_is_chunked_for_http_1_1_and_close_delimited_for_http_1_0(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
        status, headers, body = read_reply(sock.makefile("rb"))
    assert headers["transfer-encoding"] == "chunked" and json.loads(body)["path"] == "/stream"
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        status, headers, body = read_reply(sock.makefile("rb"))
    assert "transfer-encoding" not in headers and headers["connection"] == "close"
    assert json.loads(body)["path"] == "/stream"


def test_http_1_0_and_connection_close_end_the_connection_after_the_reply(server):
    for request in (b"GET /a HTTP/1.0\r\n\r\n", b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"):
        with connect(server.effective_port) as sock:
            sock.sendall(request)
            rfile = sock.makefile("rb")
            status, headers, _ = read_reply(rfile)
            assert status == 200 and headers["connection"] == "close"
            assert rfile.read() == b""


def test_head_replies_carry_the_length_but_no_body(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        status, headers, _ = read_reply(rfile, "HEAD")
        assert status == 200 and int(headers["content-length"]) > 0
        assert json.loads(read_reply(rfile)[2])["path"] == "/b"


def test_header_names_with_underscores_never_reach_the_application(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\nX_Forged: 1\r\nX-Real: 2\r\n\r\n")
        headers = json.loads(read_reply(sock.makefile("rb"))[2])["headers"]
    assert "HTTP_X_REAL" in headers and "HTTP_X_FORGED" not in headers


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /a HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET /a HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431),
    (b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    (b"POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST /a HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", 413),
    (b"GET a HTTP/1.1\r\n\r\n", 400),
    (b"GET /a HTTP/1.1\r\n\r\n", 400),
    (b"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400),
    (b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1" + b"0" * 5000 + b"\r\n\r\n", 413),
])
def test_malformed_requests_are_refused_and_the_connection_closed(server, request_bytes, status):
    with connect(server.effective_port) as sock:
        sock.sendall(request_bytes)
        rfile = sock.makefile("rb")
        reply = read_reply(rfile)
        assert reply is not None and reply[0] == status and reply[1]["connection"] == "close"
        assert rfile.read() == b""


def test_an_application_failure_is_a_500_and_the_server_goes_on(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /broken HTTP/1.1\r\nHost: h\r\n\r\n")
        assert read_reply(sock.makefile("rb"))[0] == 500
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        assert read_reply(sock.makefile("rb"))[0] == 200


def test_a_tls_client_hello_is_hung_up_on_at_once(server):
    with connect(server.effective_port) as sock:
        started = time.monotonic()
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)
        assert sock.recv(100) == b""
        assert time.monotonic() - started < 2


def test_an_idle_connection_is_closed_after_the_idle_time():
    with serving(idle_seconds=0.3) as server, connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        assert read_reply(rfile)[0] == 200
        started = time.monotonic()
        assert rfile.read() == b""
        assert 0.2 < time.monotonic() - started < 5


def test_when_every_slot_is_taken_an_idle_connection_is_closed_to_serve_a_new_client():
    with serving(max_connections=1) as server, connect(server.effective_port) as idle:
        idle.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        idle_file = idle.makefile("rb")
        assert read_reply(idle_file)[0] == 200
        with connect(server.effective_port) as second:
            second.sendall(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
            assert json.loads(read_reply(second.makefile("rb"))[2])["path"] == "/b"
        assert idle_file.read() == b""


def test_when_every_slot_is_busy_a_new_client_is_answered_503_and_the_busy_one_goes_on():
    with serving(max_connections=1) as server, connect(server.effective_port) as busy:
        busy.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabc")
        time.sleep(0.2)
        with connect(server.effective_port) as second:
            second.sendall(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
            rfile = second.makefile("rb")
            status, headers, _ = read_reply(rfile)
            assert status == 503 and headers["connection"] == "close"
            assert rfile.read() == b""
        busy.sendall(b"def")
        assert json.loads(read_reply(busy.makefile("rb"))[2])["length"] == 6


def test_the_connection_limit_is_the_command_line_flag():
    from ecr_emulator import cli
    from ecr_emulator.testing import running_server

    assert cli.parse_args([]).max_connections == 1000
    with pytest.raises(SystemExit):
        cli.parse_args(["--max-connections", "0"])
    with running_server("--max-connections", "1") as emulator:
        port = int(emulator.endpoint.rsplit(":", 1)[1])
        with connect(port) as busy, connect(port) as second:
            busy.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
                         b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeRepositories\r\n\r\n{")
            time.sleep(0.2)
            second.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: h\r\n\r\n")
            assert read_reply(second.makefile("rb"))[0] == 503


def test_a_body_sent_without_waiting_for_100_continue_still_gets_the_reply(server):
    body = b"x" * (80 * 1024 * 1024)
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                     % len(body) + body)
        status, headers, _ = read_reply(sock.makefile("rb"))
    assert status == 200 and headers["connection"] == "close"


def test_an_unread_chunked_body_makes_the_reply_close_the_connection(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        rfile = sock.makefile("rb")
        status, headers, _ = read_reply(rfile)
        assert status == 200 and headers["connection"] == "close"
        assert rfile.read() == b""


def test_a_connection_whose_thread_cannot_start_is_dropped_and_close_still_works(monkeypatch):
    real_start = threading.Thread.start
    failures = []

    def start_failing_once(thread):
        if thread.name.startswith("http-") and not failures:
            failures.append(thread.name)
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_failing_once)
    with serving() as server:
        with connect(server.effective_port) as refused:
            refused.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
            try:
                assert refused.recv(100) == b""
            except ConnectionResetError:
                pass
        with connect(server.effective_port) as sock:
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
            assert read_reply(sock.makefile("rb"))[0] == 200
    assert failures


def test_close_lets_a_request_in_flight_finish_and_its_reply_closes_the_connection():
    with serving() as server, connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n" + b"a" * 1000)
        time.sleep(0.2)
        closer = threading.Thread(target=server.close, kwargs={"grace": 5})
        closer.start()
        for _ in range(2):
            time.sleep(0.2)
            sock.sendall(b"a" * 1000)
        rfile = sock.makefile("rb")
        status, headers, body = read_reply(rfile)
        closer.join(5)
        assert status == 200 and json.loads(body)["length"] == 3000 and headers["connection"] == "close"
        assert rfile.read() == b""


def test_close_ends_a_reply_the_client_does_not_read_once_the_grace_has_passed():
    with serving() as server, connect(server.effective_port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        time.sleep(0.3)
        started = time.monotonic()
        server.close(grace=0.5)
        received = 0
        try:
            while data := sock.recv(1024 * 1024):
                received += len(data)
        except ConnectionResetError:
            pass
        assert received < BIG_REPLY and time.monotonic() - started < 5


@pytest.mark.skipif(not socket.has_ipv6, reason="this machine has no IPv6")
def test_an_ipv6_address_is_served():
    try:
        server = Server(report, "::1", 0)
    except OSError as exc:
        pytest.skip(f"IPv6 loopback is unavailable here: {exc}")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("::1", server.effective_port), timeout=10) as sock:
            sock.sendall(b"GET /v6 HTTP/1.1\r\nHost: h\r\n\r\n")
            assert json.loads(read_reply(sock.makefile("rb"))[2])["path"] == "/v6"
    finally:
        server.close(grace=2)
        thread.join(5)


def test_close_ends_idle_connections_and_stops_accepting():
    server = Server(report, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        assert read_reply(rfile)[0] == 200
        server.close(grace=2)
        thread.join(5)
        assert not thread.is_alive()
        assert rfile.read() == b""
    with pytest.raises(OSError):
        connect(server.effective_port).close()


def test_a_body_broken_by_its_chunked_framing_ends_the_connection(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n0\r\n\r\n"
                     b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        status, headers, _ = read_reply(rfile)
        assert status == 400 and headers["connection"] == "close"
        assert rfile.read() == b""


def test_a_client_silent_mid_body_gets_a_4xx_and_the_connection_closes():
    with serving(idle_seconds=0.3) as server, connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        rfile = sock.makefile("rb")
        status, headers, _ = read_reply(rfile)
        assert status == 400 and headers["connection"] == "close"
        assert rfile.read() == b""


def test_a_client_silent_mid_head_is_closed_without_a_reply():
    with serving(idle_seconds=0.3) as server, connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n")
        assert sock.makefile("rb").read() == b""


def test_a_body_left_unread_gets_no_100_continue_and_a_large_one_closes_the_connection(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
        rfile = sock.makefile("rb")
        status, headers, _ = read_reply(rfile)
        assert status == 200 and headers["connection"] == "close"
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000\r\n\r\n" + b"x" * 1000)
        status, headers, _ = read_reply(sock.makefile("rb"))
        assert status == 200 and headers["connection"] == "close"


def test_http_1_0_gets_no_100_continue_and_keeps_alive_when_asked(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\r\n"
                     b"abcGET /b HTTP/1.0\r\n\r\n")
        rfile = sock.makefile("rb")
        status, headers, body = read_reply(rfile)
        assert status == 200 and json.loads(body)["length"] == 3 and headers["connection"] == "keep-alive"
        assert json.loads(read_reply(rfile)[2])["path"] == "/b"


def test_an_application_may_read_the_body_while_its_reply_is_sent(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /lazy HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        assert read_reply(sock.makefile("rb"))[2] == b"abc"


def test_a_file_wrapper_around_a_file_without_a_descriptor_is_sent_by_reading_it(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /wrapped HTTP/1.1\r\nHost: h\r\n\r\n")
        assert read_reply(sock.makefile("rb"))[2] == b"hello"


def test_a_file_is_sent_whole_with_sendfile_and_by_reading_where_the_kernel_refuses(server, monkeypatch):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /file HTTP/1.1\r\nHost: h\r\n\r\n")
        assert read_reply(sock.makefile("rb"))[2] == FILE_BYTES

    def refuse(*args):
        raise OSError(errno.EINVAL, "sendfile is not supported here")

    monkeypatch.setattr(http_serving.os, "sendfile", refuse)
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /file HTTP/1.1\r\nHost: h\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        assert read_reply(rfile)[2] == FILE_BYTES
        assert json.loads(read_reply(rfile)[2])["path"] == "/a"


def test_a_reply_shorter_than_its_content_length_ends_the_connection(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /short HTTP/1.1\r\nHost: h\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        assert rfile.readline().startswith(b"HTTP/1.1 200")
        assert rfile.read().endswith(b"12345")


@pytest.mark.parametrize("target, path, query, host", [
    (b"/caf\xc3\xa9%20x", "/caf\xc3\xa9 x", "", "h"),
    (b"http://other:81?x=1", "/", "x=1", "other:81"),
    (b"http://other/a/b?c=d/e", "/a/b", "c=d/e", "other"),
])
def test_request_targets_become_path_info_query_and_host(server, target, path, query, host):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n")
        reply = json.loads(read_reply(sock.makefile("rb"))[2])
    assert (reply["path"], reply["query"], reply["host"]) == (path, query, host)


def test_content_length_with_leading_zeros_is_its_value(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: " + b"0" * 5000 + b"3\r\n\r\nabc")
        assert json.loads(read_reply(sock.makefile("rb"))[2])["length"] == 3


# Through the emulator.

def test_a_chunked_blob_upload_with_expect_continue_is_stored_and_served_with_ranges(ecr_emulator, ecr):
    ecr.create_repository(repositoryName="team/app")
    reg = RegistryClient(ecr_emulator.endpoint, ecr)
    data = bytes(range(256)) * 4096
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 100000]), data[i:i + 100000])
                       for i in range(0, len(data), 100000)) + b"0\r\n\r\n"
    port = int(ecr_emulator.endpoint.rsplit(":", 1)[1])
    with connect(port) as sock:
        sock.sendall(f"POST /v2/team/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: h\r\n"
                     f"Authorization: {reg.auth}\r\nTransfer-Encoding: chunked\r\n"
                     "Expect: 100-continue\r\n\r\n".encode())
        rfile = sock.makefile("rb")
        assert read_reply(rfile)[0] == 100
        sock.sendall(chunked)
        status, headers, _ = read_reply(rfile)
    assert status == 201 and headers["docker-content-digest"] == digest
    status, headers, body = reg.request("GET", f"/v2/team/app/blobs/{digest}")
    assert status == 200 and body == data
    status, headers, body = reg.request("GET", f"/v2/team/app/blobs/{digest}", headers={"Range": "bytes=1000-1999"})
    assert status == 206 and body == data[1000:2000]


def test_a_client_that_hangs_up_mid_chunk_leaves_the_upload_as_it_was(ecr_emulator, ecr):
    ecr.create_repository(repositoryName="team/app")
    reg = RegistryClient(ecr_emulator.endpoint, ecr)
    _, headers, _ = reg.request("POST", "/v2/team/app/blobs/uploads/")
    location = headers["Location"]
    assert reg.request("PATCH", location, body=b"hello ")[1]["Range"] == "0-5"
    port = int(ecr_emulator.endpoint.rsplit(":", 1)[1])
    with connect(port) as sock:
        sock.sendall(f"PATCH {location} HTTP/1.1\r\nHost: h\r\nAuthorization: {reg.auth}\r\n"
                     f"Content-Length: 1000000\r\n\r\n".encode() + b"y" * 5000)
    status, headers, _ = reg.request("PATCH", location, body=b"world", headers={"Content-Range": "6-10"})
    assert status == 202 and headers["Range"] == "0-10"
    digest = "sha256:" + hashlib.sha256(b"hello world").hexdigest()
    assert reg.request("PUT", f"{location}?digest={digest}")[0] == 201
    assert reg.request("GET", f"/v2/team/app/blobs/{digest}")[2] == b"hello world"


def test_a_json_api_body_that_breaks_chunked_framing_is_a_serialization_error(ecr_emulator):
    port = int(ecr_emulator.endpoint.rsplit(":", 1)[1])
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeRepositories\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        rfile = sock.makefile("rb")
        status, headers, body = read_reply(rfile)
        assert status == 400 and json.loads(body)["__type"] == "SerializationException"
        assert headers["connection"] == "close" and rfile.read() == b""


def test_sigterm_delivered_to_a_worker_thread_still_stops_the_server():
    """The kernel may hand a process signal to any thread, but only the main thread runs Python's handler; the
    accept loop must wake to run it instead of waiting for the next connection."""
    import ctypes
    import os
    import platform
    import signal

    from ecr_emulator.testing import running_server

    tgkill = {"x86_64": 234, "aarch64": 131}.get(platform.machine())
    if tgkill is None:
        pytest.skip(f"no tgkill(2) number known for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    with running_server() as server:
        server.client().describe_repositories()
        pid = server.process.pid
        workers = [int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid]
        assert workers, "the server runs more than its main thread"
        assert libc.syscall(tgkill, pid, workers[0], signal.SIGTERM) == 0, ctypes.get_errno()
        server.process.wait(timeout=5)
        assert server.process.returncode == 0
