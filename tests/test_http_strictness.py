"""The HTTP server's strictness on raw sockets: what it refuses in a request head (duplicate headers, a malformed
request line, transfer codings), what it never sends (reply headers that would split the reply, bytes past a reply's
Content-Length), and how it keeps slow or silent clients from holding its threads (a deadline for the request head,
a minimum body rate, refusals that close instead of waiting for a body)."""

import json
import logging
import socket
import time

import pytest

from ecr_emulator import cli
from ecr_emulator.testing import running_server
from registry_client import RegistryClient
from test_http_server import connect, read_reply, serving


def echo_header(environ, start_response):
    body = json.dumps(environ.get("HTTP_X_A")).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def refuse_unread(environ, start_response):
    """Refuses every request from its head, leaving its body unread."""
    start_response("413 Content Too Large", [("Content-Length", "4")])
    return [b"nope"]


def bad_reply(environ, start_response):
    """``/header`` and ``/status`` try to split the reply with CR LF; ``/long`` gives more than its Content-Length."""
    path = environ["PATH_INFO"]
    if path == "/header":
        start_response("200 OK", [("Content-Length", "2"), ("X-A", "a\r\nSet-Cookie: injected=1")])
    elif path == "/name":
        start_response("200 OK", [("Content-Length", "2"), ("X-A\r\nSet-Cookie", "injected=1")])
    elif path == "/status":
        start_response("200 OK\r\nSet-Cookie: injected=1", [("Content-Length", "2")])
    elif path == "/long":
        start_response("200 OK", [("Content-Length", "5")])
        return [b"123", b"4567", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    else:
        start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def slow_reader(environ, start_response):
    """Reads the body only after a pause of its own, which is not the client's slowness."""
    time.sleep(1.5)
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def refused(port: int, request: bytes):
    """The reply to ``request`` and whether the server then closed the connection."""
    with connect(port) as sock:
        sock.sendall(request)
        rfile = sock.makefile("rb")
        reply = read_reply(rfile)
        return reply, rfile.read() == b""


@pytest.fixture
def server():
    with serving() as running:
        yield running


@pytest.mark.parametrize("headers", [
    b"Host: h\r\nHost: other", b"Host: h\r\nContent-Length: 0\r\nContent-Length: 1",
    b"Host: h\r\nContent-Type: text/plain\r\ncontent-type: application/json",
    b"Host: h\r\nAuthorization: Basic eDp5\r\nAuthorization: Bearer t",
])
def test_a_repeated_host_content_length_content_type_or_authorization_is_refused(server, headers):
    reply, closed = refused(server.effective_port, b"POST /a HTTP/1.1\r\n" + headers + b"\r\n\r\n")
    assert reply[0] == 400 and reply[1]["connection"] == "close" and closed


def test_repeated_content_length_headers_are_refused_even_when_they_agree(server):
    reply, closed = refused(server.effective_port,
                            b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    assert reply[0] == 400 and closed


def test_other_repeated_headers_are_joined(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 2\r\n\r\n")
        assert "HTTP_X_A" in json.loads(read_reply(sock.makefile("rb"))[2])["headers"]


def test_header_values_lose_spaces_and_tabs_at_their_ends_and_nothing_else():
    with serving(echo_header) as server, connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\nX-A: \t \x0cva l\x0b\t \r\n\r\n"
                     b"GET /a HTTP/1.1\r\nHost: h\r\nX-A:v\r\n\r\n")
        rfile = sock.makefile("rb")
        assert json.loads(read_reply(rfile)[2]) == "\x0cva l\x0b"
        assert json.loads(read_reply(rfile)[2]) == "v"


@pytest.mark.parametrize("line", [
    b"GET  /a HTTP/1.1", b"GET /a  HTTP/1.1", b"GET\t/a HTTP/1.1", b"GET /a\tHTTP/1.1", b"GET /a HTTP/1.1 ",
    b" GET /a HTTP/1.1", b"GET /a\tb HTTP/1.1", b"GET /a\x0bb HTTP/1.1", b"G(T /a HTTP/1.1", b"GET /a HTTP/1.1\r",
    b"GET /a http/1.1", b"GET /a",
])
def test_a_request_line_not_split_by_single_spaces_into_token_target_version_is_refused(server, line):
    reply, closed = refused(server.effective_port, line + b"\r\nHost: h\r\n\r\n")
    assert reply[0] == 400 and reply[1]["connection"] == "close" and closed


def test_a_request_line_with_any_token_method_and_a_bare_lf_is_served(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"M-SEARCH~1 /a HTTP/1.1\nHost: h\n\n")
        assert json.loads(read_reply(sock.makefile("rb"))[2])["method"] == "M-SEARCH~1"


@pytest.mark.parametrize("codings, status", [
    (b"gzip", 400), (b"chunked, gzip", 400), (b"identity", 400), (b"chunked, chunked", 400),
    (b"gzip, chunked", 501), (b"gzip\r\nTransfer-Encoding: chunked", 501),
])
def test_a_transfer_encoding_not_ending_in_a_lone_chunked_is_refused_and_the_connection_closed(
        server, codings, status):
    reply, closed = refused(server.effective_port, b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + codings
                            + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert reply[0] == status and reply[1]["connection"] == "close" and closed


def test_chunked_is_recognised_in_any_case_and_with_spaces_and_empty_list_elements(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , \tChunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        assert json.loads(read_reply(sock.makefile("rb"))[2])["length"] == 3


def test_a_chunk_size_past_the_server_limit_is_answered_413_before_its_data(server):
    with connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\nfffffffffffffff\r\n")
        rfile = sock.makefile("rb")
        status, headers, _ = read_reply(rfile)
        assert status == 413 and headers["connection"] == "close"
        assert rfile.read() == b""


def test_a_chunk_size_past_the_json_api_or_blob_limit_is_answered_413_before_its_data():
    with running_server("--max-body-bytes", "1024") as emulator:
        port = int(emulator.endpoint.rsplit(":", 1)[1])
        emulator.client().create_repository(repositoryName="team/app")
        registry = RegistryClient(emulator.endpoint, emulator.client())
        location = registry.request("POST", "/v2/team/app/blobs/uploads/")[1]["Location"]
        with connect(port) as sock:
            sock.sendall(f"PATCH {location} HTTP/1.1\r\nHost: h\r\nAuthorization: {registry.auth}\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nfffffffffffffff\r\n".encode())
            rfile = sock.makefile("rb")
            status, headers, _ = read_reply(rfile)
            assert status == 413 and headers["connection"] == "close" and rfile.read() == b""
        with connect(port) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-amz-json-1.1\r\n"
                         b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.CreateRepository\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n3ff\r\n")
            rfile = sock.makefile("rb")
            status, headers, body = read_reply(rfile)
            assert status == 413 and json.loads(body)["__type"] == "RequestEntityTooLargeException"
            assert headers["connection"] == "close" and rfile.read() == b""
        with connect(port) as sock:
            body = b'{"repositoryName": "fits"}'
            sock.sendall(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-amz-json-1.1\r\n"
                         b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.CreateRepository\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            assert read_reply(sock.makefile("rb"))[0] == 200


def test_a_refusal_closes_the_connection_without_waiting_for_the_body():
    with serving(refuse_unread) as server:
        reply, closed = refused(server.effective_port,
                                b"PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")
        assert reply[0] == 413 and reply[1]["connection"] == "close" and closed


def test_a_refusal_of_a_body_already_sent_reaches_the_client():
    with serving(refuse_unread) as server, connect(server.effective_port) as sock:
        sock.sendall(b"PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000)
        rfile = sock.makefile("rb")
        status, headers, body = read_reply(rfile)
        assert (status, body, headers["connection"]) == (413, b"nope", "close")
        assert rfile.read() == b""


def test_the_json_api_refusing_a_declared_length_closes_without_waiting_for_the_body():
    with running_server("--max-body-bytes", "1024") as emulator:
        port = int(emulator.endpoint.rsplit(":", 1)[1])
        reply, closed = refused(port, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-amz-json-1.1\r\n"
                                b"X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.CreateRepository\r\n"
                                b"Content-Length: 5000\r\n\r\n")
        assert reply[0] == 413 and json.loads(reply[2])["__type"] == "RequestEntityTooLargeException"
        assert reply[1]["connection"] == "close" and closed


@pytest.mark.parametrize("path", ["/header", "/name", "/status"])
def test_a_reply_header_holding_cr_or_lf_is_never_sent(path, caplog):
    with serving(bad_reply) as server, connect(server.effective_port) as sock, caplog.at_level(logging.ERROR):
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        status, headers, _ = read_reply(rfile)
        assert status == 500 and "set-cookie" not in headers and headers["connection"] == "close"
        assert rfile.read() == b""
    assert any("CR or LF" in record.getMessage() and path in record.getMessage() for record in caplog.records)


def test_a_reply_body_is_cut_at_its_content_length(caplog):
    with serving(bad_reply) as server, connect(server.effective_port) as sock, caplog.at_level(logging.ERROR):
        sock.sendall(b"GET /long HTTP/1.1\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
        rfile = sock.makefile("rb")
        assert read_reply(rfile)[2] == b"12345"
        assert rfile.read() == b""
    assert any("longer" in record.getMessage() for record in caplog.records)


def trickled_until_cut(sock: socket.socket, piece: bytes) -> bool:
    """Send ``piece`` every 0.2 s, for at most 10 s; True when the server closes the connection meanwhile."""
    sock.settimeout(0.2)
    for _ in range(50):
        try:
            sock.sendall(piece)
            return sock.recv(100) == b""
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_a_request_head_sent_too_slowly_is_cut_at_the_header_deadline():
    with serving(header_timeout=1) as server, connect(server.effective_port) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n")
        assert trickled_until_cut(sock, b"X-A: 1\r\n")


def test_a_silent_new_connection_is_cut_at_the_header_deadline():
    with serving(header_timeout=1) as server, connect(server.effective_port) as sock:
        assert sock.recv(100) == b""


def test_an_idle_keep_alive_connection_is_not_held_to_the_header_deadline(server):
    with serving(header_timeout=0.5) as server, connect(server.effective_port) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        assert read_reply(rfile)[0] == 200
        time.sleep(1.5)
        sock.sendall(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        assert json.loads(read_reply(rfile)[2])["path"] == "/b"


def test_a_body_sent_below_the_minimum_rate_is_cut():
    with serving(min_body_rate=1000, body_grace=0.5) as server, connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n")
        assert trickled_until_cut(sock, b"x" * 10)


def test_a_body_sent_at_the_minimum_rate_is_not_cut():
    with serving(min_body_rate=100, body_grace=0.5) as server, connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(5):
            time.sleep(0.2)
            sock.sendall(b"x" * 200)
        assert json.loads(read_reply(sock.makefile("rb"))[2])["length"] == 1000


def test_an_application_slow_to_read_does_not_count_against_the_client():
    with serving(slow_reader, min_body_rate=1000, body_grace=0.5) as server, connect(server.effective_port) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                     b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nde")
        rfile = sock.makefile("rb")
        assert read_reply(rfile)[2] == b"abc"
        assert read_reply(rfile)[2] == b"de"


def test_the_header_timeout_and_minimum_body_rate_are_flags_and_variables(monkeypatch, capsys):
    config = cli.parse_args(["--header-timeout", "2.5", "--min-body-rate", "0"])
    assert (config.header_timeout, config.min_body_rate) == (2.5, 0)
    monkeypatch.setenv("ECR_EMULATOR_HEADER_TIMEOUT", "7")
    monkeypatch.setenv("ECR_EMULATOR_MIN_BODY_RATE", "100")
    config = cli.parse_args([])
    assert (config.header_timeout, config.min_body_rate) == (7.0, 100)
    for env, flags, named in [({"ECR_EMULATOR_HEADER_TIMEOUT": "soon"}, [], "ECR_EMULATOR_HEADER_TIMEOUT"),
                              ({}, ["--header-timeout", "0"], "--header-timeout"),
                              ({}, ["--header-timeout", "inf"], "--header-timeout"),
                              ({"ECR_EMULATOR_MIN_BODY_RATE": "1.5"}, [], "ECR_EMULATOR_MIN_BODY_RATE"),
                              ({}, ["--min-body-rate", "-1"], "--min-body-rate")]:
        monkeypatch.delenv("ECR_EMULATOR_HEADER_TIMEOUT")
        monkeypatch.delenv("ECR_EMULATOR_MIN_BODY_RATE")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ECR_EMULATOR_HEADER_TIMEOUT", env.get("ECR_EMULATOR_HEADER_TIMEOUT", "30"))
        monkeypatch.setenv("ECR_EMULATOR_MIN_BODY_RATE", env.get("ECR_EMULATOR_MIN_BODY_RATE", "500"))
        with pytest.raises(SystemExit):
            cli.parse_args(flags)
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert named in error and "Traceback" not in error


def test_the_emulator_cuts_a_silent_client_at_its_header_timeout():
    with running_server("--header-timeout", "1") as emulator:
        port = int(emulator.endpoint.rsplit(":", 1)[1])
        with connect(port) as sock:
            sock.sendall(b"GET /_emulator/health HTTP/1.1\r\n")
            assert sock.makefile("rb").read() == b""
